#pragma once
/// \file checkpoint.hpp  Crash-safe checkpoints: model, optimizer and training state in one sealed file.
///
/// A checkpoint is libtorch's archive of the model's parameters and buffers, the optimizer's state
/// and labelrep's TrainingState (as JSON), wrapped in a verified envelope (core/envelope.hpp) and
/// written atomically. Loading verifies the envelope before libtorch parses a byte. The optimizer
/// state of SGD, Adam, AdamW, RMSprop and Adagrad is stored in parameter order (libtorch's own format
/// keys it by memory address), so the same training state always gives the same bytes.
///
/// Example:
/// \code
///   labelrep::train::save_checkpoint(run_dir + "/last.ckpt", *model, &optimizer, state);
///   auto state = labelrep::train::load_checkpoint(run_dir + "/last.ckpt", *model, &optimizer);
/// \endcode

#include <cstdint>
#include <string>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "labelrep/export.hpp"

namespace labelrep::train {

/// What, besides weights and optimizer moments, a trainer needs to continue exactly where it stopped.
struct LABELREP_API TrainingState {
  std::int64_t epoch = 0;            ///< completed epochs
  std::int64_t step = 0;             ///< optimizer steps taken
  std::int64_t batch_in_epoch = 0;   ///< batches done in the running epoch (0 at an epoch boundary)
  double epoch_loss_sum = 0.0;       ///< sum of the running epoch's batch losses so far
  double best_validation_accuracy = -1.0;
  std::int64_t best_epoch = -1;
  int threads = 0;                   ///< intra-op threads when saved (bitwise resume needs the same)
  std::string config_json = "{}";    ///< the run's configuration, for inspection
};

/// Writes a checkpoint atomically. `optimizer` may be null (weights only). Requires: a non-empty path,
/// `state.config_json` valid JSON, `state`'s loss sum and best accuracy finite. Throws InvalidArgument
/// otherwise (nothing written), TorchError if libtorch cannot serialise the model or optimizer, IoError
/// if the file cannot be written (the previous file, if any, is left as it was).
LABELREP_API void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                                  const torch::optim::Optimizer* optimizer, const TrainingState& state);

/// Loads a checkpoint into `model` (and `optimizer` when not null) and returns the training state.
/// Ensures: the values are copied into the model's own tensors, which keep their device and storage
/// (a checkpoint saved on a GPU loads into a model on the CPU and the other way round, and a captured
/// CUDA graph stays valid); the optimizer's state lands on each parameter's device.
/// Throws IoError (unreadable), CorruptCheckpoint (damaged or not a checkpoint: nothing is loaded),
/// FormatError (a sound checkpoint of a different model or optimizer, naming the mismatch — a missing
/// tensor, a tensor or module the model lacks, or a shape or dtype that differs; the model and the
/// optimizer are left as they were).
LABELREP_API TrainingState load_checkpoint(const std::string& path, torch::nn::Module& model,
                                           torch::optim::Optimizer* optimizer);

/// The training state of a checkpoint alone, without a model (to inspect a checkpoint, or to compare
/// best.ckpt with last.ckpt). Verifies the envelope first. Throws as load_checkpoint.
LABELREP_API TrainingState read_checkpoint_state(const std::string& path);

}  // namespace labelrep::train
