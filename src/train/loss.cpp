#include "labelrep/train/loss.hpp"

#include <ATen/core/Reduction.h>

#include <fmt/format.h>

#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"
#include "labels/probability_rows.hpp"
#include "train/loss_core.hpp"

namespace labelrep::train {

LossKind default_loss(const labels::LabelRepresentation& labels) {
  return labels.is_categorical() ? LossKind::kCrossEntropy : LossKind::kSmoothL1;
}

const char* loss_name(LossKind kind) {
  switch (kind) {
    case LossKind::kAuto: return "auto";
    case LossKind::kCrossEntropy: return "cross-entropy";
    case LossKind::kSmoothL1: return "smooth-l1";
    case LossKind::kMse: return "mse";
  }
  return "?";
}

LossKind parse_loss(const std::string& name) {
  for (auto k : {LossKind::kAuto, LossKind::kCrossEntropy, LossKind::kSmoothL1, LossKind::kMse})
    if (name == loss_name(k)) return k;
  throw InvalidArgument(fmt::format("unknown loss '{}' (expected auto, cross-entropy, smooth-l1 or mse)", name));
}

namespace {

// label_loss's checks; returns the targets of `class_ids` in the outputs' dtype and resolves `kind`.
// A `mean` (label_loss) needs at least one image; per-image losses of no images are an empty [0].
torch::Tensor checked_targets(const char* who, const torch::Tensor& outputs, const torch::Tensor& class_ids,
                              const labels::LabelRepresentation& labels, LossKind& kind, const torch::Tensor& scale, bool mean) {
  if (!outputs.defined() || !outputs.is_floating_point())
    throw InvalidArgument(fmt::format("{}: outputs must be a floating-point tensor", who));
  if (outputs.dim() < 1) throw InvalidArgument(fmt::format("{}: outputs must be [N, ...], got a scalar", who));
  if (mean && outputs.size(0) == 0) throw InvalidArgument(fmt::format("{}: an empty batch has no mean loss (it would be NaN)", who));
  if (!class_ids.defined() || class_ids.dim() != 1)
    throw InvalidArgument(fmt::format("{}: class_ids must be a 1-D tensor [N] with N = {} (the outputs' rows)", who, outputs.size(0)));
  if (class_ids.size(0) != outputs.size(0))
    throw InvalidArgument(fmt::format("{}: class_ids has {} rows but outputs has {}", who, class_ids.size(0), outputs.size(0)));
  if (kind == LossKind::kAuto) kind = default_loss(labels);
  // targets() checks the ids' dtype and range and names the offending id.
  auto target = labels.targets(class_ids.to(outputs.device())).to(outputs.scalar_type());
  if (target.sizes() != outputs.sizes())
    throw InvalidArgument(fmt::format("{}: outputs has shape {} but the {} targets have shape {}", who,
                                      c10::str(outputs.sizes()), labels.name(), c10::str(target.sizes())));
  if (kind == LossKind::kCrossEntropy && outputs.dim() != 2)
    throw InvalidArgument(fmt::format("{}: cross-entropy needs logits [N, C] and vector labels", who));
  // Categorical labels have probability rows by construction (is_categorical() promises it), so the hot
  // path of every step checks only labels that were not made for cross-entropy.
  if (kind == LossKind::kCrossEntropy && !labels.is_categorical()) require_probability_rows(labels, who);
  if (scale.defined() && scale.dim() != 0)
    throw InvalidArgument(fmt::format("{}: the scale must be a scalar tensor, got shape {}", who, c10::str(scale.sizes())));
  if (scale.defined() && kind == LossKind::kCrossEntropy)
    throw InvalidArgument(fmt::format("{}: cross-entropy takes no scale (only regression losses measure differences)", who));
  return target;
}

}  // namespace

torch::Tensor label_loss(const torch::Tensor& outputs, const torch::Tensor& class_ids,
                         const labels::LabelRepresentation& labels, LossKind kind, const torch::Tensor& scale) try {
  const auto target = checked_targets("label_loss", outputs, class_ids, labels, kind, scale, /*mean=*/true);
  return loss_against_targets(outputs, target, kind, scale.defined() ? scale.to(outputs.device()) : scale);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("label_loss");
}

torch::Tensor per_image_label_loss(const torch::Tensor& outputs, const torch::Tensor& class_ids,
                                   const labels::LabelRepresentation& labels, LossKind kind, const torch::Tensor& scale) try {
  const auto target = checked_targets("per_image_label_loss", outputs, class_ids, labels, kind, scale, /*mean=*/false);
  return loss_against_targets(outputs, target, kind, scale.defined() ? scale.to(outputs.device()) : scale, Reduction::kPerImage);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("per_image_label_loss");
}

void require_probability_rows(const labels::LabelRepresentation& labels, const char* where) {
  const auto row = labels::detail::first_non_probability_row(labels.matrix());
  if (!row) return;
  const auto c = *row;
  const auto rows = labels.matrix().reshape({labels.num_classes(), -1}).to(torch::kDouble);
  throw InvalidArgument(fmt::format("{}: cross-entropy needs labels whose rows are probability vectors (non-negative, summing to 1), "
                                    "but the {} label of class {} has minimum {:.4g} and sum {:.6g}; regress such labels with "
                                    "smooth-l1 or mse",
                                    where, labels.name(), c, rows[c].min().item<double>(), rows[c].sum().item<double>()));
}

torch::Tensor loss_against_targets(const torch::Tensor& outputs, const torch::Tensor& target, LossKind kind, const torch::Tensor& scale,
                                   Reduction reduction) {
  // Both sides divided by the scale: the loss of (output − target) / scale, i.e. of the standardized
  // regression (a StandardizedDecoder's mean cancels in the difference).
  const auto scaled = [&](const torch::Tensor& t) { return scale.defined() ? t / scale : t; };
  const bool per_image = reduction == Reduction::kPerImage;
  // Per element (reduction none) then each image's mean; or the whole batch's mean at once.
  const std::int64_t elementwise = per_image ? at::Reduction::None : at::Reduction::Mean;
  const auto reduce = [&](const torch::Tensor& t) { return per_image ? t.flatten(1).mean(1) : t; };
  switch (kind) {
    case LossKind::kCrossEntropy: {
      const auto per_row = -(target * torch::log_softmax(outputs, 1)).sum(1);
      return per_image ? per_row : per_row.mean();
    }
    case LossKind::kSmoothL1: return reduce(torch::smooth_l1_loss(scaled(outputs), scaled(target), elementwise, /*beta=*/1.0));
    case LossKind::kMse: return reduce(torch::mse_loss(scaled(outputs), scaled(target), elementwise));
    case LossKind::kAuto: break;
  }
  throw InternalError("label_loss: unhandled loss kind");
}

}  // namespace labelrep::train
