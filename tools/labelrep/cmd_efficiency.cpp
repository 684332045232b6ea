// `labelrep efficiency`: the data-efficiency study (the paper's Figure 4): label kinds × data levels ×
// seeds, each a run directory under OUT/runs (finished runs are read, interrupted ones resume), then the
// mean ± std per point, OUT/efficiency.json and the report in OUT/report.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/report/grid.hpp"
#include "labelrep/report/report.hpp"

namespace labelrep::cli {

void add_efficiency_command(CLI::App& app) {
  auto config = std::make_shared<train::ExperimentConfig>();
  auto labels = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"category", "speech"});
  auto levels = std::make_shared<std::vector<double>>(std::vector<double>{1, 2, 4, 8, 10, 20});
  auto seeds = std::make_shared<std::int64_t>(3);
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("efficiency", "Data-efficiency grid: labels x data levels x seeds, mean and std per point, and a report");
  cmd->add_option("--labels", *labels, "Label kinds or .npy files, comma-separated")->delimiter(',')->capture_default_str();
  cmd->add_option("--levels", *levels, "Data levels in percent, comma-separated")->delimiter(',')->capture_default_str();
  cmd->add_option("--seeds", *seeds, "Seeds per point (seed, seed+1, ...)")->capture_default_str();
  add_experiment_options(*cmd, *config);
  cmd->remove_option(cmd->get_option("--level"));  // the grid sets each run's level
  cmd->add_option("--out", *out, "Output directory (runs/, efficiency.json, report/)")->required();
  cmd->callback([=] {
    const std::string runs = (std::filesystem::path(*out) / "runs").string();
    const auto grid = report::data_efficiency_grid(*config, *labels, *levels, *seeds, runs);
    std::vector<train::ExperimentResult> results;
    for (std::size_t i = 0; i < grid.size(); ++i) {
      const auto& c = grid[i];
      std::cout << fmt::format("[{}/{}] {} labels, level {:g}%, seed {}\n", i + 1, grid.size(), c.label, c.level, c.seed) << std::flush;
      results.push_back(train::run_experiment(c));
      print_experiment_result(results.back());
    }
    const auto points = report::summarize_grid(grid, results);
    std::cout << fmt::format("\n{:<12} {:>8} {:>6} {:>20} {:>20}\n", "labels", "level %", "runs", "test accuracy %", "threshold accuracy %");
    for (const auto& p : points)
      std::cout << fmt::format("{:<12} {:>8g} {:>6} {:>12.2f} ± {:<5.2f} {:>20}\n", p.label, p.level, p.runs, 100 * p.mean, 100 * p.std,
                               p.has_threshold ? fmt::format("{:.2f} ± {:.2f}", 100 * p.threshold_mean, 100 * p.threshold_std) : "–");
    const std::string summary = (std::filesystem::path(*out) / "efficiency.json").string();
    write_file_atomically(summary, report::grid_summary_json(points));
    report::ReportOptions options;
    options.title = fmt::format("labelrep: data efficiency on {} ({})", config->dataset, config->encoder);
    const std::string report_dir = (std::filesystem::path(*out) / "report").string();
    report::write_report(runs, report_dir, options);
    std::cout << "summary: " << summary << "\nreport: " << report_dir << "/index.html (and report.md)\n";
  });
}

}  // namespace labelrep::cli
