// `labelrep sweep plan|run|summary GRID.json`: experiment grids (datasets × encoders × labels × levels ×
// seeds) with stable run ids, run by shards with no coordinator: every machine gets the same grid and
// its --shard i/N, finished runs are skipped and interrupted ones resume (report/grid.hpp).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/dist/process_group.hpp"
#include "labelrep/report/grid.hpp"

namespace labelrep::cli {
namespace {

// Relative data directories and label files of a grid are relative to the grid file, so that every
// shard, started from any directory, reads the same files; each run's config.json then holds them absolute.
std::string resolve_path(const std::string& path, const std::string& grid_file) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return std::filesystem::absolute(std::filesystem::path(grid_file).parent_path() / path).lexically_normal().string();
}

// A label ending in .npy is a file (train/experiment.hpp); other labels are kinds.
std::string resolve_label(const std::string& label, const std::string& grid_file) {
  return std::filesystem::path(label).extension() == ".npy" ? resolve_path(label, grid_file) : label;
}

std::vector<report::PlannedRun> load_plan(const std::string& grid_file, const std::string& out) {
  auto grid = report::GridSpec::from_json(read_file(grid_file, 1 << 24), grid_file);
  grid.base.data_dir = resolve_path(grid.base.data_dir, grid_file);
  for (auto& [dataset, dir] : grid.data_dirs) dir = resolve_path(dir, grid_file);
  grid.base.label = resolve_label(grid.base.label, grid_file);
  for (auto& label : grid.labels) label = resolve_label(label, grid_file);
  grid.runs_dir = (std::filesystem::path(out) / "runs").string();
  return report::expand_grid(grid);
}

// finished (result.json), started (a checkpoint), or new; looked up without creating anything.
std::string run_status(const report::PlannedRun& run) {
  const std::filesystem::path dir(run.config.out);
  if (std::filesystem::exists(dir / "result.json")) return "finished";
  if (std::filesystem::exists(dir / "last.ckpt")) return "started";
  return "new";
}

// What `sweep plan --check` found for one run: empty for a run that would start, else why it would not.
struct RunCheck {
  std::string problem;
  train::ExperimentInputs inputs;
};

// Checks every run as train::check_experiment_inputs does. Runs that differ only in their seed read the
// same files and make the same labels, so each such group is checked once, unless a run's directory
// holds a run already: that one is checked on its own (it must be the same experiment).
std::vector<RunCheck> check_runs(const std::vector<report::PlannedRun>& runs) {
  std::vector<RunCheck> checks;
  std::map<std::string, RunCheck> by_setting;
  for (const auto& run : runs) {
    auto setting = nlohmann::json::parse(run.config.to_json());
    setting.erase("seed");
    setting.erase("out");
    const auto key = setting.dump();
    std::error_code unreadable;  // a directory that cannot be looked into is checked as a new run
    const bool has_run = std::filesystem::exists(std::filesystem::path(run.config.out) / "config.json", unreadable);
    if (!has_run)
      if (const auto known = by_setting.find(key); known != by_setting.end()) {
        checks.push_back(known->second);
        continue;
      }
    RunCheck check;
    try {
      check.inputs = train::check_experiment_inputs(run.config);
    } catch (const Error& e) {
      check.problem = error_reason(e);
    }
    if (!has_run) by_setting.emplace(key, check);
    checks.push_back(check);
  }
  return checks;
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto* sweep = app.add_subcommand("sweep", "Experiment grids: plan, run a shard (no coordinator), summarise");
  sweep->require_subcommand(1);

  struct Args {
    std::string grid, out = "sweep", shard = "0/1", device, json_out;
    std::int64_t shards = 1;
    int threads = -1;
    bool json = false, check = false;
  };
  auto args = std::make_shared<Args>();

  auto* plan = sweep->add_subcommand("plan", "List the grid's runs: id, shard and status");
  plan->add_option("grid", args->grid, "Grid file (JSON; see docs/scaling.md)")->required();
  plan->add_option("--out", args->out, "Sweep directory (runs in OUT/runs/<id>)")->capture_default_str();
  plan->add_option("--shards", args->shards, "Show each run's shard for this many shards")->capture_default_str()->check(CLI::Range(1, 1000000));
  plan->add_flag("--json", args->json, "Print JSON: [{id, shard, status, config, check?}]");
  plan->add_flag("--check", args->check,
                 "Also check each run on this machine as `train --check` does (dataset and label files, labels, model, an existing "
                 "run directory); exit 1 if any would fail");
  plan->callback([args] {
    const auto runs = load_plan(args->grid, args->out);
    const auto checks = args->check ? check_runs(runs) : std::vector<RunCheck>();
    std::vector<std::string> failing;
    for (std::size_t i = 0; i < checks.size(); ++i)
      if (!checks[i].problem.empty()) failing.push_back(runs[i].id);
    if (args->json) {
      nlohmann::json j = nlohmann::json::array();
      for (std::size_t i = 0; i < runs.size(); ++i) {
        nlohmann::json row = {{"id", runs[i].id}, {"shard", static_cast<std::int64_t>(i) % args->shards}, {"status", run_status(runs[i])},
                              {"config", nlohmann::json::parse(runs[i].config.to_json())}};
        if (args->check) {
          const auto& c = checks[i];
          row["check"] = c.problem.empty() ? nlohmann::json{{"ok", true},
                                                            {"train_images", c.inputs.train_images},
                                                            {"validation_images", c.inputs.validation_images},
                                                            {"test_images", c.inputs.test_images},
                                                            {"label_shape", c.inputs.label_shape},
                                                            {"parameters", c.inputs.parameters}}
                                           : nlohmann::json{{"ok", false}, {"error", c.problem}};
        }
        j.push_back(row);
      }
      std::cout << j.dump(2) << "\n";
    } else {
      std::size_t finished = 0;
      for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto status = run_status(runs[i]);
        finished += status == "finished";
        std::cout << fmt::format("{:<60} shard {}/{}  {:<8}", runs[i].id, static_cast<std::int64_t>(i) % args->shards, args->shards, status);
        if (args->check) {
          const auto& c = checks[i];
          std::cout << (c.problem.empty() ? fmt::format("  ok: {} training images, labels {}", c.inputs.train_images, fmt::join(c.inputs.label_shape, "×"))
                                          : "  would fail: " + c.problem);
        }
        std::cout << "\n";
      }
      std::cout << fmt::format("{} runs, {} finished{}\n", runs.size(), finished,
                               args->check ? fmt::format(", {} would fail on this machine", failing.size()) : "");
    }
    if (!failing.empty())
      throw Error(fmt::format("sweep plan --check: {} of {} runs would fail: {}", failing.size(), runs.size(), fmt::join(failing, ", ")));
  });

  auto* run = sweep->add_subcommand("run", "Run this shard's runs (finished ones are skipped, interrupted ones resume)");
  run->add_option("grid", args->grid, "Grid file (JSON)")->required();
  run->add_option("--out", args->out, "Sweep directory (runs in OUT/runs/<id>)")->capture_default_str();
  run->add_option("--shard", args->shard, "i/N: run the runs at positions i, i+N, i+2N, ... of the plan")->capture_default_str();
  run->add_option("--device", args->device, "Override the grid's device (cpu, cuda, cuda:N)");
  run->add_option("--threads", args->threads, "Override the grid's intra-op CPU threads (0: all)")->check(CLI::Range(0, 1024));
  run->callback([args] {
    // Each shard is one process; ranks of a torchrun group would all run the same shard at once.
    if (dist::environment_requests_distributed())
      throw InvalidArgument("sweep run: WORLD_SIZE > 1 is set, but a sweep shard is one process: start one `sweep run --shard i/N` per "
                            "process instead (docs/scaling.md)");
    auto runs = report::select_shard(load_plan(args->grid, args->out), report::Shard::parse(args->shard));
    std::vector<std::string> failed;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      auto& c = runs[i].config;
      if (!args->device.empty()) c.device = args->device;
      if (args->threads >= 0) c.threads = args->threads;
      std::cout << fmt::format("[{}/{} of shard {}] {}\n", i + 1, runs.size(), args->shard, runs[i].id) << std::flush;
      // One failed run (a missing dataset on this machine, a diverged loss) does not stop the others.
      try {
        print_experiment_result(train::run_experiment(c));
      } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        failed.push_back(runs[i].id);
      }
    }
    if (!failed.empty())
      throw Error(fmt::format("sweep: {} of {} runs of shard {} failed: {}", failed.size(), runs.size(), args->shard, fmt::join(failed, ", ")));
  });

  auto* summary = sweep->add_subcommand("summary", "Mean and std over seeds of the finished runs; writes OUT/summary.json");
  summary->add_option("grid", args->grid, "Grid file (JSON)")->required();
  summary->add_option("--out", args->out, "Sweep directory (runs in OUT/runs/<id>)")->capture_default_str();
  summary->callback([args] {
    const auto runs = load_plan(args->grid, args->out);
    std::vector<train::ExperimentConfig> configs;
    std::vector<train::ExperimentResult> results;
    std::vector<std::string> missing;
    for (const auto& r : runs) {
      if (run_status(r) != "finished") {
        missing.push_back(r.id);
        continue;
      }
      configs.push_back(r.config);
      results.push_back(train::read_experiment_result(r.config.out));
    }
    const auto points = report::summarize_grid(configs, results);
    std::cout << fmt::format("{:<14} {:<10} {:<12} {:>8} {:>5} {:>18} {:>20}\n", "dataset", "encoder", "labels", "level %", "runs", "test accuracy %",
                             "threshold accuracy %");
    for (const auto& p : points)
      std::cout << fmt::format("{:<14} {:<10} {:<12} {:>8g} {:>5} {:>10.2f} ± {:<5.2f} {:>20}\n", p.dataset, p.encoder, p.label, p.level, p.runs,
                               100 * p.mean, 100 * p.std,
                               p.has_threshold ? fmt::format("{:.2f} ± {:.2f}", 100 * p.threshold_mean, 100 * p.threshold_std) : "–");
    const std::string file = (std::filesystem::path(args->out) / "summary.json").string();
    write_file_atomically(file, report::grid_summary_json(points));
    std::cout << fmt::format("{} of {} runs finished{}\nsummary: {}\nreport: labelrep report {} --out {}\n", results.size(), runs.size(),
                             missing.empty() ? "" : fmt::format(" (missing: {})", fmt::join(missing, ", ")), file,
                             (std::filesystem::path(args->out) / "runs").string(), (std::filesystem::path(args->out) / "report").string());
  });
}

}  // namespace labelrep::cli
