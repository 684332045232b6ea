#pragma once
/// \file report.hpp  Turning run directories into a report a researcher would put in a paper.
///
/// write_report() finds every finished run (a directory with result.json) under a root, groups runs
/// that differ only in their seed, and writes `index.html` (self-contained: figures are inline SVG and
/// embedded PNG, so it renders offline from a single file) and `report.md` (with the figures beside it):
/// the accuracy table in the form of the paper's Table 1 (nearest-label and threshold accuracy, mean ±
/// std over seeds), the label statistics of Table 2 for every label used, the label pictures
/// (Figure 1), validation curves, accuracy against data level when runs have several levels
/// (Figure 4), accuracy under attack (Figure 3: nearest-label accuracy dotted, threshold accuracy solid,
/// per attack, with a table of the numbers) from the runs' robustness sweeps, the t-SNE and Grad-CAM
/// figures found in the runs, and every run's configuration.
///
/// What a run directory may hold besides the training files, and where the report looks for it:
///   - `attack*.json`: sweeps written by `labelrep attack --run RUN` (default `RUN/attack.json`);
///   - `radius*.json`: each image's robust radius, written by `labelrep radius --run RUN` (default
///     `RUN/radius.json`, the radii in `RUN/radius.npy`);
///   - `figures/`: SVG and PNG figures, e.g. `labelrep tsne --run RUN` (`figures/tsne.svg`,
///     `figures/tsne_progression.svg`) and `labelrep gradcam --run RUN` (`figures/gradcam/*.png`).

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "labelrep/export.hpp"

namespace labelrep::report {

/// A finished run as read from its directory.
struct LABELREP_API RunRecord {
  std::string directory;
  std::string config_json;   ///< the run's configuration (from result.json)
  std::string result_json;   ///< result.json
  std::vector<std::pair<double, double>> validation_curve;  ///< (epoch, validation accuracy) from metrics.csv
  std::vector<std::string> attack_files;  ///< the run's `attack*.json` sweeps, in name order
  std::vector<std::string> radius_files;  ///< the run's `radius*.json` robust radii (labelrep radius), in name order
  std::vector<std::string> figure_files;  ///< SVG and PNG files under the run's `figures/`, in path order
  std::vector<std::string> faithfulness_files;  ///< the run's `figures/gradcam_faithfulness*.json` (ROAD checks), in name order
};

/// Finished runs under `root` (root itself, or directories up to 3 levels below), in path order.
/// Unfinished runs are skipped. Throws IoError if root does not exist or a folder below it cannot be
/// read (naming it), FormatError for a malformed result.json (naming it). Attack, radius and ROAD files are only listed here; write_report
/// reads them.
LABELREP_API std::vector<RunRecord> find_runs(const std::string& root);

struct LABELREP_API ReportOptions {
  std::string title = "labelrep report";
  /// Also draw and measure each label set used (the runs' labels.npy; remade from the configuration for runs without one).
  bool label_sections = true;
};

/// Writes `out_dir/index.html`, `out_dir/report.md` and the figure files (the runs' own figures are
/// copied under `out_dir/runs/` for the Markdown; the HTML has them inline). Returns the number of runs.
/// Throws IoError if nothing can be written, InvalidArgument if `root` holds no finished run,
/// FormatError for an attack or radius file that is not such a file's JSON or has fields of the wrong
/// type, or for per-image files of the wrong shape (naming it), and what find_runs throws.
LABELREP_API std::size_t write_report(const std::string& root, const std::string& out_dir, const ReportOptions& options = {});

}  // namespace labelrep::report
