#pragma once
/// \file loss.hpp  The training loss, chosen from the label representation.
///
/// Categorical labels train with cross-entropy against their (possibly smoothed) one-hot rows; every
/// other label kind regresses its label with smooth L1 (Huber, β = 1), as the paper. This is the one
/// place where that choice is made.

#include <torch/types.h>

#include <string>

#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"

namespace labelrep::train {

enum class LossKind {
  kAuto,          ///< from the labels: cross-entropy if categorical, else smooth L1
  kCrossEntropy,  ///< −Σ target · log_softmax(output), with the label rows as targets (smoothing included)
  kSmoothL1,      ///< mean smooth L1 (β = 1) between the output and the class label
  kMse,           ///< mean squared error to the class label
};

/// The loss a label set trains with by default.
LABELREP_API LossKind default_loss(const labels::LabelRepresentation& labels);

/// "cross-entropy", "smooth-l1", "mse" or "auto".
LABELREP_API const char* loss_name(LossKind kind);
/// Parses loss_name()'s strings. Throws InvalidArgument naming the value otherwise.
LABELREP_API LossKind parse_loss(const std::string& name);

/// Mean loss of a batch. Requires: outputs `[N, ...label_shape]` with N ≥ 1 (logits `[N, C]` for cross-entropy),
/// class_ids 1-D integer `[N]` in [0, C) on any device. `scale`: a positive scalar tensor that the
/// regression losses measure output − target in (the model's `decoder().loss_scale()`: a
/// StandardizedDecoder's label standard deviation, so that the loss is the standardized regression's),
/// or undefined for 1; its sign is not checked (that would wait for the device every step). Throws
/// InvalidArgument (naming both shapes) for mismatches, for an empty batch, for an id out of range, for a scale with
/// cross-entropy or one that is not a scalar, and for cross-entropy on labels whose rows are not
/// probability vectors (non-negative, summing to 1; checked on the CPU class matrix).
LABELREP_API torch::Tensor label_loss(const torch::Tensor& outputs, const torch::Tensor& class_ids,
                                      const labels::LabelRepresentation& labels, LossKind kind = LossKind::kAuto,
                                      const torch::Tensor& scale = {});

/// Each image's own loss: `[N]`, whose mean is label_loss's (up to float rounding). For what ranks
/// or tracks images one by one (the APGD attack keeps each image's best point by it). Requires and
/// throws as label_loss, naming per_image_label_loss, except that an empty batch (N = 0) is no error:
/// it has no mean, but it has each of its no images' losses, an empty `[0]`.
LABELREP_API torch::Tensor per_image_label_loss(const torch::Tensor& outputs, const torch::Tensor& class_ids,
                                                const labels::LabelRepresentation& labels, LossKind kind = LossKind::kAuto,
                                                const torch::Tensor& scale = {});

}  // namespace labelrep::train
