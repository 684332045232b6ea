#pragma once
/// \file nearest_neighbor.hpp  Decoding model outputs to classes and measuring accuracy.
///
/// A model trained on a label representation outputs a label-shaped tensor; its predicted class is the
/// class whose label is nearest (mean squared error). A categorical model outputs logits; its class is
/// the argmax. The same evaluator serves training, testing and attacks, so "correct" means one thing.
///
/// Example:
/// \code
///   labelrep::eval::NearestNeighborEvaluator evaluator(labels);          // shared_ptr<const LabelRepresentation>
///   labelrep::eval::EvaluationTally tally(labels->num_classes());
///   for (auto& batch : test_batches) tally += evaluator.tally(model(batch.images), batch.targets);
///   auto r = tally.result();   // r.accuracy, r.threshold_accuracy, r.per_class_accuracy, r.confusion
/// \endcode
/// Thread-safety: the evaluator is immutable after construction (const methods are thread-safe); a
/// tally is a plain value.

#include <cstdint>
#include <memory>
#include <vector>
#include <torch/arg.h>
#include <torch/types.h>

#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"

namespace labelrep::eval {

struct LABELREP_API NearestNeighborOptions {
  /// The paper's threshold rule: an output counts as correct under the threshold metric when its mean
  /// smooth-L1 (β = 1) distance to the true label is below this value (in label units; the paper's
  /// labels span [0, 80] or [−80, 0]).
  TORCH_ARG(double, threshold) = 3.5;
};

/// What a set of evaluated outputs adds up to.
struct LABELREP_API EvaluationResult {
  std::int64_t count = 0;
  double accuracy = 0.0;             ///< nearest-label (or argmax) accuracy
  bool has_threshold = false;        ///< false for categorical models
  double threshold_accuracy = 0.0;   ///< fraction within the threshold of the true label
  double threshold = 0.0;            ///< the threshold used, in label units
  double range_min = 0.0, range_max = 0.0;  ///< the label set's value range, to read the threshold against
  std::vector<double> per_class_accuracy;   ///< NaN for classes with no samples
  torch::Tensor confusion;                  ///< [C, C] int64, rows = true class, columns = predicted
  /// Each evaluated image's true and predicted class, int64 `[count]` on the CPU, in evaluation order:
  /// filled in by train::evaluate (to compare two models image by image, compare_paired); undefined
  /// from EvaluationTally::result(), whose counts can be summed over batches and processes.
  torch::Tensor targets, predictions;
};

/// Counts that can be summed over batches (and over processes) before turning into a result.
class LABELREP_API EvaluationTally {
 public:
  /// Throws InvalidArgument for a negative class count.
  explicit EvaluationTally(std::int64_t num_classes = 0);
  /// Adds another tally's counts (an empty tally adds nothing). Throws InvalidArgument for tallies of
  /// different class counts.
  EvaluationTally& operator+=(const EvaluationTally& other);
  /// Throws InvalidArgument if nothing was counted.
  EvaluationResult result() const;
  std::int64_t count() const noexcept { return count_; }

 private:
  friend class NearestNeighborEvaluator;
  std::int64_t classes_ = 0, count_ = 0, threshold_hits_ = 0;
  bool has_threshold_ = false;
  double threshold_ = 0.0, range_min_ = 0.0, range_max_ = 0.0;
  torch::Tensor confusion_;  // [C, C] int64 on CPU
};

class LABELREP_API NearestNeighborEvaluator {
 public:
  /// Requires: a non-null label set. Throws InvalidArgument for null labels or a threshold <= 0.
  explicit NearestNeighborEvaluator(std::shared_ptr<const labels::LabelRepresentation> labels,
                                    NearestNeighborOptions options = {});

  /// Predicted classes for outputs `[N, ...label_shape]` (or logits `[N, C]` for categorical labels), on
  /// the outputs' device: argmin over classes of the mean squared error, computed as one matrix
  /// product (after centring on the label mean, which keeps float32 sums small); ties go to the lower
  /// class index. Throws InvalidArgument for a shape that does not match the labels or outputs that are
  /// not floating point.
  torch::Tensor predict(const torch::Tensor& outputs) const;

  /// Squared-error distances `[N, C]` (mean over label elements) from each output to each class label.
  /// Throws InvalidArgument as predict().
  torch::Tensor distances(const torch::Tensor& outputs) const;

  /// Whether each output is within the threshold of its true label: bool `[N]`.
  /// Throws InvalidArgument for categorical labels (the rule is for label regression), outputs as
  /// predict(), and class_ids that are not 1-D integer `[N]` in [0, C) (any device).
  torch::Tensor within_threshold(const torch::Tensor& outputs, const torch::Tensor& class_ids) const;

  /// Predictions and threshold hits for a batch, as counts to sum. `class_ids`: 1-D integer `[N]` in [0, C).
  /// Ensures: `*predicted`, if given, holds predict(outputs) (for callers that keep each image's
  /// prediction too, without deciding twice).
  /// Throws InvalidArgument as predict() and within_threshold().
  EvaluationTally tally(const torch::Tensor& outputs, const torch::Tensor& class_ids, torch::Tensor* predicted = nullptr) const;

  const labels::LabelRepresentation& labels() const noexcept { return *labels_; }
  const NearestNeighborOptions& options() const noexcept { return options_; }

 private:
  void check_outputs(const torch::Tensor& outputs) const;
  torch::Tensor check_ids(const torch::Tensor& class_ids, std::int64_t n, const torch::Device& device) const;
  std::shared_ptr<const labels::LabelRepresentation> labels_;
  NearestNeighborOptions options_;
  torch::Tensor centred_labels_;  // [C, D] float32, labels minus their mean
  torch::Tensor label_mean_;      // [D]
  torch::Tensor label_norms_;     // [C] squared norms of the centred labels
};

}  // namespace labelrep::eval
