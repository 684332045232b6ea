#pragma once
/// \file graphed_step.hpp  The training step as one CUDA graph: forward, loss, backward and the SGD
/// update captured once and replayed for every batch of the same shape.
///
/// At small models and large batches a GPU waits for the host to launch the next of a step's ~1,000
/// small kernels. A CUDA graph launches them all at once. Capture needs everything a step touches at
/// fixed addresses, so GraphedTrainStep keeps the batch in static buffers, gathers the targets itself,
/// and applies the optimizer's SGD update with the learning rate and momentum as device scalars (set
/// before every replay, so per-step schedules such as one-cycle keep working). The momentum buffers it
/// updates are the ones in the optimizer's own state, so checkpoints save and load them as usual.
/// Example (the Trainer does this with TrainerOptions::cuda_graphs):
/// \code
///   torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
///   labelrep::train::GraphedTrainStep step(model, optimizer, labels,
///       labelrep::train::GraphedStepOptions().precision(labelrep::train::Precision::kBFloat16).batch_size(512));
///   while (batches.next(batch)) {
///     labelrep::train::apply_schedule(optimizer, recipe, epoch_fraction);   // read at every step
///     torch::Tensor loss = step.step(batch);   // replays the graph for full batches
///   }
///   step.check_targets();                      // throws if any batch had a class id out of range
/// \endcode
/// The result is the eager step's up to rounding (the same operations; the update multiplies by a
/// device scalar instead of a host one). Batches of another shape (the last, smaller batch of an epoch)
/// run the same arithmetic eagerly on the same buffers.

#include <cstdint>
#include <memory>
#include <torch/arg.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>

#include "labelrep/data/batcher.hpp"
#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/loss.hpp"
#include "labelrep/train/precision.hpp"

namespace labelrep::train {

/// Whether this labelrep was built with CUDA graph support (a CUDA libtorch whose CUDA headers it
/// compiled against; `cmake` prints "labelrep CUDA graphs: ON").
LABELREP_API bool cuda_graphs_available() noexcept;

struct LABELREP_API GraphedStepOptions {
  TORCH_ARG(LossKind, loss) = LossKind::kAuto;
  TORCH_ARG(Precision, precision) = Precision::kFloat32;
  /// Capture a CUDA graph (CUDA only). false runs the same step eagerly on any device —
  /// what the CPU tests check the arithmetic with.
  TORCH_ARG(bool, capture) = true;
  /// The batch size to capture (0: the first batch's). Batches of another size run eagerly.
  TORCH_ARG(std::int64_t, batch_size) = 0;
  /// Eager steps run before capture (cuDNN, cuBLAS and the allocator settle); the weights, buffers
  /// and momentum are put back afterwards, so warm-up does not change the training.
  TORCH_ARG(std::int64_t, warmup_steps) = 3;
};

class LABELREP_API GraphedTrainStep {
 public:
  /// Requires: `optimizer` holds `model`'s parameters (any number of groups, dampening 0) and outlives
  /// this object; the model on one device, in the mode to train in. Throws InvalidArgument for null
  /// labels, a null model or one without parameters, negative counts, dampening != 0, capture on a
  /// non-CUDA device, cross-entropy on labels whose rows are not probability vectors, and Error if capture is
  /// wanted but this build has no CUDA graph support (cuda_graphs_available()).
  GraphedTrainStep(models::Model model, torch::optim::SGD& optimizer, std::shared_ptr<const labels::LabelRepresentation> labels,
                   GraphedStepOptions options = {});
  ~GraphedTrainStep();
  GraphedTrainStep(const GraphedTrainStep&) = delete;
  GraphedTrainStep& operator=(const GraphedTrainStep&) = delete;

  /// One optimisation step on `batch` with the optimizer's current learning rate, momentum, weight
  /// decay and Nesterov setting: forward (bf16 autocast for Precision::kBFloat16), the loss in
  /// float32, backward, SGD update. Captures the graph at the first batch of the capture size, and
  /// again when the parameters, buffers or momentum buffers were replaced (load_checkpoint copies into
  /// the parameters and buffers but gives the optimizer new momentum buffers) or the
  /// weight decay, Nesterov setting or parameter groups changed. Returns the loss as a detached float32
  /// scalar on the device (reading it synchronises). Does not check the class ids' values (that would
  /// synchronise the GPU every step): an id out of [0, C) trains on a clamped id and is reported by
  /// check_targets(). Throws InvalidArgument for images that are not floating-point `[N, C, H, W]`,
  /// targets that are not int64 `[N]` (N > 0), or a batch on another device than the model; images
  /// whose channel count or dtype does not fit the model come back from libtorch as TorchError.
  torch::Tensor step(const data::Batch& batch);
  /// Throws InvalidArgument if a batch since the last call held a class id outside [0, C), then clears
  /// the record. Synchronises the device. Call it before trusting or saving the weights.
  void check_targets();
  /// Drops the captured graph (after the device finished its launches); the next full batch captures
  /// again. Throws TorchError if the device reports an error.
  void invalidate();
  /// Whether a graph is captured now.
  bool captured() const noexcept;
  /// Steps that replayed the graph / ran eagerly, and captures made, since construction.
  std::int64_t replayed_steps() const noexcept;
  std::int64_t eager_steps() const noexcept;
  std::int64_t captures() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace labelrep::train
