#pragma once
// The decision margin (internal header), shared by the attacks' margin objective and Grad-CAM's margin
// score, so that both measure the same thing as NearestNeighborEvaluator::predict decides by; and the
// DLR loss of the attacks' DLR objective, built on the same scores.
#include <limits>
#include <tuple>

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

/// Each row's margin for `ids` `[N]` (int64, in range: not checked here) from its scores `[N, C]`: the
/// class's score minus the best other class's. `[N]`.
inline torch::Tensor score_margins(const torch::Tensor& scores, const torch::Tensor& ids) {
  const auto column = ids.unsqueeze(1);
  const auto own = scores.gather(1, column).squeeze(1);
  const auto others = scores.scatter(1, column, -std::numeric_limits<float>::infinity()).amax(1);
  return own - others;
}

/// Each output's margin for `ids` `[N]` (int64, on the outputs' device, in range: not checked here):
/// the class's score minus the best other class's (class_scores). Positive while the output is decoded
/// as `ids`; differentiable with respect to the outputs. `[N]`.
inline torch::Tensor class_margins(const eval::NearestNeighborEvaluator& evaluator, const torch::Tensor& outputs, const torch::Tensor& ids) {
  return score_margins(class_scores(evaluator, outputs), ids);
}

/// The DLR loss (Croce & Hein 2020, AutoAttack's "difference of logits ratio") of each output to `ids`
/// `[N]` (as class_margins): minus the margin, divided by the spread of the output's own top scores,
/// z₁ − z₃ (untargeted) or z₁ − (z₃ + z₄)/2 (targeted: `ids` are the targets), with z₁ ≥ z₂ ≥ … its
/// sorted scores. So it is unchanged when an output's scores are all scaled by a positive factor or
/// shifted, which neither the training loss nor the margin is. Needs C ≥ 3 (targeted: 4) classes, not
/// checked here. Differentiable with respect to the outputs. `[N]`.
inline torch::Tensor dlr_losses(const eval::NearestNeighborEvaluator& evaluator, const torch::Tensor& outputs, const torch::Tensor& ids,
                                bool targeted) {
  const auto scores = class_scores(evaluator, outputs);
  const auto top = std::get<0>(scores.topk(targeted ? 4 : 3, 1));
  const auto spread = targeted ? top.select(1, 0) - 0.5 * (top.select(1, 2) + top.select(1, 3)) : top.select(1, 0) - top.select(1, 2);
  // AutoAttack's 1e-12 keeps an output whose top scores tie finite.
  return score_margins(scores, ids).neg() / (spread + 1e-12);
}

}  // namespace labelrep::detail
