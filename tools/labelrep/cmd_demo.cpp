// `labelrep demo`: the main job. For now (training lands with the models issue) it builds the label
// zoo for Fashion-MNIST, draws every set, measures the paper's Table 2 statistics and writes a report.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/label_image.hpp"
#include "labelrep/labels/statistics.hpp"

namespace labelrep::cli {

void add_demo_command(CLI::App& app) {
  auto out = std::make_shared<std::string>("labelrep-demo");
  auto* cmd = app.add_subcommand("demo", "The demo experiment on Fashion-MNIST: label zoo, pictures, statistics, report");
  cmd->add_option("--out", *out, "Output directory")->capture_default_str();
  cmd->callback([out] {
    const auto names = dataset_class_names("fashion-mnist");
    std::filesystem::create_directories(*out);
    std::ostringstream report;
    report << "# labelrep demo: label representations for Fashion-MNIST\n\n"
           << "Each label kind assigns every class a fixed target. Statistics follow the paper's Table 2 "
              "conventions (`--preset paper`).\n\n"
           << "| kind | label shape | entropy (bits) | L1 distance | L2 distance | picture |\n"
           << "|---|---|---|---|---|---|\n";
    std::cout << fmt::format("{:<10} {:>10} {:>16} {:>16} {:>16}\n", "kind", "shape", "entropy", "L1", "L2");
    for (const auto& kind : labels::label_kinds()) {
      labels::LabelSpec spec;
      spec.kind = kind;
      spec.class_names = names;
      const auto set = labels::make_labels(spec);
      const std::string dir = (std::filesystem::path(*out) / kind).string();
      std::filesystem::create_directories(dir);
      set->save((std::filesystem::path(dir) / (kind + ".npy")).string());
      labels::write_label_images(*set, dir);
      const auto stats = labels::label_statistics(set->matrix(), labels::paper_statistics_options(kind));
      std::string shape;
      for (auto d : set->label_shape()) shape += (shape.empty() ? "" : "x") + std::to_string(d);
      std::cout << fmt::format("{:<10} {:>10} {:>7.2f} ± {:<6.2f} {:>7.2f} ± {:<6.2f} {:>7.2f} ± {:<6.2f}\n", kind, shape,
                               stats.entropy.mean, stats.entropy.std, stats.l1.mean, stats.l1.std, stats.l2.mean, stats.l2.std);
      report << fmt::format("| {} | {} | {:.2f} ± {:.2f} | {:.2f} ± {:.2f} | {:.2f} ± {:.2f} | ![{}]({}/labels.png) |\n", kind,
                            shape, stats.entropy.mean, stats.entropy.std, stats.l1.mean, stats.l1.std, stats.l2.mean,
                            stats.l2.std, kind, kind);
    }
    const std::string report_path = (std::filesystem::path(*out) / "report.md").string();
    write_file_atomically(report_path, report.str());
    std::cout << "report: " << report_path << "\n";
  });
}

}  // namespace labelrep::cli
