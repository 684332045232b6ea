// labelrep: the command-line program. Errors are printed as one line, without a stack trace, and
// the exit code says what kind of failure it was (1: labelrep error, 2: bad command line, 3: other).
#include <c10/util/Exception.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>

#include <string>
#include <vector>

#include "commands.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/version.hpp"

namespace {

// CLI11 converts an empty string to 0 for a number: `--eps ""` would sweep ε = 0 alone and
// `--weight-decay ""` train without weight decay. It also wraps a negative value given to an unsigned
// option (`--seed -1` became 18446744073709551615, then a puzzling "below 2^32" error). Every numeric
// option of every command refuses both, naming the option.
void refuse_malformed_numbers(CLI::App& app) {
  for (CLI::Option* option : app.get_options([](CLI::Option*) { return true; })) {
    if (option->get_type_size() == 0) continue;  // a flag
    const std::string type = option->get_type_name();
    const bool is_unsigned = type.rfind("UINT", 0) == 0;
    if (type.rfind("INT", 0) == 0 || is_unsigned || type.rfind("FLOAT", 0) == 0)
      option->check(CLI::Validator(
          [is_unsigned](std::string& value) {
            if (value.empty()) return std::string("an empty value is not a number");
            if (is_unsigned && value.find('-') != std::string::npos)
              return "must not be negative, got " + value;
            return std::string();
          },
          "", "WELL_FORMED_NUMBER"));
  }
  for (CLI::App* command : app.get_subcommands([](CLI::App*) { return true; })) refuse_malformed_numbers(*command);
}

// With a required subcommand, CLI11 answers `labelrep nope` with "A subcommand is required", which hides
// the typo. An unknown first word is named, with the commands there are.
bool is_unknown_command(CLI::App& app, const char* word) {
  if (word[0] == '-') return false;  // an option such as --help or --version
  std::string commands;
  for (CLI::App* command : app.get_subcommands([](CLI::App*) { return true; })) {
    if (command->check_name(word)) return false;
    commands += (commands.empty() ? "" : ", ") + command->get_name();
  }
  std::fprintf(stderr, "labelrep: unknown command '%s'; the commands are %s (see labelrep --help)\n", word,
               commands.c_str());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) would otherwise kill the program in the middle of a save; ignored, the
  // write fails with EFBIG and the save reports an IoError, leaving the previous file intact.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"labelrep: image classification with label representations beyond categorical labels\n"
               "(Chen et al., ICLR 2021). Run `labelrep demo` for the demo experiment.",
               "labelrep"};
  app.set_version_flag("--version", labelrep::version());
  app.require_subcommand(1);
  labelrep::cli::add_labels_command(app);
  labelrep::cli::add_stats_command(app);
  labelrep::cli::add_demo_command(app);
  labelrep::cli::add_info_command(app);
  labelrep::cli::add_speak_command(app);
  labelrep::cli::add_data_command(app);
  labelrep::cli::add_train_command(app);
  labelrep::cli::add_report_command(app);
  labelrep::cli::add_efficiency_command(app);
  labelrep::cli::add_tsne_command(app);
  labelrep::cli::add_gradcam_command(app);
  labelrep::cli::add_attack_command(app);
  labelrep::cli::add_radius_command(app);
  labelrep::cli::add_evaluate_command(app);
  labelrep::cli::add_sweep_command(app);
  refuse_malformed_numbers(app);
  // `labelrep help [COMMAND]`, as git and cargo have it: the same as `labelrep [COMMAND] --help`.
  std::vector<std::string> words(argv + 1, argv + argc);
  if (!words.empty() && words[0] == "help") {
    words.erase(words.begin());
    words.push_back("--help");
  }
  if (!words.empty() && is_unknown_command(app, words[0].c_str())) return 2;
  std::reverse(words.begin(), words.end());  // CLI11 takes the arguments last first
  try {
    app.parse(words);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const labelrep::InvalidArgument& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const labelrep::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "labelrep: libtorch error: %s\n", e.what_without_backtrace());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "labelrep: unexpected error: %s\n", e.what());
    return 3;
  }
  return 0;
}
