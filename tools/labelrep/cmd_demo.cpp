// `labelrep demo`: the main job. Trains a classifier on Fashion-MNIST twice with the same seed and
// encoder — once regressing speech labels (composite Gaussians where text-to-speech is not built in),
// once with categorical labels — evaluates both on the test set and writes a report.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "labelrep/audio/waveform.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/report/report.hpp"

namespace labelrep::cli {

void add_demo_command(CLI::App& app) {
  auto config = std::make_shared<train::ExperimentConfig>();
  config->encoder = "small-cnn";
  config->epochs = 4;
  auto out = std::make_shared<std::string>("labelrep-demo");
  auto label = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("demo", "The demo experiment: speech vs categorical labels on Fashion-MNIST, with a report");
  cmd->add_option("--out", *out, "Output directory (runs/ and report/ inside)")->capture_default_str();
  cmd->add_option("--label", *label, "The high-dimensional label (default: speech if text-to-speech is built in, else composite)");
  add_experiment_options(*cmd, *config);
  cmd->callback([config, out, label] {
    // label_kinds() lists speech in every build (it can come from WAV files); text needs espeak-ng.
    const bool has_speech = audio::has_text_to_speech();
    const std::string high = !label->empty() ? *label : has_speech ? "speech" : "composite";
    const std::string runs = (std::filesystem::path(*out) / "runs").string();
    std::vector<train::ExperimentResult> results;
    for (const std::string kind : {high, std::string("category")}) {
      auto c = *config;
      c.label = kind;
      c.out = (std::filesystem::path(runs) / fmt::format("{}-{}-seed{}", c.dataset, kind, c.seed)).string();
      std::cout << fmt::format("training {} with {} labels ({} epochs on {})...\n", c.encoder, kind, c.epochs, c.dataset) << std::flush;
      results.push_back(train::run_experiment(c));
      print_experiment_result(results.back());
    }
    std::cout << fmt::format("\n{:<12} {:>14} {:>20}\n", "labels", "test accuracy", "threshold accuracy");
    for (const auto& r : results)
      std::cout << fmt::format("{:<12} {:>13.2f}% {:>19}\n", r.label_kind, 100 * r.test_accuracy,
                               r.has_threshold ? fmt::format("{:.2f}%", 100 * r.test_threshold_accuracy) : "–");
    report::ReportOptions options;
    options.title = "labelrep demo: speech vs categorical labels on " + config->dataset;
    const std::string report_dir = (std::filesystem::path(*out) / "report").string();
    report::write_report(runs, report_dir, options);
    std::cout << "report: " << report_dir << "/index.html (and report.md)\n";
  });
}

}  // namespace labelrep::cli
