#pragma once
/// \file plot.hpp  Small, dependency-free line plots as SVG (training curves, accuracy vs ε, accuracy vs
/// data level). SVG renders in any browser without network access and stays sharp in papers.
///
/// Example:
/// \code
///   labelrep::analysis::LinePlot plot("Validation accuracy", "epoch", "accuracy");
///   plot.add_series("speech", {1, 2, 3}, {0.8, 0.87, 0.9});
///   plot.add_series("category", {1, 2, 3}, {0.82, 0.86, 0.89}, /*error=*/{0.01, 0.01, 0.02});
///   labelrep::write_file_atomically("curve.svg", plot.svg());
/// \endcode

#include <string>
#include <vector>

#include "labelrep/export.hpp"

namespace labelrep::analysis {

class LABELREP_API LinePlot {
 public:
  LinePlot(std::string title, std::string x_label, std::string y_label);
  /// Adds a series; `error` (optional, same length) draws ± bands. Throws InvalidArgument for
  /// mismatched lengths, an empty series or non-finite values.
  void add_series(std::string name, std::vector<double> x, std::vector<double> y, std::vector<double> error = {});
  /// Fixes the y range (default: from the data, with a margin).
  void set_y_range(double low, double high);
  /// The plot as a standalone SVG document. Throws InvalidArgument if there is no series.
  std::string svg(int width = 640, int height = 400) const;

 private:
  struct Series {
    std::string name;
    std::vector<double> x, y, error;
  };
  std::string title_, x_label_, y_label_;
  std::vector<Series> series_;
  bool fixed_y_ = false;
  double y_low_ = 0, y_high_ = 1;
};

/// Escapes text for XML/HTML (&, <, >, ", ').
LABELREP_API std::string escape_xml(const std::string& text);

}  // namespace labelrep::analysis
