#include "labelrep/labels/kinds.hpp"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <limits>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/core/random.hpp"
#include "labels/metadata_json.hpp"
#include "labels/probability_rows.hpp"
#include "core/boundary.hpp"

namespace labelrep::labels {
namespace {

void require_classes(std::int64_t classes, std::int64_t minimum, const char* kind) {
  if (classes < minimum)
    throw InvalidArgument(fmt::format("{} labels: num_classes is {}, need at least {} classes", kind, classes, minimum));
  if (classes > 1000000) throw InvalidArgument(fmt::format("{} labels: num_classes {} is more than 1,000,000", kind, classes));
}
void require_positive(double value, const char* what, const char* kind) {
  // Labels are float32: a value beyond its range would become infinity there.
  if (!(value > 0) || !(value <= std::numeric_limits<float>::max()))
    throw InvalidArgument(fmt::format("{} labels: {} must be positive and at most {:.6g} (float32), got {}", kind, what,
                                      static_cast<double>(std::numeric_limits<float>::max()), value));
}
void require_size(std::int64_t value, std::int64_t minimum, const char* what, const char* kind) {
  if (value < minimum || value > 4096)
    throw InvalidArgument(fmt::format("{} labels: {} must be in [{}, 4096], got {}", kind, what, minimum, value));
}
std::uint32_t numpy_seed(std::uint64_t seed, const char* kind) {
  if (seed > 0xffffffffULL)
    throw InvalidArgument(fmt::format("{} labels: seed must be below 2^32 (a NumPy seed), got {}", kind, seed));
  return static_cast<std::uint32_t>(seed);
}

// float32(rand(count) * range) from the NumPy stream of `seed`, in a tensor of `shape`.
torch::Tensor numpy_uniform(std::vector<std::int64_t> shape, double range, std::uint32_t seed) {
  torch::Tensor out = torch::empty(shape, torch::kFloat32);
  float* p = out.data_ptr<float>();
  NumpyRandom random(seed);
  for (std::int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<float>(random.next_double() * range);
  return out;
}

LabelMetadata make_metadata(std::string kind, std::vector<std::string> names, double low, double high,
                            std::string description) {
  LabelMetadata m;
  m.kind = std::move(kind);
  m.class_names = std::move(names);
  m.range_min = low;
  m.range_max = high;
  m.description = std::move(description);
  return m;
}
LabelMetadata with_seed(LabelMetadata m, std::uint64_t seed) {
  m.has_seed = true;
  m.seed = seed;
  return m;
}

torch::Tensor category_matrix(const CategoryLabelsOptions& o) {
  require_classes(o.num_classes(), 2, "category");
  if (!(o.smoothing() >= 0.0 && o.smoothing() < 1.0))
    throw InvalidArgument(fmt::format("category labels: smoothing must be in [0, 1), got {}", o.smoothing()));
  const double off = o.smoothing() / static_cast<double>(o.num_classes());
  torch::Tensor m = torch::full({o.num_classes(), o.num_classes()}, off, torch::kFloat64);
  m.diagonal().fill_(1.0 - o.smoothing() + off);
  return m.to(torch::kFloat32);
}

torch::Tensor constant_matrix(const ConstantLabelsOptions& o) {
  require_classes(o.num_classes(), 2, "constant");
  require_size(o.size(), 1, "size", "constant");
  require_positive(o.value_range(), "value_range", "constant");
  torch::Tensor m = torch::empty({o.num_classes(), o.size(), o.size()}, torch::kFloat32);
  for (std::int64_t i = 0; i < o.num_classes(); ++i)
    m[i].fill_(static_cast<float>(static_cast<double>(i) * o.value_range() / static_cast<double>(o.num_classes() - 1)));
  return m;
}

torch::Tensor uniform_matrix(const UniformLabelsOptions& o) {
  require_classes(o.num_classes(), 1, "uniform");
  require_size(o.height(), 1, "height", "uniform");
  require_size(o.width(), 1, "width", "uniform");
  require_positive(o.value_range(), "value_range", "uniform");
  return numpy_uniform({o.num_classes(), o.height(), o.width()}, o.value_range(), numpy_seed(o.seed(), "uniform"));
}

torch::Tensor lowdim_matrix(const LowDimLabelsOptions& o) {
  require_classes(o.num_classes(), 1, "lowdim");
  if (o.dimension() < 1 || o.dimension() > 1000000)
    throw InvalidArgument(fmt::format("lowdim labels: dimension must be in [1, 1000000], got {}", o.dimension()));
  require_positive(o.value_range(), "value_range", "lowdim");
  return numpy_uniform({o.num_classes(), o.dimension()}, o.value_range(), numpy_seed(o.seed(), "lowdim"));
}

torch::Tensor composite_matrix(const CompositeLabelsOptions& o) {
  require_classes(o.num_classes(), 1, "composite");
  require_size(o.size(), 2, "size", "composite");
  if (o.gaussians() < 1 || o.gaussians() > 1000)
    throw InvalidArgument(fmt::format("composite labels: gaussians must be in [1, 1000], got {}", o.gaussians()));
  if (!(o.min_sigma() > 0 && o.min_sigma() <= o.max_sigma() && std::isfinite(o.max_sigma())))
    throw InvalidArgument(fmt::format("composite labels: need 0 < min_sigma <= max_sigma, got {} and {}", o.min_sigma(),
                                      o.max_sigma()));
  require_positive(o.value_range(), "value_range", "composite");
  const std::int64_t n = o.size();
  const double size = static_cast<double>(n);
  NumpyRandom random(numpy_seed(o.seed(), "composite"));
  torch::Tensor out = torch::empty({o.num_classes(), n, n}, torch::kFloat32);
  std::vector<double> field(static_cast<std::size_t>(n * n));
  for (std::int64_t c = 0; c < o.num_classes(); ++c) {
    std::fill(field.begin(), field.end(), 0.0);
    for (std::int64_t g = 0; g < o.gaussians(); ++g) {
      // Draw order is part of the format: centre x, centre y, angle, two axis scales, amplitude.
      const double cx = random.next_double() * size, cy = random.next_double() * size;
      const double angle = random.next_double() * M_PI;
      const double sa = (o.min_sigma() + random.next_double() * (o.max_sigma() - o.min_sigma())) * size;
      const double sb = (o.min_sigma() + random.next_double() * (o.max_sigma() - o.min_sigma())) * size;
      const double amplitude = 0.5 + 0.5 * random.next_double();
      const double cos_a = std::cos(angle), sin_a = std::sin(angle);
      for (std::int64_t y = 0; y < n; ++y) {
        for (std::int64_t x = 0; x < n; ++x) {
          const double dx = static_cast<double>(x) + 0.5 - cx, dy = static_cast<double>(y) + 0.5 - cy;
          const double u = cos_a * dx + sin_a * dy, v = -sin_a * dx + cos_a * dy;
          field[static_cast<std::size_t>(y * n + x)] += amplitude * std::exp(-0.5 * (u * u / (sa * sa) + v * v / (sb * sb)));
        }
      }
    }
    const auto [lo, hi] = std::minmax_element(field.begin(), field.end());
    const double low = *lo, span = *hi - *lo;
    float* p = out[c].data_ptr<float>();
    for (std::size_t i = 0; i < field.size(); ++i)
      p[i] = static_cast<float>(span > 0 ? (field[i] - low) / span * o.value_range() : 0.0);
  }
  return out;
}

std::pair<torch::Tensor, LabelMetadata> load_file(const std::string& path) {
  torch::Tensor matrix = read_npy(path);
  const std::string sidecar = path + ".json";
  LabelMetadata metadata;
  std::string sidecar_text;
  if (std::filesystem::exists(sidecar)) {
    sidecar_text = read_file(sidecar, 16 << 20);
    metadata = detail::metadata_from_json(sidecar_text, sidecar);
  } else {
    metadata.kind = "file";
    metadata.description = "read from " + path;
  }
  if (matrix.dim() < 2)
    throw FormatError(path, FormatError::kNoOffset,
                      fmt::format("a label file must hold [classes, ...] with at least 2 dimensions, got {}", matrix.dim()));
  if (matrix.size(0) < 1 || matrix[0].numel() < 1)
    throw FormatError(path, FormatError::kNoOffset, "a label file must hold at least one non-empty label");
  if (!sidecar_text.empty()) detail::check_metadata_fits(sidecar_text, sidecar, matrix, path);
  if (matrix.scalar_type() == torch::kBool) matrix = matrix.to(torch::kUInt8);
  if (!torch::isfinite(matrix.to(torch::kFloat64)).all().item<bool>())
    throw FormatError(path, FormatError::kNoOffset, "label values must be finite (found NaN or infinity)");
  // Labels are kept as float32: a float64 value beyond its range would become infinity there.
  if (!torch::isfinite(matrix.to(torch::kFloat32)).all().item<bool>())
    throw FormatError(path, FormatError::kNoOffset,
                      fmt::format("label values must fit float32 (|x| <= {:.6g}), as labels are kept; the largest is {:.6g}",
                                  static_cast<double>(std::numeric_limits<float>::max()),
                                  matrix.to(torch::kFloat64).abs().max().item<double>()));
  if (!metadata.class_names.empty() && static_cast<std::int64_t>(metadata.class_names.size()) != matrix.size(0))
    throw FormatError(sidecar, FormatError::kNoOffset,
                      fmt::format("lists {} class names but {} has {} classes", metadata.class_names.size(), path, matrix.size(0)));
  if (metadata.kind == "category" && matrix.size(0) != matrix[0].numel())
    throw FormatError(path, FormatError::kNoOffset, "metadata says category but the matrix is not [C, C]");
  // Category labels train with cross-entropy, whose targets are probability vectors (is_categorical()'s promise).
  if (metadata.kind == "category")
    if (const auto row = detail::first_non_probability_row(matrix))
      throw FormatError(path, FormatError::kNoOffset,
                        fmt::format("metadata says category but row {} is not a probability vector (non-negative, summing to 1)", *row));
  return {std::move(matrix), std::move(metadata)};
}

}  // namespace

CategoryLabels::CategoryLabels(const CategoryLabelsOptions& o) try
    : LabelRepresentation(category_matrix(o),
                          make_metadata("category", o.class_names(), 0.0, 1.0,
                                        fmt::format("one-hot vectors, label smoothing {}", o.smoothing()))),
      smoothing_(o.smoothing()) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("CategoryLabels");
}

ConstantLabels::ConstantLabels(const ConstantLabelsOptions& o) try
    : LabelRepresentation(constant_matrix(o),
                          make_metadata("constant", o.class_names(), 0.0, o.value_range(),
                                        fmt::format("class i filled with i*{}/(C-1), {}x{}", o.value_range(), o.size(), o.size()))) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ConstantLabels");
}

UniformLabels::UniformLabels(const UniformLabelsOptions& o) try
    : LabelRepresentation(uniform_matrix(o),
                          with_seed(make_metadata("uniform", o.class_names(), 0.0, o.value_range(),
                                                  fmt::format("uniform random on [0, {}), {}x{}, NumPy MT19937 stream",
                                                              o.value_range(), o.height(), o.width())),
                                    o.seed())) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("UniformLabels");
}

LowDimLabels::LowDimLabels(const LowDimLabelsOptions& o) try
    : LabelRepresentation(lowdim_matrix(o),
                          with_seed(make_metadata("lowdim", o.class_names(), 0.0, o.value_range(),
                                                  fmt::format("uniform random vectors of length {} on [0, {})", o.dimension(),
                                                              o.value_range())),
                                    o.seed())) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("LowDimLabels");
}

CompositeLabels::CompositeLabels(const CompositeLabelsOptions& o) try
    : LabelRepresentation(composite_matrix(o),
                          with_seed(make_metadata("composite", o.class_names(), 0.0, o.value_range(),
                                                  fmt::format("sum of {} oriented Gaussians, {}x{}, min-max scaled to [0, {}]",
                                                              o.gaussians(), o.size(), o.size(), o.value_range())),
                                    o.seed())) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("CompositeLabels");
}

FileLabels::FileLabels(const std::string& path) try : FileLabels(path, load_file(path)) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("FileLabels");
}

FileLabels::FileLabels(std::string path, std::pair<torch::Tensor, LabelMetadata> loaded)
    : LabelRepresentation(std::move(loaded.first), std::move(loaded.second)),
      path_(std::move(path)),
      categorical_(metadata().kind == "category") {}

}  // namespace labelrep::labels
