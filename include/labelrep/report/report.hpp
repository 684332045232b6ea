#pragma once
/// \file report.hpp  Turning run directories into a report a researcher would put in a paper.
///
/// write_report() finds every finished run (a directory with result.json) under a root, groups runs
/// that differ only in their seed, and writes `index.html` (self-contained: figures are inline SVG and
/// embedded PNG, so it renders offline from a single file) and `report.md` (with the figures beside it):
/// the accuracy table in the form of the paper's Table 1 (nearest-label and threshold accuracy, mean ±
/// std over seeds), the label statistics of Table 2 for every label used, the label pictures
/// (Figure 1), validation curves, accuracy against data level when runs have several levels
/// (Figure 4), and every run's configuration.

#include <string>
#include <vector>

#include "labelrep/export.hpp"

namespace labelrep::report {

/// A finished run as read from its directory.
struct LABELREP_API RunRecord {
  std::string directory;
  std::string config_json;   ///< the run's configuration (from result.json)
  std::string result_json;   ///< result.json
  std::vector<std::pair<double, double>> validation_curve;  ///< (epoch, validation accuracy) from metrics.csv
};

/// Finished runs under `root` (root itself, or directories up to 3 levels below), in path order.
/// Unfinished runs are skipped. Throws IoError if root does not exist, FormatError for a malformed
/// result.json (naming it).
LABELREP_API std::vector<RunRecord> find_runs(const std::string& root);

struct LABELREP_API ReportOptions {
  std::string title = "labelrep report";
  /// Also draw and measure each label set used (the runs' labels.npy; remade from the configuration for runs without one).
  bool label_sections = true;
};

/// Writes `out_dir/index.html`, `out_dir/report.md` and the figure files. Returns the number of runs.
/// Throws IoError if nothing can be written, InvalidArgument if `root` holds no finished run.
LABELREP_API std::size_t write_report(const std::string& root, const std::string& out_dir, const ReportOptions& options = {});

}  // namespace labelrep::report
