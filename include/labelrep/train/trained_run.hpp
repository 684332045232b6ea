#pragma once
/// \file trained_run.hpp  A run directory loaded back for analysis: its configuration, the exact label
/// set it trained on, the model with its best weights, and its data prepared as it was for training.
///
/// Example (hear what a model says for test image 7):
/// \code
///   auto run = labelrep::train::load_trained_run("runs/speech-seed0");
///   auto test = labelrep::train::load_experiment_data(run.config, labelrep::data::Split::kTest);
///   auto batches = labelrep::train::evaluation_batches(test, torch::tensor({7L}), run.statistics, 1);
///   labelrep::data::Batch batch;
///   batches.start_epoch(0);
///   batches.next(batch);
///   torch::NoGradGuard no_grad;
///   torch::Tensor spoken = run.model->forward(batch.images)[0];   // a [64, 64] dB spectrogram
/// \endcode

#include <memory>
#include <string>

#include "labelrep/data/dataset.hpp"
#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/experiment.hpp"

namespace labelrep::train {

struct LABELREP_API TrainedRun {
  ExperimentConfig config;                                  ///< as in config.json
  std::shared_ptr<const labels::LabelRepresentation> labels; ///< the label set of labels.npy
  models::Model model{nullptr};                             ///< best weights (last if none is best yet), eval mode
  data::ChannelStatistics statistics;                       ///< the normalisation the model was trained with
  std::string checkpoint;                                   ///< the checkpoint file the weights came from
};

/// Loads a run written by run_experiment (finished or not). Requires config.json, labels.npy and
/// best.ckpt or last.ckpt in `run_dir`. Throws IoError naming the missing file, FormatError for a
/// damaged config.json (fields of the wrong type included), metrics.csv or label file,
/// CorruptCheckpoint for a damaged checkpoint, InvalidArgument for a configuration labelrep does not
/// know (a dataset or encoder name) and for a device that is not there (no CUDA, or cuda:N beyond the
/// machine's devices).
LABELREP_API TrainedRun load_trained_run(const std::string& run_dir, const std::string& device = "cpu");

/// The train or test images of the experiment's dataset, prepared as run_experiment prepares them
/// (padded to ExperimentConfig::padded_side()), on the CPU. Throws what the dataset loaders throw.
LABELREP_API data::ImageDataset load_experiment_data(const ExperimentConfig& config, data::Split split);

}  // namespace labelrep::train
