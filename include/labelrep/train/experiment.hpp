#pragma once
/// \file experiment.hpp  One training run of the paper's protocol, from a plain configuration.
///
/// run_experiment() does what a researcher's script would: load the dataset, split it with a seed,
/// take the data level, make the labels, build the model, train with validation-based model selection,
/// evaluate the best model on the test set and leave everything in the run directory. A run directory
/// with result.json is finished and is not trained again; one with last.ckpt resumes.
/// `labelrep train`, `labelrep demo` and experiment grids are thin layers over it.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "labelrep/data/split.hpp"
#include "labelrep/export.hpp"

namespace labelrep::dist {
class ProcessGroup;  // labelrep/dist/process_group.hpp
}

namespace labelrep::train {

struct LABELREP_API ExperimentConfig {
  std::string dataset = "fashion-mnist";  ///< fashion-mnist, cifar10, cifar100, cifar100-coarse
  std::string data_dir;                   ///< empty: the dataset's default location (Fashion-MNIST)
  std::string label = "category";         ///< a label kind or a .npy label file
  bool has_label_seed = false;            ///< false: the kind's default seed
  std::uint64_t label_seed = 0;
  std::int64_t label_size = 64;           ///< side of square label kinds
  /// Label smoothing ε in [0, 1) of category labels (CategoryLabelsOptions::smoothing): the
  /// cross-entropy target gives the true class 1 − ε + ε/C and each other class ε/C. 0: one-hot.
  double label_smoothing = 0;
  std::string encoder = "resnet32";
  std::string device = "cpu";             ///< cpu, cuda, cuda:N
  std::int64_t epochs = 10;
  std::int64_t batch_size = 128;
  double learning_rate = 0.1;
  double momentum = 0.9;
  double weight_decay = -1;               ///< < 0: the paper's value for the encoder and label type
  std::vector<double> milestones = {0.5, 0.75};
  double warmup_epochs = 0;
  std::string schedule = "step";          ///< step (the paper's milestones) or one-cycle (recipe.hpp)
  bool nesterov = false;                  ///< Nesterov momentum
  /// Regress the labels standardized to mean 0 and standard deviation 1 (models::standardize; the
  /// outputs stay in label units). Regression labels only.
  bool standardize_labels = false;
  /// fp32 (the paper's), bf16 (autocast, precision.hpp) or auto: bf16 on CUDA, fp32 on the CPU.
  std::string precision = "auto";
  std::uint64_t seed = 0;                 ///< split, data level, batch order, augmentation, initial weights
  /// Images held out of the training set for model selection. 0: none; every training image is
  /// trained on and the last epoch's weights are the result (as time_to_accuracy.py's baseline).
  std::int64_t validation = 5000;
  double level = 100;                     ///< data level, percent
  data::LevelBase level_base = data::LevelBase::kPool;
  double threshold = 3.5;
  /// Zero-pad smaller images to this side (Fashion-MNIST's 28 → 32, as the reference's Pad(2)).
  /// -1: 32 for the CIFAR encoders (resnet*, vgg19), no padding for small-cnn. 0: never pad.
  std::int64_t pad_to = -1;
  std::int64_t crop_padding = 4;          ///< augmentation: random crops of the image padded by this (0: none)
  bool horizontal_flip = true;            ///< augmentation: random horizontal flips
  /// Validation and test decide on the mean of the outputs for each image and its mirror image
  /// (EvaluationViews::kImageAndMirror, test-time flip augmentation). Needs horizontal_flip.
  bool mirror_evaluation = false;
  bool channels_last = true;              ///< channels-last memory format (faster on CPU)
  bool cuda_graphs = false;               ///< full batches as captured CUDA graphs (TrainerOptions::cuda_graphs; CUDA only)
  std::int64_t checkpoint_every_steps = 0;
  /// Keep a snapshot checkpoint (RunDirectory::snapshot_file) after these epochs (0: the initial
  /// weights), e.g. the paper's Figure 5 at 10/30/50/70/100% of training; and after every
  /// `snapshot_every` epochs (0: none). Snapshots do not change the run's numbers.
  std::vector<std::int64_t> snapshot_epochs;
  std::int64_t snapshot_every = 0;
  int threads = 0;                        ///< intra-op CPU threads; 0: one per hardware thread
  bool progress = true;
  std::string out;                        ///< the run directory

  /// Throws InvalidArgument naming the first invalid field: an unknown dataset, encoder or label kind
  /// (a label ending in .npy is a file, read when the run starts), a value out of range, or a text
  /// field that is not valid UTF-8, which config.json could not hold.
  void validate() const;
  /// The side images are padded to (pad_to with -1 resolved by the encoder); 0: none.
  std::int64_t padded_side() const;
  /// The configuration as JSON (config.json). Throws InvalidArgument for a text field that is not valid UTF-8.
  std::string to_json() const;
  /// Throws FormatError (naming `source`) for malformed JSON or fields of the wrong type; unknown
  /// fields are errors too, so that a typo does not silently fall back to a default.
  static ExperimentConfig from_json(const std::string& json, const std::string& source);

  /// Whether a field of the configuration says where or how a run ran (out, threads, device, memory
  /// format, CUDA graphs, checkpoints, snapshots, data directory, progress) rather than what it
  /// computes: runs that differ only in these are the same experiment.
  static bool is_execution_field(const std::string& key);
  /// Whether a field is one run_experiment adds to config.json to describe the run (label_kind,
  /// weight_decay_used, train_images, in_channels, precision_used).
  static bool is_recorded_field(const std::string& key);
};

struct LABELREP_API ExperimentResult {
  std::string run_dir;
  bool trained_now = false;          ///< false: the run had finished before and was only read
  double test_accuracy = 0;          ///< nearest label (argmax for categorical labels)
  bool has_threshold = false;
  double test_threshold_accuracy = 0;
  double best_validation_accuracy = 0;   ///< NaN for a run without a validation set
  std::int64_t best_epoch = 0;           ///< the selected epoch: the best on validation, or the last
  std::int64_t parameters = 0;
  double train_seconds = 0;          ///< training time of this call (0 if nothing was trained)
  std::string label_kind;
};

/// What a run would train on and test against, as check_experiment_inputs() found it.
struct LABELREP_API ExperimentInputs {
  std::int64_t classes = 0;
  std::int64_t train_images = 0;        ///< after the validation hold-out and the data level
  std::int64_t validation_images = 0;
  std::int64_t test_images = 0;
  std::vector<std::int64_t> image_shape;  ///< [C, H, W] as trained (after padding)
  std::vector<std::int64_t> label_shape;  ///< one label's shape
  std::string label_kind;
  std::int64_t parameters = 0;          ///< of the model the run would train
};

/// Does what run_experiment() does before it trains, and nothing it writes: validates the
/// configuration, reads the training and test sets, takes the split and the data level, makes the
/// labels (text to speech included, or the label file read) and builds the model; where `config.out`
/// holds a run already, checks that it is this experiment and, once it has a checkpoint, that the labels
/// are still the ones it was trained on. For checking a configuration (or each run of a grid) on the
/// machine that will run it before committing hours to it. The device is not checked: a grid for GPUs can
/// be checked where there is none. Creates and changes nothing. Throws what run_experiment throws for
/// these steps: InvalidArgument for the configuration, a label file with another class count or another
/// experiment in `config.out`; IoError/FormatError for the dataset's and label files.
LABELREP_API ExperimentInputs check_experiment_inputs(const ExperimentConfig& config);

/// Runs (or resumes, or reads) the experiment. Throws what its parts throw: InvalidArgument for bad
/// configuration, IoError/FormatError for data and run files.
LABELREP_API ExperimentResult run_experiment(const ExperimentConfig& config);

/// The same run trained data-parallel by every rank of `group` (each rank calls it with the same
/// configuration; a null group or one of one process is run_experiment(config)). Rank 0 checks and
/// owns `config.out` (the other ranks need not see it: nothing they do touches it), trains with the
/// others (TrainerOptions::process_group), tests and writes result.json; every rank returns rank 0's
/// result. `recipe batch_size` is the global batch. With device "cuda", rank r uses cuda:LOCAL_RANK;
/// with threads 0, each rank uses its share of the machine's hardware threads (LOCAL_WORLD_SIZE).
/// Throws as run_experiment; on a rank other than 0, an error of rank 0 comes back as Error naming it;
/// a failed peer gives dist::DistributedError.
LABELREP_API ExperimentResult run_experiment(const ExperimentConfig& config, const std::shared_ptr<dist::ProcessGroup>& group);

/// Reads a finished run's result.json. Throws IoError if the run has not finished, FormatError for a
/// result.json with missing fields, fields of the wrong type or accuracies outside [0, 1].
LABELREP_API ExperimentResult read_experiment_result(const std::string& run_dir);

}  // namespace labelrep::train
