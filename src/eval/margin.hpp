#pragma once
// The decision margin (internal header), shared by the attacks' margin objective and Grad-CAM's margin
// score, so that both measure the same thing as NearestNeighborEvaluator::predict decides by.
#include <limits>

#include <torch/types.h>

#include "labelrep/eval/nearest_neighbor.hpp"

namespace labelrep::detail {

/// Each output's score for every class, the scores the evaluator decides by: the logits (categorical
/// labels) or minus the mean squared error to each label; the highest is predict()'s class.
/// Differentiable with respect to the outputs. `[N, C]`.
inline torch::Tensor class_scores(const eval::NearestNeighborEvaluator& evaluator, const torch::Tensor& outputs) {
  // Logits in float32 or float64 (as predict's argmax sees them); distances are float32 (as predict's).
  const auto logits = outputs.scalar_type() == torch::kDouble ? outputs : outputs.to(torch::kFloat32);
  return evaluator.labels().is_categorical() ? logits : evaluator.distances(outputs).neg();
}

/// Each output's margin for `ids` `[N]` (int64, on the outputs' device, in range: not checked here):
/// the class's score minus the best other class's (class_scores). Positive while the output is decoded
/// as `ids`; differentiable with respect to the outputs. `[N]`.
inline torch::Tensor class_margins(const eval::NearestNeighborEvaluator& evaluator, const torch::Tensor& outputs, const torch::Tensor& ids) {
  const auto scores = class_scores(evaluator, outputs);
  const auto column = ids.unsqueeze(1);
  const auto own = scores.gather(1, column).squeeze(1);
  const auto others = scores.scatter(1, column, -std::numeric_limits<float>::infinity()).amax(1);
  return own - others;
}

}  // namespace labelrep::detail
