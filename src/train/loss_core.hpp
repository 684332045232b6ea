#pragma once
// The arithmetic of label_loss without its checks (internal): the graphed training step computes the
// loss inside a CUDA graph, where the class-id range check of LabelRepresentation::targets (a device
// to host copy) cannot run, from targets it gathered itself.
#include <torch/types.h>

#include "labelrep/train/loss.hpp"

namespace labelrep::train {

// How loss_against_targets reduces: one batch mean, or one mean per image.
enum class Reduction { kBatchMean, kPerImage };

// Requires: `kind` resolved (not kAuto); `target` of `outputs`' shape and dtype (logits [N, C] for
// cross-entropy); `scale` undefined or a scalar on their device (regression losses only). The one
// place each loss formula is written. kPerImage gives `[N]`, each image's own loss (whose mean is the
// batch mean, up to float rounding).
torch::Tensor loss_against_targets(const torch::Tensor& outputs, const torch::Tensor& target, LossKind kind,
                                   const torch::Tensor& scale = {}, Reduction reduction = Reduction::kBatchMean);

// Throws InvalidArgument (naming `where` and the first offending class) unless every row of the
// labels' class matrix is a probability vector: non-negative and summing to 1 (to 1e-4). Reads the
// CPU class matrix only, so it never waits for a device.
void require_probability_rows(const labels::LabelRepresentation& labels, const char* where);

}  // namespace labelrep::train
