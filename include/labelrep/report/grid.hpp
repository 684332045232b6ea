#pragma once
/// \file grid.hpp  Experiment grids: datasets × encoders × label kinds × data levels × seeds as run
/// configurations with stable ids and run directories, shards of a grid for machines that share no
/// coordinator, and the summary (mean ± std over seeds per point). The data-efficiency study is the
/// grid of one dataset and encoder.
///
/// Example (what `labelrep sweep run GRID.json --out OUT --shard 1/4` does):
/// \code
///   auto grid = labelrep::report::GridSpec::from_json(labelrep::read_file("grid.json"), "grid.json");
///   grid.runs_dir = "OUT/runs";
///   for (const auto& run : labelrep::report::select_shard(labelrep::report::expand_grid(grid), labelrep::report::Shard::parse("1/4")))
///     labelrep::train::run_experiment(run.config);  // a finished run is only read, an interrupted one resumes
/// \endcode
///
/// Example (what `labelrep efficiency` does):
/// \code
///   auto configs = labelrep::report::data_efficiency_grid(base, {"category", "speech"}, {1, 2, 4, 8, 10, 20}, 3, "eff/runs");
///   std::vector<labelrep::train::ExperimentResult> results;
///   for (const auto& c : configs) results.push_back(labelrep::train::run_experiment(c));  // finished runs are only read
///   auto rows = labelrep::report::summarize_grid(configs, results);
/// \endcode

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "labelrep/export.hpp"
#include "labelrep/train/experiment.hpp"

namespace labelrep::report {

/// A grid of runs: every combination of the axes, each other setting from `base`.
struct LABELREP_API GridSpec {
  train::ExperimentConfig base;        ///< everything the axes do not set (base.out is not used)
  std::vector<std::string> datasets;   ///< default: base.dataset
  std::vector<std::string> encoders;   ///< default: base.encoder
  std::vector<std::string> labels;     ///< label kinds or .npy files; default: base.label
  std::vector<double> levels;          ///< data levels in percent; default: base.level
  std::vector<std::uint64_t> seeds;    ///< default: base.seed
  std::map<std::string, std::string> data_dirs;  ///< dataset → its directory (else base.data_dir)
  std::string runs_dir;                ///< the run directories go to runs_dir/<id>

  /// Reads a grid file: {"base": {experiment fields}, "datasets": [...], "encoders": [...], "labels":
  /// [...], "levels": [...], "seeds": [...] or a count n (base.seed .. base.seed+n-1), "data_dirs":
  /// {dataset: dir}}; every key is optional ("base" too: ExperimentConfig's defaults). Leaves runs_dir
  /// empty. Throws FormatError naming `source` for malformed JSON, unknown fields, wrong types, seeds
  /// that are not non-negative integers, a seed count outside [1, 1000], or "out" in base.
  static GridSpec from_json(const std::string& json, const std::string& source);
};

/// One run of a grid: its stable id (also its directory name under runs_dir) and configuration.
struct LABELREP_API PlannedRun {
  std::string id;
  train::ExperimentConfig config;
};

/// A label as it appears in run directory names: a kind (`speech`), or a label file's name without
/// directory and extension (`/data/cifar10_speech.npy` → `cifar10_speech`).
LABELREP_API std::string label_tag(const std::string& label);

/// The id of a run: `<dataset>-<encoder>-<label>-level<level>-seed<seed>`, where a label file
/// contributes its file name without extension. It depends only on these five values, so it stays the
/// same when a grid grows.
LABELREP_API std::string run_id(const train::ExperimentConfig& config);

/// Every run of the grid, nested dataset, encoder, label, level, seed (the last varies fastest); an
/// empty axis takes the base configuration's value. Throws InvalidArgument for an empty runs_dir, a level outside (0, 100], a run whose
/// configuration is invalid, or two runs with the same id (a repeated value, two label files with
/// the same name).
LABELREP_API std::vector<PlannedRun> expand_grid(const GridSpec& grid);

/// Shard `index` of `count` (0-based): the runs whose position in the plan is index modulo count, so
/// N machines given the same grid and shards 0/N … N-1/N run every run exactly once.
struct LABELREP_API Shard {
  std::int64_t index = 0;
  std::int64_t count = 1;
  /// Parses "i/N" with 0 <= i < N (a Slurm array: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT).
  /// Throws InvalidArgument naming the text otherwise.
  static Shard parse(const std::string& text);
};
LABELREP_API std::vector<PlannedRun> select_shard(const std::vector<PlannedRun>& plan, const Shard& shard);

/// One configuration per (label, level, seed), in that nesting order, copied from `base` with label,
/// level, seed and out set; out is `runs_dir/<dataset>-<encoder>-<label>-level<level>-seed<seed>`
/// (a label file contributes its file name without extension). The seeds are base.seed, base.seed+1, …
/// Throws InvalidArgument for empty labels or levels, a level outside (0, 100], seeds outside [1, 1000],
/// an empty runs_dir, a configuration validate() refuses, or two labels that would share run directories.
LABELREP_API std::vector<train::ExperimentConfig> data_efficiency_grid(const train::ExperimentConfig& base, const std::vector<std::string>& labels,
                                                                       const std::vector<double>& levels, std::int64_t seeds,
                                                                       const std::string& runs_dir);

/// Test accuracy of one (dataset, encoder, label, level) point over its seeds (population std; 0 for one seed).
struct LABELREP_API GridPoint {
  std::string dataset, encoder;
  std::string label;
  double level = 0;
  std::int64_t runs = 0;
  double mean = 0, std = 0;
  bool has_threshold = false;
  double threshold_mean = 0, threshold_std = 0;
};

/// Groups results by (dataset, encoder, label, level) in the order the points first appear. Requires configs and
/// results of the same length, paired by position; throws InvalidArgument otherwise.
LABELREP_API std::vector<GridPoint> summarize_grid(const std::vector<train::ExperimentConfig>& configs,
                                                   const std::vector<train::ExperimentResult>& results);

/// The summary as a JSON array of objects {dataset, encoder, label, level, runs, accuracy: {mean, std},
/// threshold_accuracy?}. Throws InvalidArgument if a name in it is not valid UTF-8.
LABELREP_API std::string grid_summary_json(const std::vector<GridPoint>& points);

}  // namespace labelrep::report
