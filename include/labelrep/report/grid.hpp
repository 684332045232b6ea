#pragma once
/// \file grid.hpp  Experiment grids: the data-efficiency study (label kinds × data levels × seeds) as
/// run configurations with stable run directories, and its summary (mean ± std per label and level).
///
/// Example (what `labelrep efficiency` does):
/// \code
///   auto configs = labelrep::report::data_efficiency_grid(base, {"category", "speech"}, {1, 2, 4, 8, 10, 20}, 3, "eff/runs");
///   std::vector<labelrep::train::ExperimentResult> results;
///   for (const auto& c : configs) results.push_back(labelrep::train::run_experiment(c));  // finished runs are only read
///   auto rows = labelrep::report::summarize_grid(configs, results);
/// \endcode

#include <cstdint>
#include <string>
#include <vector>

#include "labelrep/export.hpp"
#include "labelrep/train/experiment.hpp"

namespace labelrep::report {

/// One configuration per (label, level, seed), in that nesting order, copied from `base` with label,
/// level, seed and out set; out is `runs_dir/<dataset>-<encoder>-<label>-level<level>-seed<seed>`
/// (a label file contributes its file name without extension). The seeds are base.seed, base.seed+1, …
/// Throws InvalidArgument for empty labels or levels, a level outside (0, 100], seeds < 1, or two labels
/// that would share run directories.
LABELREP_API std::vector<train::ExperimentConfig> data_efficiency_grid(const train::ExperimentConfig& base, const std::vector<std::string>& labels,
                                                                       const std::vector<double>& levels, std::int64_t seeds,
                                                                       const std::string& runs_dir);

/// Test accuracy of one (label, level) point over its seeds (population std; 0 for one seed).
struct LABELREP_API GridPoint {
  std::string label;
  double level = 0;
  std::int64_t runs = 0;
  double mean = 0, std = 0;
  bool has_threshold = false;
  double threshold_mean = 0, threshold_std = 0;
};

/// Groups results by (label, level) in the order the points first appear. Requires configs and
/// results of the same length, paired by position; throws InvalidArgument otherwise.
LABELREP_API std::vector<GridPoint> summarize_grid(const std::vector<train::ExperimentConfig>& configs,
                                                   const std::vector<train::ExperimentResult>& results);

/// The summary as a JSON array of objects {label, level, runs, accuracy: {mean, std}, threshold_accuracy?}.
LABELREP_API std::string grid_summary_json(const std::vector<GridPoint>& points);

}  // namespace labelrep::report
