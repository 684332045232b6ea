// `labelrep stats FILE.npy ...`: the paper's Table 2 statistics of label files.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/labels/statistics.hpp"

namespace labelrep::cli {
namespace {
const char* to_text(labels::Normalization n) { return n == labels::Normalization::kPerLabel ? "per-label" : "global"; }
const char* to_text(labels::L1Norm n) { return n == labels::L1Norm::kMatrix ? "matrix" : "elementwise"; }
const char* to_text(labels::L2Norm n) { return n == labels::L2Norm::kFrobenius ? "frobenius" : "spectral"; }
}  // namespace

void add_stats_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> files;
    std::string normalize = "per-label", l1 = "matrix", l2 = "frobenius", preset;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("stats", "Entropy and pairwise L1/L2 distances of label files (the paper's Table 2)");
  cmd->add_option("files", args->files, "Label files (.npy, [classes, ...])")->required();
  auto* normalize = cmd->add_option("--normalize", args->normalize, "Scale to [0,1] per label or over the whole set")
                        ->check(CLI::IsMember({"per-label", "global"}))->capture_default_str();
  auto* l1 = cmd->add_option("--l1", args->l1, "L1 distance: element-wise sum or induced matrix 1-norm")
                 ->check(CLI::IsMember({"elementwise", "matrix"}))->capture_default_str();
  auto* l2 = cmd->add_option("--l2", args->l2, "L2 distance: Frobenius or spectral norm")
                 ->check(CLI::IsMember({"frobenius", "spectral"}))->capture_default_str();
  cmd->add_option("--preset", args->preset, "paper: the paper's convention for each file's label kind "
                                            "(explicit --normalize/--l1/--l2 still win)")
      ->check(CLI::IsMember({"paper"}));
  cmd->add_flag("--json", args->json, "Print one JSON object per file, one per line");
  cmd->callback([args, normalize, l1, l2] {
    // The table's header goes out with its first row, so a first file that cannot be read prints only its error.
    bool header_written = args->json;
    for (const auto& file : args->files) {
      const labels::FileLabels labels(file);
      const std::string kind = labels::label_kind_of_file(file);
      labels::StatisticsOptions options;
      if (!args->preset.empty()) options = labels::paper_statistics_options(kind);
      if (normalize->count() > 0 || args->preset.empty())
        options.normalization = args->normalize == "global" ? labels::Normalization::kGlobal : labels::Normalization::kPerLabel;
      if (l1->count() > 0 || args->preset.empty())
        options.l1 = args->l1 == "elementwise" ? labels::L1Norm::kElementwise : labels::L1Norm::kMatrix;
      if (l2->count() > 0 || args->preset.empty())
        options.l2 = args->l2 == "spectral" ? labels::L2Norm::kSpectral : labels::L2Norm::kFrobenius;
      const auto stats = [&] {
        try {
          return labels::label_statistics(labels.matrix(), options);
        } catch (const InvalidArgument& e) {  // e.g. a single class: say which file
          throw InvalidArgument(fmt::format("{}: {}", file, error_reason(e)));
        }
      }();
      if (args->json) {
        nlohmann::json j;
        j["file"] = file;
        j["kind"] = kind;
        j["classes"] = stats.classes;
        j["shape"] = stats.label_shape;
        j["convention"] = {{"normalize", to_text(options.normalization)}, {"l1", to_text(options.l1)}, {"l2", to_text(options.l2)}};
        j["entropy"] = {{"mean", stats.entropy.mean}, {"std", stats.entropy.std}};
        j["l1"] = {{"mean", stats.l1.mean}, {"std", stats.l1.std}};
        j["l2"] = {{"mean", stats.l2.mean}, {"std", stats.l2.std}};
        std::cout << j.dump() << "\n";
      } else {
        if (!header_written)
          std::cout << fmt::format("{:<40} {:>7} {:>10} {:>18} {:>18} {:>18}  {}\n", "file", "classes", "kind", "entropy", "L1",
                                   "L2", "convention");
        header_written = true;
        std::cout << fmt::format("{:<40} {:>7} {:>10} {:>8.2f} ± {:<7.2f} {:>8.2f} ± {:<7.2f} {:>8.2f} ± {:<7.2f}  {}/{}/{}\n", file,
                                 stats.classes, kind, stats.entropy.mean, stats.entropy.std, stats.l1.mean, stats.l1.std,
                                 stats.l2.mean, stats.l2.std, to_text(options.normalization), to_text(options.l1),
                                 to_text(options.l2));
      }
    }
  });
}

}  // namespace labelrep::cli
