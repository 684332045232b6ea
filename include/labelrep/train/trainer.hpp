#pragma once
/// \file trainer.hpp  Training a model on a label representation: the step-level pieces and a Trainer.
///
/// The pieces — `train_step`, `evaluate`, `apply_schedule`, checkpoints (checkpoint.hpp) and the
/// recipe (recipe.hpp) — are public, so a custom loop is a few lines:
/// \code
///   for (std::int64_t epoch = 0; epoch < recipe.epochs(); ++epoch) {
///     batches.start_epoch(epoch);
///     labelrep::data::Batch batch;
///     for (std::int64_t i = 0; batches.next(batch); ++i) {
///       // Before every step, at the fractional epoch: the one-cycle schedule moves lr and momentum per step.
///       labelrep::train::apply_schedule(optimizer, recipe, epoch + static_cast<double>(i) / batches.batches_per_epoch());
///       labelrep::train::train_step(model, optimizer, batch, *labels);
///     }
///     auto validation = labelrep::train::evaluate(model, evaluator, validation_batches);
///   }
/// \endcode
/// The Trainer runs that loop with the paper's protocol: validation after every epoch, model selection
/// by validation accuracy, final numbers on the test set, a checkpoint after every epoch from which an
/// interrupted run resumes exactly (on CPU with the same thread count: bit-identical weights).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <torch/arg.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>

#include "labelrep/data/batcher.hpp"
#include "labelrep/data/dataset.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "labelrep/train/graphed_step.hpp"
#include "labelrep/train/loss.hpp"
#include "labelrep/train/precision.hpp"
#include "labelrep/train/recipe.hpp"
#include "labelrep/train/run_directory.hpp"

namespace labelrep {
class ProgressLine;
}  // namespace labelrep

namespace labelrep::dist {
class ProcessGroup;     // labelrep/dist/process_group.hpp
class GradientReducer;
}  // namespace labelrep::dist

namespace labelrep::train {

/// Sets the learning rate of every parameter group (for any optimizer; an SGD loop following a recipe
/// calls apply_schedule instead, which also sets the one-cycle momentum).
LABELREP_API void set_learning_rate(torch::optim::Optimizer& optimizer, double learning_rate);
/// Sets the learning rate (and, for the one-cycle schedule, the momentum) of an SGD optimizer for a
/// fractional epoch of `recipe` — what the Trainer calls before every step.
LABELREP_API void apply_schedule(torch::optim::SGD& optimizer, const TrainingRecipe& recipe, double epoch);

/// One optimisation step on a batch: forward (in the model's current mode, under bf16 autocast for
/// Precision::kBFloat16), label_loss in float32, backward, step.
/// Returns the loss as a detached scalar tensor on the batch's device (reading it synchronises a GPU,
/// so read it only when needed; the Trainer checks it for NaN every few steps). Throws InvalidArgument
/// for a batch whose shape does not fit the model or labels.
LABELREP_API torch::Tensor train_step(models::Model& model, torch::optim::Optimizer& optimizer, const data::Batch& batch,
                                      const labels::LabelRepresentation& labels, LossKind loss = LossKind::kAuto,
                                      Precision precision = Precision::kFloat32);

/// What evaluate() decides on: each image's own output (the paper's protocol), or the mean of the
/// outputs for the image and its horizontal mirror image (test-time flip augmentation; for a model
/// trained with random horizontal flips, on data whose classes look the same mirrored). The mean is
/// taken in output units (label values, or logits for categorical labels) before the nearest-label
/// decision and the threshold rule.
enum class EvaluationViews { kImage, kImageAndMirror };

/// Evaluates every batch of an epoch of `batches` (use a batcher without shuffling or augmentation) in
/// eval mode and without gradients (the forward pass under bf16 autocast for kBFloat16, the decision in
/// float32), restoring the model's mode afterwards. kImageAndMirror runs the images and their mirror
/// images as one forward pass of twice the batch. A `progress` line, when given, advances by each
/// batch's images (see core/progress.hpp; it changes no result). Throws InvalidArgument for a
/// batcher that yields no image, outputs or class ids that do not fit the evaluator, or data on
/// another device than the model.
LABELREP_API eval::EvaluationResult evaluate(models::Model& model, const eval::NearestNeighborEvaluator& evaluator,
                                             data::Batcher& batches, Precision precision = Precision::kFloat32,
                                             EvaluationViews views = EvaluationViews::kImage, ProgressLine* progress = nullptr);

/// A Batcher over `indices` of `dataset` for evaluation: no shuffling, no augmentation.
LABELREP_API data::Batcher evaluation_batches(const data::ImageDataset& dataset, const torch::Tensor& indices,
                                              const data::ChannelStatistics& statistics, std::int64_t batch_size = 500);

struct LABELREP_API TrainerOptions {
  explicit TrainerOptions(TrainingRecipe recipe) : recipe_(std::move(recipe)) {}
  TORCH_ARG(TrainingRecipe, recipe);
  TORCH_ARG(LossKind, loss) = LossKind::kAuto;
  /// Seeds the batch order and augmentation (the model's initial weights are seeded by make_model).
  TORCH_ARG(std::uint64_t, seed) = 0;
  /// Threshold of the evaluator's threshold accuracy.
  TORCH_ARG(double, threshold) = 3.5;
  /// Training augmentation (the paper's): random crops of the image zero-padded by this many pixels
  /// (0: no crops) and random horizontal flips. Turn flips off for data whose classes are not
  /// mirror-symmetric (digits, text, left/right layouts).
  TORCH_ARG(std::int64_t, crop_padding) = 4;
  TORCH_ARG(bool, horizontal_flip) = true;
  /// Train in channels-last memory format (models::set_memory_format, applied to the model by the
  /// Trainer's constructor): faster convolutions on CPU, the same numbers up to rounding.
  TORCH_ARG(bool, channels_last) = true;
  /// kBFloat16: bf16 autocast for training and evaluation (train::default_precision picks it on CUDA).
  /// kFloat32 is the paper's setting and the one whose CPU runs resume bit-identically.
  TORCH_ARG(Precision, precision) = Precision::kFloat32;
  /// Run every full training batch as one captured CUDA graph (GraphedTrainStep; the last, smaller
  /// batch of an epoch runs eagerly). Requires the model on a CUDA device, a build with
  /// cuda_graphs_available() and no data parallelism. The same training up to rounding. (Without it a
  /// single-process Trainer on a GPU runs the same GraphedTrainStep without capture, so that no step
  /// waits for the device; on the CPU, and data-parallel, it runs train_step's libtorch SGD.)
  TORCH_ARG(bool, cuda_graphs) = false;
  /// Validation and test outputs from each image alone (the paper's) or averaged with its mirror image
  /// (EvaluationViews; model selection then follows the same rule as the test).
  TORCH_ARG(EvaluationViews, evaluation_views) = EvaluationViews::kImage;
  /// Show a progress line per epoch on a terminal (quiet when stderr is not one).
  TORCH_ARG(bool, progress) = true;
  /// Also checkpoint every this many steps inside an epoch (0: only at the end of each epoch).
  TORCH_ARG(std::int64_t, checkpoint_every_steps) = 0;
  /// Keep the weights after these epochs as snapshots (RunDirectory::snapshot_file; 0: the initial
  /// weights, written when a new run starts), for looking at training as it progresses (t-SNE, the
  /// paper's Figure 5). Sealed like every checkpoint, weights and state only (no optimizer).
  TORCH_ARG(std::vector<std::int64_t>, snapshot_epochs) = {};
  /// Also keep a snapshot every this many epochs (0: none).
  TORCH_ARG(std::int64_t, snapshot_every) = 0;
  /// The run's configuration as a JSON object, kept in checkpoints and result.json (the Trainer's
  /// constructor throws InvalidArgument for anything else).
  TORCH_ARG(std::string, config_json) = "{}";
  /// Data-parallel training over this group (null or one process: ordinary training). Every rank
  /// builds the same Trainer; rank 0's weights and buffers are broadcast at the start (and its
  /// checkpoint when resuming), each rank trains on its shard of every global batch of
  /// recipe().batch_size() images, gradients are summed over the ranks (weighted by shard size, so the
  /// step is the global batch's), BatchNorm statistics are per rank as in PyTorch's DDP without
  /// SyncBatchNorm and rank 0's are used for evaluation. Only rank 0 validates and writes the run
  /// directory; the other ranks must be given a directory of their own, which stays empty.
  TORCH_ARG(std::shared_ptr<dist::ProcessGroup>, process_group) = nullptr;
};

/// What one epoch did.
struct LABELREP_API EpochSummary {
  std::int64_t epoch = 0;  ///< 1-based
  /// The validation accuracies are NaN for a Trainer without a validation set.
  double learning_rate = 0, train_loss = 0, validation_accuracy = 0, validation_threshold_accuracy = 0;
  double images_per_second = 0, seconds = 0;
  bool best = false;      ///< validation accuracy improved, or no validation set (best.ckpt written)
  bool complete = true;   ///< false: stopped inside the epoch by a step budget (no validation yet)
};

class LABELREP_API Trainer {
 public:
  /// `train_set` holds the training images; `train_indices` / `validation_indices` select from it (a
  /// DataSplit and a data level). `validation_indices` may be empty: then no epoch is validated and the
  /// last epoch's weights are the selected ones (best.ckpt after every epoch, best_epoch the last,
  /// best_validation_accuracy left at -1; result.json says "selection": "last epoch"). `run` is where
  /// checkpoints, metrics and the result go; if it holds a
  /// last.ckpt the Trainer resumes from it; otherwise it starts from scratch and drops metrics rows and a
  /// best.ckpt left by an earlier start that was stopped before its first last.ckpt. Requires the model
  /// and data on the same device and a writable `run` (not RunDirectory::open_read_only).
  /// An epoch's last, partial batch is left out when it would give a rank a single image
  /// (BatcherOptions::skip_one_image_shards: batch normalisation cannot train on one image).
  /// Throws InvalidArgument for inconsistent inputs (class counts, devices, no training indices, too
  /// few of them for one batch of two images per rank), options the Batcher refuses, snapshot epochs
  /// that a resumed run has passed without keeping them, and a read-only run directory; labelrep::Error
  /// for cuda_graphs in a build without CUDA graph support; IoError, FormatError or CorruptCheckpoint
  /// for a run directory whose checkpoints or metrics cannot be read back when resuming.
  Trainer(models::Model model, std::shared_ptr<const labels::LabelRepresentation> labels, data::ImageDataset train_set,
          const torch::Tensor& train_indices, const torch::Tensor& validation_indices, data::ChannelStatistics statistics,
          TrainerOptions options, RunDirectory run);

  /// In data-parallel training every call below is collective: all ranks make the same calls.
  /// A failed peer makes them throw dist::DistributedError.
  /// Runs the remaining epochs (all of them for a new run). Returns the summaries of the epochs run now.
  /// With `max_steps` > 0 it stops after that many optimizer steps, possibly inside an epoch, with a
  /// checkpoint to continue from (for time-sliced or preemptible jobs).
  std::vector<EpochSummary> fit(std::int64_t max_steps = 0);
  /// Runs the next epoch (or the rest of an interrupted one) and checkpoints. With `max_steps` > 0 it
  /// stops after that many steps and returns a summary with complete = false. Throws InvalidArgument
  /// when all epochs are done, and when the training loss stops being finite (training diverged; fit
  /// too), before any checkpoint of the diverged weights is written.
  EpochSummary train_epoch(std::int64_t max_steps = 0);
  /// Loads the selected weights (the best by validation accuracy, or the last epoch's without a
  /// validation set) into the model, evaluates `test_set` and writes
  /// result.json with the configuration. Returns the evaluation. In data-parallel training only rank 0
  /// finishes (other ranks: InvalidArgument). Throws InvalidArgument for a test set with another
  /// class count or on another device than the model.
  eval::EvaluationResult finish(const data::ImageDataset& test_set);

  const TrainingState& state() const noexcept { return state_; }
  models::Model& model() noexcept { return model_; }
  const RunDirectory& run() const noexcept { return run_; }
  const eval::NearestNeighborEvaluator& evaluator() const noexcept { return evaluator_; }

 private:
  void checkpoint(const std::string& name);
  void snapshot_if_wanted();
  bool distributed() const noexcept;
  // Throws InvalidArgument (training diverged) for a non-finite sum of batch losses.
  void require_finite_loss(double loss_sum, std::int64_t epoch) const;
  bool is_rank0() const noexcept;
  // The sum over the ranks of a rank's scalar (its own value without data parallelism).
  double sum_over_ranks(const torch::Tensor& scalar);
  models::Model model_;
  std::shared_ptr<const labels::LabelRepresentation> labels_;
  data::ImageDataset train_set_;
  data::ChannelStatistics statistics_;
  TrainerOptions options_;
  RunDirectory run_;
  eval::NearestNeighborEvaluator evaluator_;
  data::Batcher batches_;
  // None without a validation set: then no epoch is validated and the last one is the result.
  std::optional<data::Batcher> validation_batches_;
  std::unique_ptr<torch::optim::SGD> optimizer_;
  std::unique_ptr<GraphedTrainStep> device_step_;  // made at the first step on a GPU; captured as a graph with cuda_graphs
  TrainingState state_;
  std::shared_ptr<dist::GradientReducer> reducer_;
};

}  // namespace labelrep::train
