#pragma once
/// \file kinds.hpp  The label kinds that need no audio or text models: category, constant, uniform
/// random matrix, low-dimensional random vector, composition of Gaussians, and any .npy file.
///
/// Every random kind takes a `seed` and uses labelrep::NumpyRandom, whose stream equals
/// `numpy.random.seed(seed); numpy.random.rand(...)`: with the default seed 48 the uniform and low-dim
/// kinds reproduce the authors' `cifar10_random.npy` and `cifar10_lowdim.npy` bit for bit.
///
/// Limits every kind checks besides those listed with it (InvalidArgument naming the kind and value):
/// at most 1,000,000 classes; label sides (size, height, width) at most 4096; low-dim dimension at most
/// 1,000,000; composite gaussians at most 1000; a seed below 2^32 (NumPy's seeds); a range (value
/// range, peak) no larger than float32's maximum; class names, when given, one per class.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include <torch/arg.h>

#include "labelrep/labels/label_representation.hpp"

namespace labelrep::labels {

/// Options of CategoryLabels. Example: `CategoryLabelsOptions(10).smoothing(0.1)`.
struct LABELREP_API CategoryLabelsOptions {
  explicit CategoryLabelsOptions(std::int64_t num_classes) : num_classes_(num_classes) {}
  TORCH_ARG(std::int64_t, num_classes);
  /// Label smoothing ε in [0, 1): the true class gets 1 − ε + ε/C, the others ε/C.
  TORCH_ARG(double, smoothing) = 0.0;
  TORCH_ARG(std::vector<std::string>, class_names) = {};
};

/// One-hot class vectors `[C, C]` (optionally smoothed). is_categorical() is true: models use
/// cross-entropy on class indices and argmax to decode. Throws InvalidArgument for C < 2 or ε ∉ [0,1).
class LABELREP_API CategoryLabels final : public LabelRepresentation {
 public:
  explicit CategoryLabels(const CategoryLabelsOptions& options);
  bool is_categorical() const noexcept override { return true; }
  double smoothing() const noexcept { return smoothing_; }

 private:
  double smoothing_;
};

/// Options of ConstantLabels. Example: `ConstantLabelsOptions(10).value_range(80)`.
struct LABELREP_API ConstantLabelsOptions {
  explicit ConstantLabelsOptions(std::int64_t num_classes) : num_classes_(num_classes) {}
  TORCH_ARG(std::int64_t, num_classes);
  TORCH_ARG(std::int64_t, size) = 64;          ///< labels are size × size
  TORCH_ARG(double, value_range) = 80.0;       ///< class i is filled with i · range / (C − 1)
  TORCH_ARG(std::vector<std::string>, class_names) = {};
};

/// Class i is a size×size matrix filled with float32(i · range / (C − 1)) — the paper's "constant"
/// label (the authors' file calls it "uniform"). Throws InvalidArgument for C < 2, size < 1, range ≤ 0 or above float32's maximum.
class LABELREP_API ConstantLabels final : public LabelRepresentation {
 public:
  explicit ConstantLabels(const ConstantLabelsOptions& options);
};

/// Options of UniformLabels. Example: `UniformLabelsOptions(10).height(64).width(64).seed(48)`.
struct LABELREP_API UniformLabelsOptions {
  explicit UniformLabelsOptions(std::int64_t num_classes) : num_classes_(num_classes) {}
  TORCH_ARG(std::int64_t, num_classes);
  TORCH_ARG(std::int64_t, height) = 64;
  TORCH_ARG(std::int64_t, width) = 64;
  TORCH_ARG(double, value_range) = 80.0;       ///< values uniform on [0, range)
  TORCH_ARG(std::uint64_t, seed) = 48;         ///< 48 reproduces the authors' random labels
  TORCH_ARG(std::vector<std::string>, class_names) = {};
};

/// A random matrix per class, uniform on [0, range): float32(rand(C, H, W) · range) with the NumPy
/// stream of `seed`. Throws InvalidArgument for C < 1, non-positive sizes or range (or a range above float32's maximum), seed ≥ 2^32.
class LABELREP_API UniformLabels final : public LabelRepresentation {
 public:
  explicit UniformLabels(const UniformLabelsOptions& options);
};

/// Options of LowDimLabels. Example: `LowDimLabelsOptions(10).dimension(10).seed(48)`.
struct LABELREP_API LowDimLabelsOptions {
  explicit LowDimLabelsOptions(std::int64_t num_classes) : num_classes_(num_classes) {}
  TORCH_ARG(std::int64_t, num_classes);
  TORCH_ARG(std::int64_t, dimension) = 10;
  TORCH_ARG(double, value_range) = 80.0;
  TORCH_ARG(std::uint64_t, seed) = 48;
  TORCH_ARG(std::vector<std::string>, class_names) = {};
};

/// A random vector per class, uniform on [0, range): the paper's low-dimensional high-entropy label.
/// Throws InvalidArgument for C < 1, dimension < 1, range ≤ 0 or above float32's maximum, seed ≥ 2^32.
class LABELREP_API LowDimLabels final : public LabelRepresentation {
 public:
  explicit LowDimLabels(const LowDimLabelsOptions& options);
};

/// Options of CompositeLabels. Example: `CompositeLabelsOptions(10).size(64).seed(1)`.
struct LABELREP_API CompositeLabelsOptions {
  explicit CompositeLabelsOptions(std::int64_t num_classes) : num_classes_(num_classes) {}
  TORCH_ARG(std::int64_t, num_classes);
  TORCH_ARG(std::int64_t, size) = 64;
  TORCH_ARG(std::int64_t, gaussians) = 10;     ///< Gaussians summed per label
  /// Standard deviations along each principal axis are drawn uniformly from
  /// [min_sigma, max_sigma] × size.
  TORCH_ARG(double, min_sigma) = 0.03;
  TORCH_ARG(double, max_sigma) = 0.2;
  TORCH_ARG(double, value_range) = 80.0;       ///< each label is min-max scaled to [0, range]
  TORCH_ARG(std::uint64_t, seed) = 0;
  TORCH_ARG(std::vector<std::string>, class_names) = {};
};

/// The paper's "composition of Gaussians": per class, the sum of `gaussians` oriented 2-D Gaussians
/// with centres uniform over the square, orientations uniform on [0, π), axis scales uniform in
/// [min_sigma, max_sigma]·size and amplitudes uniform on [0.5, 1], then min-max scaled to [0, range].
/// Throws InvalidArgument for C < 1, size < 2, gaussians < 1, 0 < min_sigma ≤ max_sigma violated, range ≤ 0
/// or above float32's maximum.
class LABELREP_API CompositeLabels final : public LabelRepresentation {
 public:
  explicit CompositeLabels(const CompositeLabelsOptions& options);
};

/// Labels read from a .npy file `[C, ...]` (e.g. the authors' files). If `<path>.json` exists (written
/// by LabelRepresentation::save) its metadata is used, and a "category" kind stays categorical;
/// otherwise the kind is "file" and the range is the data's min and max.
/// Throws IoError for an unreadable file; FormatError for a malformed file or sidecar, a sidecar whose
/// classes or label shape differ from the matrix, or a matrix that is not a valid label set (fewer
/// than 2 dimensions, no labels, non-finite values).
class LABELREP_API FileLabels final : public LabelRepresentation {
 public:
  explicit FileLabels(const std::string& path);
  bool is_categorical() const noexcept override { return categorical_; }
  const std::string& path() const noexcept { return path_; }

 private:
  FileLabels(std::string path, std::pair<torch::Tensor, LabelMetadata> loaded);
  std::string path_;
  bool categorical_;
};

}  // namespace labelrep::labels
