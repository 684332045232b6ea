#pragma once
/// \file plot.hpp  Small, dependency-free plots as SVG: line plots (training curves, accuracy vs ε,
/// accuracy vs data level) and scatter plots (t-SNE embeddings coloured by class). SVG renders in any
/// browser without network access and stays sharp in papers.
///
/// Example:
/// \code
///   labelrep::analysis::LinePlot plot("Validation accuracy", "epoch", "accuracy");
///   plot.add_series("speech", {1, 2, 3}, {0.8, 0.87, 0.9});
///   plot.add_series("category", {1, 2, 3}, {0.82, 0.86, 0.89}, /*error=*/{0.01, 0.01, 0.02});
///   labelrep::write_file_atomically("curve.svg", plot.svg());
/// \endcode

#include <cstddef>
#include <limits>
#include <string>
#include <vector>
#include <torch/types.h>

#include "labelrep/export.hpp"

namespace labelrep::analysis {

/// How a LinePlot series is drawn. Two metrics of one model (the paper's Figure 3: threshold accuracy
/// solid, nearest-label accuracy dotted) share a colour and differ in the dash.
struct LABELREP_API SeriesStyle {
  bool dashed = false;  ///< a dotted line instead of a solid one
  int colour = -1;      ///< index into the palette; -1: the series' own index
};

class LABELREP_API LinePlot {
 public:
  LinePlot(std::string title, std::string x_label, std::string y_label);
  /// Adds a series; `error` (optional, same length) draws ± bands. Throws InvalidArgument for
  /// mismatched lengths, an empty series or non-finite values.
  void add_series(std::string name, std::vector<double> x, std::vector<double> y, std::vector<double> error = {},
                  SeriesStyle style = {});
  /// Fixes the y range (default: from the data, with a margin). Throws InvalidArgument unless both
  /// ends are finite and high > low.
  void set_y_range(double low, double high);
  /// The plot as a standalone SVG document. Throws InvalidArgument if there is no series or the size
  /// is below 200×150.
  std::string svg(int width = 640, int height = 400) const;

 private:
  struct Series {
    std::string name;
    std::vector<double> x, y, error;
    SeriesStyle style;
  };
  std::string title_, x_label_, y_label_;
  std::vector<Series> series_;
  bool fixed_y_ = false;
  double y_low_ = 0, y_high_ = 1;
};

/// A scatter plot of 2-D points in named groups, one colour per group, with a legend of the group
/// names (the first 30; then "… and K more"). Points are drawn in the order they were added, so a group
/// added last does not hide the others when points are interleaved (scatter_by_class keeps the
/// data's order). By default both axes use the same scale (right for embeddings such as t-SNE).
///
/// Example:
/// \code
///   labelrep::analysis::ScatterPlot plot("t-SNE of the test features");
///   auto cat = plot.add_group("cat");
///   plot.add_point(cat, 0.5, 1.0);
///   plot.add_group("dog", {1.0, 2.0}, {0.0, 0.5});
///   labelrep::write_file_atomically("tsne.svg", plot.svg());
/// \endcode
class LABELREP_API ScatterPlot {
 public:
  explicit ScatterPlot(std::string title, std::string x_label = "", std::string y_label = "");
  /// Adds an (empty) group and returns its id.
  std::size_t add_group(std::string name);
  /// Adds a group with points. Throws InvalidArgument for lengths that differ or non-finite values.
  std::size_t add_group(std::string name, const std::vector<double>& x, const std::vector<double>& y);
  /// Adds a point to group `group`. Throws InvalidArgument for an unknown group or a non-finite value.
  void add_point(std::size_t group, double x, double y);
  /// true (default): one unit is as long on both axes; false: each axis fills the plot.
  void set_equal_aspect(bool equal) { equal_aspect_ = equal; }
  /// Shows at least [x_min, x_max] × [y_min, y_max] (joined with the points' own bounds), so that the
  /// panels of one figure can share their axes. Throws InvalidArgument for a value that is not finite
  /// or a minimum above its maximum.
  void extend_range(double x_min, double x_max, double y_min, double y_max);
  std::size_t num_groups() const noexcept { return names_.size(); }
  std::size_t num_points() const noexcept { return points_.size(); }
  /// The plot as a standalone SVG document. Throws InvalidArgument if there is no point, or for a size
  /// below 200×150.
  std::string svg(int width = 760, int height = 600) const;

 private:
  struct Point {
    double x, y;
    std::size_t group;
  };
  std::string title_, x_label_, y_label_;
  std::vector<std::string> names_;
  std::vector<std::size_t> counts_;
  std::vector<Point> points_;
  bool equal_aspect_ = true;
  // x_min, x_max, y_min, y_max to show besides the points; empty (min above max) until extended.
  static constexpr double kNone = std::numeric_limits<double>::infinity();
  double range_[4] = {kNone, -kNone, kNone, -kNone};
};

/// A scatter plot of `points` `[N, 2]` (any real dtype, any device) with one group per entry of
/// `class_names`, point i in group `classes[i]` (`[N]`, integer, values in [0, class_names.size())).
/// Groups without points still appear in the legend, with their count (0).
/// Throws InvalidArgument (naming the argument) for other shapes, out-of-range ids or non-finite points.
LABELREP_API ScatterPlot scatter_by_class(const torch::Tensor& points, const torch::Tensor& classes,
                                          const std::vector<std::string>& class_names, std::string title);

/// Standalone SVG documents (as svg() returns) side by side in one SVG, `columns` per row, each panel
/// keeping its own size (rows are as tall as their tallest panel), under an optional title: a figure
/// made of several plots, such as a t-SNE progression over training.
/// Throws InvalidArgument for no panels, columns < 1, or a panel that is not an `<svg ...>` document
/// with width and height attributes.
LABELREP_API std::string svg_panels(const std::vector<std::string>& panels, int columns, const std::string& title = "");

/// Escapes text for XML/HTML (&, <, >, ", ').
LABELREP_API std::string escape_xml(const std::string& text);

}  // namespace labelrep::analysis
