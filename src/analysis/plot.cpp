#include "labelrep/analysis/plot.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep::analysis {
namespace {
// Colour-blind-safe palette (Okabe–Ito).
constexpr const char* kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"};

// "Nice" tick positions covering [low, high].
std::vector<double> ticks(double low, double high, int target = 5) {
  const double span = high - low;
  if (!(span > 0)) return {low};
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(low / step) * step; t <= high + step * 1e-9; t += step) out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return out;
}
std::string number(double v) { return fmt::format("{:g}", v); }

// Scatter colours: Tableau 10, then lighter companions (tab20), cycled beyond 20 groups.
constexpr const char* kScatterColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                           "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
                                           "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"};
constexpr std::size_t kScatterLegendRows = 30;

// The plot area of an SVG chart: data ranges mapped to pixels.
struct Frame {
  double left, top, width, height;  // plot area in pixels
  double x0, x1, y0, y1;            // data ranges
  double px(double x) const { return left + (x - x0) / (x1 - x0) * width; }
  double py(double y) const { return top + (1 - (y - y0) / (y1 - y0)) * height; }
};

// The svg element, background, title, grid lines with tick labels and the frame of the plot area.
std::string svg_axes(int width, int height, const std::string& title, const Frame& f, const char* horizontal_grid) {
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height, width, height);
  // A title longer than the picture gets a smaller font instead of being cut off at the right edge
  // (bold sans-serif: about 0.6 em per character; at least 8 px).
  std::size_t characters = 0;
  for (const unsigned char c : title) characters += (c & 0xC0) != 0x80;  // UTF-8 lead bytes
  const double room = static_cast<double>(width) - f.left - 8, natural = 0.6 * 14 * static_cast<double>(characters);
  const double font_size = natural > room ? std::max(8.0, 14 * room / natural) : 14.0;
  out += fmt::format("<text x=\"{}\" y=\"20\" font-size=\"{:.3g}\" font-weight=\"bold\">{}</text>\n", f.left, font_size, escape_xml(title));
  for (double t : ticks(f.y0, f.y1)) {
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\"/>\n", f.left, f.py(t), f.left + f.width,
                       f.py(t), horizontal_grid);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", f.left - 6, f.py(t) + 4, number(t));
  }
  for (double t : ticks(f.x0, f.x1)) {
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n", f.px(t), f.top, f.px(t),
                       f.top + f.height);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", f.px(t), f.top + f.height + 16, number(t));
  }
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" stroke=\"#333\"/>\n", f.left, f.top,
                     f.width, f.height);
  return out;
}
}  // namespace

namespace {
// The value of attribute `name` in an SVG start tag, as a number; -1 when absent.
double svg_attribute(const std::string& tag, const std::string& name) {
  const auto at = tag.find(" " + name + "=\"");
  if (at == std::string::npos) return -1;
  try {
    return std::stod(tag.substr(at + name.size() + 3));
  } catch (const std::exception&) {
    return -1;
  }
}
}  // namespace

std::string svg_panels(const std::vector<std::string>& panels, int columns, const std::string& title) {
  if (panels.empty()) throw InvalidArgument("svg_panels: no panels");
  if (columns < 1) throw InvalidArgument(fmt::format("svg_panels: columns must be at least 1, got {}", columns));
  struct Size {
    double width, height;
  };
  std::vector<Size> sizes;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const auto& panel = panels[i];
    const auto end = panel.find('>');
    if (panel.rfind("<svg", 0) != 0 || end == std::string::npos) throw InvalidArgument(fmt::format("svg_panels: panel {} is not an SVG document", i));
    const std::string tag = panel.substr(0, end);
    const double w = svg_attribute(tag, "width"), h = svg_attribute(tag, "height");
    if (!(w > 0) || !(h > 0)) throw InvalidArgument(fmt::format("svg_panels: panel {} has no width and height", i));
    sizes.push_back({w, h});
  }
  const double title_height = title.empty() ? 0 : 32;
  std::vector<double> row_height, row_width;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const std::size_t row = i / static_cast<std::size_t>(columns);
    if (row_height.size() <= row) row_height.push_back(0), row_width.push_back(0);
    row_height[row] = std::max(row_height[row], sizes[i].height);
    row_width[row] += sizes[i].width;
  }
  double total_height = title_height, total_width = 0;
  for (std::size_t r = 0; r < row_height.size(); ++r) total_height += row_height[r], total_width = std::max(total_width, row_width[r]);
  std::string out = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" "
                                "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
                                total_width, total_height, total_width, total_height);
  if (!title.empty())
    out += fmt::format("<text x=\"{:.1f}\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">{}</text>\n", total_width / 2, escape_xml(title));
  double y = title_height, x = 0;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const std::size_t row = i / static_cast<std::size_t>(columns);
    if (i > 0 && i % static_cast<std::size_t>(columns) == 0) y += row_height[row - 1], x = 0;
    // A nested <svg> with x and y is a positioned viewport: the panel keeps its own coordinates.
    out += fmt::format("<svg x=\"{:.0f}\" y=\"{:.0f}\"", x, y) + panels[i].substr(4);
    if (out.back() != '\n') out += '\n';
    x += sizes[i].width;
  }
  out += "</svg>\n";
  return out;
}

std::string escape_xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

LinePlot::LinePlot(std::string title, std::string x_label, std::string y_label)
    : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)) {}

void LinePlot::add_series(std::string name, std::vector<double> x, std::vector<double> y, std::vector<double> error, SeriesStyle style) {
  if (x.empty() || x.size() != y.size() || (!error.empty() && error.size() != y.size()))
    throw InvalidArgument(fmt::format("plot series '{}': x, y (and error) must be non-empty and of equal length", name));
  for (const auto* values : {&x, &y, &error})
    for (double v : *values)
      if (!std::isfinite(v)) throw InvalidArgument(fmt::format("plot series '{}' has a non-finite value", name));
  series_.push_back({std::move(name), std::move(x), std::move(y), std::move(error), style});
}

void LinePlot::set_y_range(double low, double high) {
  if (!(high > low) || !std::isfinite(low) || !std::isfinite(high))
    throw InvalidArgument(fmt::format("plot y range [{}, {}]: both ends must be finite and high must exceed low", low, high));
  fixed_y_ = true;
  y_low_ = low;
  y_high_ = high;
}

std::string LinePlot::svg(int width, int height) const {
  if (series_.empty()) throw InvalidArgument(fmt::format("plot '{}' has no data", title_));
  if (width < 200 || height < 150) throw InvalidArgument(fmt::format("plot size {}x{} is below 200x150", width, height));
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series_) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      const double e = s.error.empty() ? 0 : s.error[i];
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i] - e), y1 = std::max(y1, s.y[i] + e);
    }
  }
  if (fixed_y_) y0 = y_low_, y1 = y_high_;
  if (!(x1 > x0)) x0 -= 1, x1 += 1;
  if (!(y1 > y0)) y0 -= 0.5, y1 += 0.5;
  if (!fixed_y_) {
    const double margin = 0.05 * (y1 - y0);
    y0 -= margin, y1 += margin;
  }
  // The legend sits right of the frame: room for the longest name (about 7 px a character at 12 px).
  std::size_t longest = 0;
  for (const auto& s : series_) longest = std::max(longest, s.name.size());
  const double left = 64, top = 36, bottom = 48;
  const double right = std::min(std::max(150.0, 48.0 + 7.0 * static_cast<double>(longest)), 0.5 * width);
  const Frame frame{left, top, width - left - right, height - top - bottom, x0, x1, y0, y1};
  const double pw = frame.width, ph = frame.height;
  auto px = [&](double x) { return frame.px(x); };
  auto py = [&](double y) { return frame.py(y); };
  std::string out = svg_axes(width, height, title_, frame, "#ddd");
  out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + pw / 2, height - 8, escape_xml(x_label_));
  out += fmt::format("<text transform=\"translate(14,{:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n", top + ph / 2,
                     escape_xml(y_label_));
  for (std::size_t k = 0; k < series_.size(); ++k) {
    const auto& s = series_[k];
    const std::size_t palette = sizeof kColours / sizeof kColours[0];
    const char* colour = kColours[(s.style.colour >= 0 ? static_cast<std::size_t>(s.style.colour) : k) % palette];
    const char* dash = s.style.dashed ? " stroke-dasharray=\"5,4\"" : "";
    if (!s.error.empty()) {
      std::string band;
      for (std::size_t i = 0; i < s.x.size(); ++i) band += fmt::format("{:.1f},{:.1f} ", px(s.x[i]), py(s.y[i] + s.error[i]));
      for (std::size_t i = s.x.size(); i-- > 0;) band += fmt::format("{:.1f},{:.1f} ", px(s.x[i]), py(s.y[i] - s.error[i]));
      out += fmt::format("<polygon points=\"{}\" fill=\"{}\" fill-opacity=\"0.15\" stroke=\"none\"/>\n", band, colour);
    }
    std::string line;
    for (std::size_t i = 0; i < s.x.size(); ++i) line += fmt::format("{:.1f},{:.1f} ", px(s.x[i]), py(s.y[i]));
    out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", line, colour, dash);
    for (std::size_t i = 0; i < s.x.size(); ++i)
      out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", px(s.x[i]), py(s.y[i]), colour);
    const double ly = top + 10 + 18 * static_cast<double>(k);
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", left + pw + 12,
                       ly, left + pw + 32, ly, colour, dash);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", left + pw + 38, ly + 4, escape_xml(s.name));
  }
  out += "</svg>\n";
  return out;
}

ScatterPlot::ScatterPlot(std::string title, std::string x_label, std::string y_label)
    : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)) {}

std::size_t ScatterPlot::add_group(std::string name) {
  names_.push_back(std::move(name));
  counts_.push_back(0);
  return names_.size() - 1;
}

std::size_t ScatterPlot::add_group(std::string name, const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size())
    throw InvalidArgument(fmt::format("scatter group '{}': x has {} values but y has {}", name, x.size(), y.size()));
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
      throw InvalidArgument(fmt::format("scatter group '{}': point {} is not finite", name, i));
  const std::size_t id = add_group(std::move(name));
  for (std::size_t i = 0; i < x.size(); ++i) add_point(id, x[i], y[i]);
  return id;
}

void ScatterPlot::extend_range(double x_min, double x_max, double y_min, double y_max) {
  for (double v : {x_min, x_max, y_min, y_max})
    if (!std::isfinite(v)) throw InvalidArgument(fmt::format("scatter plot: range value {} is not finite", v));
  if (x_min > x_max || y_min > y_max)
    throw InvalidArgument(fmt::format("scatter plot: range [{}, {}] x [{}, {}] has a minimum above its maximum", x_min, x_max, y_min, y_max));
  range_[0] = std::min(range_[0], x_min), range_[1] = std::max(range_[1], x_max);
  range_[2] = std::min(range_[2], y_min), range_[3] = std::max(range_[3], y_max);
}

void ScatterPlot::add_point(std::size_t group, double x, double y) {
  if (group >= names_.size())
    throw InvalidArgument(fmt::format("scatter plot: group {} does not exist ({} groups)", group, names_.size()));
  if (!std::isfinite(x) || !std::isfinite(y))
    throw InvalidArgument(fmt::format("scatter plot: point ({}, {}) of group '{}' is not finite", x, y, names_[group]));
  points_.push_back({x, y, group});
  ++counts_[group];
}

std::string ScatterPlot::svg(int width, int height) const {
  if (points_.empty()) throw InvalidArgument(fmt::format("scatter plot '{}' has no points", title_));
  if (width < 200 || height < 150) throw InvalidArgument(fmt::format("scatter plot size {}x{} is below 200x150", width, height));
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& p : points_) x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  x0 = std::min(x0, range_[0]), x1 = std::max(x1, range_[1]), y0 = std::min(y0, range_[2]), y1 = std::max(y1, range_[3]);
  if (!(x1 > x0)) x0 -= 1, x1 += 1;
  if (!(y1 > y0)) y0 -= 1, y1 += 1;
  const double mx = 0.04 * (x1 - x0), my = 0.04 * (y1 - y0);
  x0 -= mx, x1 += mx, y0 -= my, y1 += my;
  const double left = 56, right = 190, top = 36, bottom = 44;
  double pw = width - left - right, ph = height - top - bottom;
  if (equal_aspect_) {  // shrink one side so that both axes have the same units per pixel
    const double scale = std::min(pw / (x1 - x0), ph / (y1 - y0));
    pw = scale * (x1 - x0), ph = scale * (y1 - y0);
  }
  const Frame frame{left, top, pw, ph, x0, x1, y0, y1};
  auto px = [&](double x) { return frame.px(x); };
  auto py = [&](double y) { return frame.py(y); };
  std::string out = svg_axes(width, height, title_, frame, "#eee");
  if (!x_label_.empty())
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", left + pw / 2, top + ph + 36, escape_xml(x_label_));
  if (!y_label_.empty())
    out += fmt::format("<text transform=\"translate(14,{:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n", top + ph / 2,
                       escape_xml(y_label_));
  auto colour = [](std::size_t g) { return kScatterColours[g % (sizeof kScatterColours / sizeof kScatterColours[0])]; };
  out += "<g fill-opacity=\"0.75\" stroke=\"none\">\n";
  for (const auto& p : points_)
    out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>\n", px(p.x), py(p.y), colour(p.group));
  out += "</g>\n";
  const double lx = left + pw + 16;
  const std::size_t shown = std::min(names_.size(), kScatterLegendRows);
  for (std::size_t g = 0; g < shown; ++g) {
    const double ly = top + 8 + 18 * static_cast<double>(g);
    out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\"/>\n", lx + 5, ly, colour(g));
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{} ({})</text>\n", lx + 16, ly + 4, escape_xml(names_[g]), counts_[g]);
  }
  if (names_.size() > shown)
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">\u2026 and {} more</text>\n", lx, top + 12 + 18 * static_cast<double>(shown),
                       names_.size() - shown);
  out += "</svg>\n";
  return out;
}

ScatterPlot scatter_by_class(const torch::Tensor& points, const torch::Tensor& classes, const std::vector<std::string>& class_names,
                             std::string title) try {
  if (!points.defined() || points.dim() != 2 || points.size(1) != 2 || !torch::isFloatingType(points.scalar_type()))
    throw InvalidArgument("scatter_by_class: points must be a floating-point tensor [N, 2]");
  if (!classes.defined() || classes.dim() != 1 || classes.size(0) != points.size(0) || torch::isFloatingType(classes.scalar_type()) ||
      classes.scalar_type() == torch::kBool)
    throw InvalidArgument(fmt::format("scatter_by_class: classes must be an integer tensor [{}] (one id per point)", points.size(0)));
  if (class_names.empty()) throw InvalidArgument("scatter_by_class: class_names is empty");
  const auto xy = points.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const auto ids = classes.detach().to(torch::kCPU, torch::kLong).contiguous();
  ScatterPlot plot(std::move(title));
  for (const auto& name : class_names) plot.add_group(name);
  const double* p = xy.data_ptr<double>();
  const std::int64_t* c = ids.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < xy.size(0); ++i) {
    if (c[i] < 0 || c[i] >= static_cast<std::int64_t>(class_names.size()))
      throw InvalidArgument(fmt::format("scatter_by_class: classes[{}] = {} is outside [0, {})", i, c[i], class_names.size()));
    plot.add_point(static_cast<std::size_t>(c[i]), p[2 * i], p[2 * i + 1]);
  }
  return plot;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("scatter_by_class");
}

}  // namespace labelrep::analysis
