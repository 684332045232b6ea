#pragma once
/// \file label_representation.hpp  The abstract label representation every label kind implements.
///
/// A label representation assigns each class a fixed target: a one-hot vector (category), a matrix
/// (speech spectrogram, constant, uniform random, Gaussian composition, BERT) or a vector (low-dim,
/// GloVe). The class matrix is `[C, ...]`; a batch of class ids maps to a batch of targets.
///
/// Example:
/// \code
///   auto labels = std::make_shared<const labelrep::labels::UniformLabels>(
///       labelrep::labels::UniformLabelsOptions(10).seed(48));
///   torch::Tensor y = labels->targets(batch_class_ids);   // [N, 64, 64] on the ids' device
/// \endcode
///
/// Requires: nothing beyond construction. Ensures: immutable after construction, so every const
/// method is thread-safe; random kinds draw from their own seeded generator, never the global one.
/// Ownership: not copyable (polymorphic); share it as std::shared_ptr<const LabelRepresentation>.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <torch/types.h>

#include "labelrep/export.hpp"

namespace labelrep::labels {

/// What is known about a label set besides its values; saved next to the .npy as `<file>.json`.
struct LABELREP_API LabelMetadata {
  std::string kind;                      ///< "category", "constant", "uniform", "speech", "file", ...
  std::vector<std::string> class_names;  ///< one per class; may be empty when unknown
  bool has_seed = false;                 ///< whether `seed` applies (random kinds)
  std::uint64_t seed = 0;
  double range_min = 0.0;                ///< the declared value range (e.g. [0, 80]); defaults to the data's
  double range_max = 0.0;
  std::string description;               ///< free text: how the labels were made
};

class LABELREP_API LabelRepresentation {
 public:
  virtual ~LabelRepresentation();
  LabelRepresentation(const LabelRepresentation&) = delete;
  LabelRepresentation& operator=(const LabelRepresentation&) = delete;

  /// The kind, e.g. "speech" (same as metadata().kind).
  const std::string& name() const noexcept { return metadata_.kind; }
  /// Whether models trained on it are classifiers (cross-entropy, argmax) rather than regressors. True
  /// promises that every row of the class matrix is a probability vector (cross-entropy's targets).
  virtual bool is_categorical() const noexcept { return false; }

  /// The class matrix `[C, ...]`: float32, CPU, contiguous, finite.
  const torch::Tensor& matrix() const noexcept { return matrix_; }
  std::int64_t num_classes() const { return matrix_.size(0); }
  /// The shape of one label (the matrix shape without its first dimension).
  std::vector<std::int64_t> label_shape() const;
  /// Number of values in one label.
  std::int64_t label_numel() const;
  const LabelMetadata& metadata() const noexcept { return metadata_; }

  /// Targets for a batch of class ids. Requires: `class_ids` a 1-D integer tensor with values in
  /// [0, C). Ensures: a float32 tensor `[N, ...label_shape]` on the device of `class_ids`.
  /// Throws InvalidArgument (naming the offending id) otherwise. On a GPU the range check reads the
  /// ids' minimum and maximum on the host (one wait for the device per call); the class matrix is
  /// copied to a device once and kept there.
  torch::Tensor targets(const torch::Tensor& class_ids) const;

  /// The class matrix on `device`: matrix() itself for the CPU, else a copy made at the first call
  /// for that device and kept (thread-safe).
  torch::Tensor matrix_on(const torch::Device& device) const;

  /// Writes the matrix as .npy and the metadata as `<path>.json`, both atomically.
  /// Throws InvalidArgument if a class name or the description is not valid UTF-8 (nothing is
  /// written), IoError if either file cannot be written.
  void save(const std::string& path) const;

 protected:
  /// Validates and takes the matrix: at least 2-D, >= 1 class, non-empty labels, floating point,
  /// finite values. It is converted to float32, CPU, contiguous. Throws InvalidArgument otherwise.
  LabelRepresentation(torch::Tensor matrix, LabelMetadata metadata);

 private:
  struct DeviceCopies;  // the matrix's copies on other devices, made on demand
  torch::Tensor matrix_;
  LabelMetadata metadata_;
  std::unique_ptr<DeviceCopies> device_copies_;
};

}  // namespace labelrep::labels
