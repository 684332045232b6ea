#include "labelrep/train/experiment.hpp"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <thread>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "core/json_document.hpp"
#include "labelrep/data/loaders.hpp"
#include "labelrep/dist/process_group.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/trained_run.hpp"
#include "labelrep/train/trainer.hpp"
#include "core/boundary.hpp"

namespace labelrep::train {
namespace {

// An exclusive lock on a run directory for as long as one process trains in it: two processes writing one
// run would interleave its metrics and overwrite each other's checkpoints. flock on the directory itself,
// so nothing is left behind, and the kernel releases it when the process ends however it ends.
class RunDirectoryLock {
 public:
  explicit RunDirectoryLock(const std::string& directory) {
    fd_ = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) throw IoError(directory, std::string("cannot open the run directory to lock it: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd_);
      if (error == EWOULDBLOCK)
        throw IoError(directory, "another process is training this run (it holds the run directory's lock); wait for it to finish or "
                                 "choose another --out");
      throw IoError(directory, std::string("cannot lock the run directory: ") + std::strerror(error));
    }
  }
  ~RunDirectoryLock() { ::close(fd_); }
  RunDirectoryLock(const RunDirectoryLock&) = delete;
  RunDirectoryLock& operator=(const RunDirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

// A run directory that this call created is removed again if the call fails before the run's first
// checkpoint: a failed start (a label size the kind refuses, a device that is not there, a first epoch
// that diverges) leaves nothing behind that looks like a run. Directories that existed are left alone, and
// so is one whose lock this process did not get (another process may be training in it): arm() is called
// once the lock is held.
class RemoveFailedStart {
 public:
  explicit RemoveFailedStart(std::string directory) : directory_(std::move(directory)) {}
  void arm() { armed_ = true; }
  ~RemoveFailedStart() {
    if (!armed_ || std::uncaught_exceptions() == 0) return;
    std::error_code ignored;
    if (std::filesystem::exists(std::filesystem::path(directory_) / "last.ckpt", ignored)) return;
    std::filesystem::remove_all(directory_, ignored);
  }
  RemoveFailedStart(const RemoveFailedStart&) = delete;
  RemoveFailedStart& operator=(const RemoveFailedStart&) = delete;

 private:
  std::string directory_;
  bool armed_ = false;
};

data::ChannelStatistics experiment_statistics(const ExperimentConfig& config) {
  return data::dataset_statistics(config.dataset == "cifar100-coarse" ? "cifar100" : config.dataset);
}

// Throws InvalidArgument naming `what` for a CUDA device this machine does not have (no CUDA, or an
// index beyond its devices), which libtorch would report only when the first tensor moves there.
void require_device_here(const torch::Device& device, const std::string& what) {
  if (!device.is_cuda()) return;
  if (!torch::cuda::is_available()) throw InvalidArgument(what + ": CUDA is not available");
  if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count()))
    throw InvalidArgument(fmt::format("{}: this machine has {} CUDA device(s)", what, torch::cuda::device_count()));
}

// The model an experiment trains, and load_trained_run rebuilds before loading its weights: one place
// for every configuration field that shapes the model.
models::Model experiment_model(const ExperimentConfig& config, std::int64_t in_channels, const labels::LabelRepresentation& labels) {
  auto model = models::make_model(config.encoder, in_channels, labels, config.seed);
  if (!config.standardize_labels) return model;
  try {
    return models::Model(model->encoder_ptr(), models::standardize(model->decoder_ptr(), labels));
  } catch (const InvalidArgument& e) {  // name the label the user gave (a file's path), not only its kind
    throw InvalidArgument(fmt::format("standardize_labels with label '{}': {}", config.label, e.what()));
  }
}

// The run's config.json as a JSON object; FormatError naming the file for anything else (valid JSON that
// is an array or a number included), so no JSON library message reaches the user.
nlohmann::json read_recorded_config(const RunDirectory& run) {
  auto recorded = labelrep::detail::parse_json_document(run.read_config(), run.file("config.json"));
  if (!recorded.is_object()) throw FormatError(run.file("config.json"), 0, "a run's configuration must be a JSON object");
  return recorded;
}

// A run directory holds one experiment: resuming or re-reading it with another configuration would
// mix two experiments under one name. Fields that do not change the numbers may differ.
void check_same_experiment(const RunDirectory& run, const ExperimentConfig& config) {
  const auto recorded = read_recorded_config(run);
  const auto wanted = nlohmann::json::parse(config.to_json());
  // A field newer than the recorded run counts as its default value, so older runs stay usable.
  const auto defaults = nlohmann::json::parse(ExperimentConfig{}.to_json());
  for (const auto& [key, value] : wanted.items()) {
    if (ExperimentConfig::is_execution_field(key)) continue;
    const auto& recorded_value = recorded.contains(key) ? recorded[key] : defaults.contains(key) ? defaults[key] : nlohmann::json();
    if (recorded_value != value)
      throw InvalidArgument(fmt::format("{} holds a run with {} = {}, not {}: choose another --out for another experiment", run.path(), key,
                                        recorded_value.is_null() ? "(unset)" : recorded_value.dump(), value.dump()));
  }
  for (const auto& [key, value] : recorded.items()) {
    if (!ExperimentConfig::is_recorded_field(key) && !wanted.contains(key))
      throw InvalidArgument(fmt::format("{} holds a run with {} = {}, unset here: choose another --out for another experiment", run.path(),
                                        key, value.dump()));
  }
}

// Called before a run starts or resumes in `run`. Once a run has a checkpoint, its labels.npy and the
// precision it recorded are part of it.
void check_resumable_as_recorded(const RunDirectory& run, const labels::LabelRepresentation& labels, Precision precision,
                                 const ExperimentConfig& config) {
  if (!std::filesystem::exists(run.file("last.ckpt"))) return;
  const std::string labels_file = run.file("labels.npy");
  if (std::filesystem::exists(labels_file)) {
    const torch::Tensor recorded = read_npy(labels_file);
    const torch::Tensor& remade = labels.matrix();
    if (recorded.sizes() != remade.sizes() || !torch::equal(recorded.to(remade.scalar_type()), remade))
      throw InvalidArgument(fmt::format("--label {} now gives other labels than the ones {} was trained on ({}): the label file or the "
                                        "voice changed; restore it, or choose another --out for a new run",
                                        config.label, run.path(), labels_file));
  }
  const auto recorded = labelrep::detail::parse_json_document(run.read_config(), run.file("config.json"));
  if (recorded.contains("precision_used") && recorded["precision_used"].is_string() &&
      recorded["precision_used"].get<std::string>() != precision_name(precision))
    throw InvalidArgument(fmt::format("--precision {} resolves to {} on {}, but {} was trained in {}: resume it with --precision {}",
                                      config.precision, precision_name(precision), config.device, run.path(),
                                      recorded["precision_used"].get<std::string>(), recorded["precision_used"].get<std::string>()));
}

}  // namespace

// A result.json's text (from `source`) as an ExperimentResult.
static ExperimentResult parse_experiment_result(const std::string& text, const std::string& run_dir, const std::string& source) try {
  ExperimentResult r;
  r.run_dir = run_dir;
  try {
    const auto j = nlohmann::json::parse(text);
    r.test_accuracy = j.at("test").at("accuracy").get<double>();
    r.has_threshold = j.at("test").contains("threshold_accuracy");
    if (r.has_threshold) r.test_threshold_accuracy = j.at("test").at("threshold_accuracy").get<double>();
    // null: the run had no validation set (its last epoch is the result).
    const auto& best = j.at("best_validation_accuracy");
    r.best_validation_accuracy = best.is_null() ? std::nan("") : best.get<double>();
    // Counts are non-negative integers: a float (1e300) or a negative one would be converted without a word.
    r.best_epoch = static_cast<std::int64_t>(labelrep::detail::json_unsigned(j.at("best_epoch"), "best_epoch", source));
    r.parameters = static_cast<std::int64_t>(labelrep::detail::json_unsigned(j.at("parameters"), "parameters", source));
    r.label_kind = j.at("labels").at("kind").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source, FormatError::kNoOffset, std::string("unexpected result.json: ") + e.what());
  }
  // Accuracies are fractions: anything else is a damaged or hand-edited file, not a result to tabulate.
  const auto fraction = [&](double value, const char* field) {
    if (!(value >= 0 && value <= 1))
      throw FormatError(source, FormatError::kNoOffset, fmt::format("{} is {}, not an accuracy in [0, 1]", field, value));
  };
  fraction(r.test_accuracy, "test.accuracy");
  if (r.has_threshold) fraction(r.test_threshold_accuracy, "test.threshold_accuracy");
  if (!std::isnan(r.best_validation_accuracy)) fraction(r.best_validation_accuracy, "best_validation_accuracy");
  return r;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("read_experiment_result");
}

ExperimentResult read_experiment_result(const std::string& run_dir) try {
  const auto run = RunDirectory::open_read_only(run_dir);
  return parse_experiment_result(run.read_result(), run_dir, run.file("result.json"));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("read_experiment_result");
}

data::ImageDataset load_experiment_data(const ExperimentConfig& config, data::Split split) {
  auto set = data::load_dataset(config.dataset, config.data_dir, split);
  const std::int64_t side = config.padded_side();
  return side > 0 && (set.height() < side || set.width() < side) ? set.pad_to(side) : set;
}

namespace {

// What an experiment trains on, made as run_experiment makes it: check_experiment_inputs makes the same,
// so that what it finds is what the run would find.
struct ExperimentData {
  data::ImageDataset train_set;
  std::optional<data::ImageDataset> test_set;
  data::DataSplit split;
  torch::Tensor pool;
  std::shared_ptr<const labels::LabelRepresentation> labels;
};

ExperimentData load_experiment_inputs(const ExperimentConfig& config, bool with_test_set) {
  ExperimentData inputs{load_experiment_data(config, data::Split::kTrain), std::nullopt, {}, {}, nullptr};
  if (with_test_set) inputs.test_set = load_experiment_data(config, data::Split::kTest);
  const auto& train_set = inputs.train_set;
  if (config.validation >= train_set.size())
    throw InvalidArgument(fmt::format("experiment: validation of {} images leaves no training images of {}", config.validation, train_set.size()));
  inputs.split = data::make_split(train_set.size(), config.validation, config.seed);
  inputs.pool = data::data_level(inputs.split.train, config.level, config.level_base, train_set.size());
  // The Trainer would refuse it too (no batch that batch normalisation can train on); said here, before
  // anything is written, and by check_experiment_inputs.
  if (inputs.pool.size(0) < 2)
    throw InvalidArgument(fmt::format("experiment: data level {} % leaves {} training image; batch normalisation needs at least 2",
                                      config.level, inputs.pool.size(0)));

  labels::LabelSpec spec;
  spec.kind = config.label;
  spec.class_names = train_set.class_names();
  spec.size = config.label_size;
  spec.has_seed = config.has_label_seed;
  spec.seed = config.label_seed;
  spec.smoothing = config.label_smoothing;
  inputs.labels = labels::make_labels(spec);
  return inputs;
}

}  // namespace

ExperimentInputs check_experiment_inputs(const ExperimentConfig& config) try {
  config.validate();
  const auto inputs = load_experiment_inputs(config, true);
  const auto model = experiment_model(config, inputs.train_set.channels(), *inputs.labels);
  // A run directory that holds a run already must hold this experiment, with the labels it was trained on.
  std::error_code no_error;
  if (!config.out.empty() && std::filesystem::exists(std::filesystem::path(config.out) / "config.json", no_error)) {
    const auto existing = RunDirectory::open_read_only(config.out);
    check_same_experiment(existing, config);
    check_resumable_as_recorded(existing, *inputs.labels, resolve_precision(config.precision, torch::Device(config.device)), config);
  }
  ExperimentInputs found;
  found.classes = inputs.train_set.num_classes();
  found.train_images = inputs.pool.size(0);
  found.validation_images = inputs.split.validation.size(0);
  found.test_images = inputs.test_set->size();
  found.image_shape = {inputs.train_set.channels(), inputs.train_set.height(), inputs.train_set.width()};
  const auto label_shape = inputs.labels->label_shape();
  found.label_shape.assign(label_shape.begin(), label_shape.end());
  found.label_kind = inputs.labels->name();
  found.parameters = model->parameter_count();
  return found;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("check_experiment_inputs");
}

ExperimentResult run_experiment(const ExperimentConfig& config) { return run_experiment(config, nullptr); }

ExperimentResult run_experiment(const ExperimentConfig& config, const std::shared_ptr<dist::ProcessGroup>& group) try {
  config.validate();
  // Before anything is read or written: a device that is not there would otherwise fail after the data
  // is loaded, as a libtorch error.
  require_device_here(torch::Device(config.device), "experiment: device '" + config.device + "'");
  const bool distributed = group && group->world_size() > 1;
  const bool rank0 = !distributed || group->rank() == 0;
  // Rank 0 checks the run directory and tells the others what to do: train, read the finished result,
  // or stop with its error (rather than leaving them to find a dead peer).
  std::string decision = "train";
  std::exception_ptr failure;
  std::optional<RunDirectoryLock> lock;
  std::error_code no_error;
  const bool created_here = rank0 && !std::filesystem::exists(config.out, no_error);
  RemoveFailedStart remove_failed_start(config.out);
  if (rank0) {
    try {
      const RunDirectory existing(config.out);
      lock.emplace(config.out);
      if (created_here) remove_failed_start.arm();
      if (std::filesystem::exists(existing.file("config.json"))) check_same_experiment(existing, config);
      if (existing.finished()) decision = "finished";
    } catch (const std::exception& e) {
      if (!distributed) throw;
      failure = std::current_exception();
      decision = "error:" + error_reason(e);
    }
  }
  if (distributed) decision = group->broadcast_bytes(decision);
  if (failure) std::rethrow_exception(failure);
  if (decision.rfind("error:", 0) == 0) {
    throw Error(fmt::format("distributed: rank 0 stopped the run: {}", decision.substr(6)));
  }
  if (decision == "finished") {
    if (rank0) RunDirectory(config.out).require_snapshots(config.snapshot_epochs, std::numeric_limits<std::int64_t>::max());
    if (!distributed) return read_experiment_result(config.out);
    const auto text = group->broadcast_bytes(rank0 ? RunDirectory(config.out).read_result() : std::string());
    return parse_experiment_result(text, config.out, "rank 0's result.json");
  }
  // libtorch as packaged by Debian starts with one intra-op thread whatever the machine has. Processes
  // sharing a machine share its threads (torchrun sets LOCAL_WORLD_SIZE).
  int threads = config.threads;
  if (threads == 0) {
    int local_processes = 1;
    if (const char* local = std::getenv("LOCAL_WORLD_SIZE"); distributed && local != nullptr) local_processes = std::max(1, std::atoi(local));
    threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(local_processes)));
  }
  if (at::get_num_threads() != threads) torch::set_num_threads(threads);
  // "cuda" without an index: one GPU per process of a machine, as torchrun's LOCAL_RANK intends.
  const torch::Device device(distributed && config.device == "cuda" ? fmt::format("cuda:{}", group->options().local_rank()) : config.device);
  auto inputs = load_experiment_inputs(config, rank0);  // only rank 0 tests
  const auto& train_set = inputs.train_set;
  const auto& test_set = inputs.test_set;
  const auto& split = inputs.split;
  const auto& pool = inputs.pool;
  const auto& labels = inputs.labels;
  const auto statistics = experiment_statistics(config);
  const Precision precision = resolve_precision(config.precision, device);
  // A run resumes only as the experiment it was: labels remade from an edited file (or another
  // text-to-speech voice), or "auto" precision resolved on another device, would continue it as another.
  if (rank0) check_resumable_as_recorded(RunDirectory(config.out), *labels, precision, config);
  // The exact label set beside the checkpoints: analysis (speak, attacks, t-SNE, the report) reads it
  // back instead of remaking it (text-to-speech voices and label files can change).
  if (rank0) labels->save(RunDirectory(config.out).file("labels.npy"));
  auto model = experiment_model(config, train_set.channels(), *labels);
  model->to(device);

  auto recipe = paper_recipe(config.encoder, labels->is_categorical())
                    .epochs(config.epochs)
                    .batch_size(config.batch_size)
                    .learning_rate(config.learning_rate)
                    .momentum(config.momentum)
                    .milestones(config.milestones)
                    .warmup_epochs(config.warmup_epochs)
                    .schedule(parse_schedule(config.schedule))
                    .nesterov(config.nesterov);
  if (config.weight_decay >= 0) recipe.weight_decay(config.weight_decay);
  auto config_json = nlohmann::json::parse(config.to_json());
  // Where the run lives is not part of what it is: without it, same-seed runs in two directories
  // record byte-identical configurations (and a moved run directory stays truthful).
  config_json.erase("out");
  config_json["label_kind"] = labels->name();
  config_json["weight_decay_used"] = recipe.weight_decay();
  config_json["train_images"] = pool.size(0);
  config_json["in_channels"] = train_set.channels();
  config_json["precision_used"] = precision_name(precision);
  const auto options = TrainerOptions(recipe)
                           .seed(config.seed)
                           .threshold(config.threshold)
                           .crop_padding(config.crop_padding)
                           .horizontal_flip(config.horizontal_flip)
                           .channels_last(config.channels_last)
                           .cuda_graphs(config.cuda_graphs)
                           .evaluation_views(config.mirror_evaluation ? EvaluationViews::kImageAndMirror : EvaluationViews::kImage)
                           .precision(precision)
                           .progress(config.progress && rank0)
                           .checkpoint_every_steps(config.checkpoint_every_steps)
                           .snapshot_epochs(config.snapshot_epochs)
                           .snapshot_every(config.snapshot_every)
                           .config_json(config_json.dump())
                           .process_group(distributed ? group : nullptr);
  // Ranks other than 0 write nothing, but a Trainer needs a directory: a private empty one (opening
  // the shared run directory from another machine could remove rank 0's temporaries).
  std::string scratch;
  if (!rank0) scratch = (std::filesystem::temp_directory_path() / fmt::format("labelrep-rank{}-{}", group->rank(), ::getpid())).string();
  struct RemoveScratch {
    const std::string& path;
    ~RemoveScratch() {
      std::error_code ignored;
      if (!path.empty()) std::filesystem::remove_all(path, ignored);
    }
  } remove_scratch{scratch};
  Trainer trainer(model, labels, train_set.to(device), pool, split.validation, statistics, options, RunDirectory(rank0 ? config.out : scratch));
  const auto start = std::chrono::steady_clock::now();
  trainer.fit();
  if (rank0) trainer.finish(test_set->to(device));
  auto result = rank0 ? read_experiment_result(config.out) : ExperimentResult();
  if (distributed) {
    const auto text = group->broadcast_bytes(rank0 ? RunDirectory(config.out).read_result() : std::string());
    if (!rank0) result = parse_experiment_result(text, config.out, "rank 0's result.json");
  }
  result.trained_now = true;
  result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("run_experiment");
}

TrainedRun load_trained_run(const std::string& run_dir, const std::string& device_name) try {
  const auto run = RunDirectory::open_read_only(run_dir);
  TrainedRun loaded;
  auto recorded = read_recorded_config(run);
  const auto recorded_channels = recorded.contains("in_channels") ? recorded["in_channels"] : nlohmann::json();
  for (auto field = recorded.begin(); field != recorded.end();)
    field = ExperimentConfig::is_recorded_field(field.key()) ? recorded.erase(field) : std::next(field);
  loaded.config = ExperimentConfig::from_json(recorded.dump(), run.file("config.json"));
  // Runs written before in_channels was recorded: Fashion-MNIST is grey, the CIFAR sets are colour.
  std::int64_t in_channels = loaded.config.dataset == "fashion-mnist" ? 1 : 3;
  if (!recorded_channels.is_null()) {
    if (!recorded_channels.is_number_integer() || recorded_channels.get<std::int64_t>() < 1 || recorded_channels.get<std::int64_t>() > 4)
      throw FormatError(run.file("config.json"), FormatError::kNoOffset,
                        fmt::format("in_channels must be an integer in [1, 4], got {}", recorded_channels.dump()));
    in_channels = recorded_channels.get<std::int64_t>();
  }
  loaded.labels = std::make_shared<const labels::FileLabels>(run.file("labels.npy"));
  loaded.statistics = experiment_statistics(loaded.config);
  loaded.checkpoint = run.file(std::filesystem::exists(run.file("best.ckpt")) ? "best.ckpt" : "last.ckpt");
  if (!std::filesystem::exists(loaded.checkpoint)) throw IoError(loaded.checkpoint, "the run has no checkpoint (best.ckpt or last.ckpt) yet");
  loaded.model = experiment_model(loaded.config, in_channels, *loaded.labels);
  load_checkpoint(loaded.checkpoint, *loaded.model, nullptr);
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(device_name);
  } catch (const std::exception&) {
    throw InvalidArgument(fmt::format("device '{}' is not cpu, cuda or cuda:N", device_name));
  }
  require_device_here(device, "device '" + device_name + "'");
  loaded.model->to(device);
  loaded.model->eval();
  return loaded;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("load_trained_run");
}

}  // namespace labelrep::train
