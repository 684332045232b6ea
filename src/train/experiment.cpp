#include "labelrep/train/experiment.hpp"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

#include "labelrep/core/error.hpp"
#include "labelrep/data/loaders.hpp"
#include "labelrep/dist/process_group.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/trained_run.hpp"
#include "labelrep/train/trainer.hpp"

namespace labelrep::train {
namespace {

const char* level_base_name(data::LevelBase base) { return base == data::LevelBase::kPool ? "pool" : "training-set"; }

data::ChannelStatistics experiment_statistics(const ExperimentConfig& config) {
  return data::dataset_statistics(config.dataset == "cifar100-coarse" ? "cifar100" : config.dataset);
}

// Fields run_experiment adds to the configuration it records (they describe, they do not configure).
constexpr const char* kRecordedFields[] = {"label_kind", "weight_decay_used", "train_images", "in_channels"};

// A run directory holds one experiment: resuming or re-reading it with another configuration would
// mix two experiments under one name. Fields that do not change the numbers may differ.
void check_same_experiment(const RunDirectory& run, const ExperimentConfig& config) {
  nlohmann::json recorded;
  try {
    recorded = nlohmann::json::parse(run.read_config());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(run.file("config.json"), FormatError::kNoOffset, std::string("invalid JSON: ") + e.what());
  }
  const auto wanted = nlohmann::json::parse(config.to_json());
  for (const auto& [key, value] : wanted.items()) {
    if (key == "out" || key == "progress" || key == "threads" || key == "channels_last" || key == "checkpoint_every_steps" || key == "device" || key == "data_dir") continue;
    if (!recorded.contains(key) || recorded[key] != value)
      throw InvalidArgument(fmt::format("{} holds a run with {} = {}, not {}: choose another --out for another experiment", run.path(), key,
                                        recorded.contains(key) ? recorded[key].dump() : "(unset)", value.dump()));
  }
  for (const auto& [key, value] : recorded.items()) {
    const bool described = std::find(std::begin(kRecordedFields), std::end(kRecordedFields), key) != std::end(kRecordedFields);
    if (!described && !wanted.contains(key))
      throw InvalidArgument(fmt::format("{} holds a run with {} = {}, unset here: choose another --out for another experiment", run.path(),
                                        key, value.dump()));
  }
}

}  // namespace

void ExperimentConfig::validate() const {
  if (out.empty()) throw InvalidArgument("experiment: the run directory (out) is empty");
  if (epochs < 1 || epochs > 100000) throw InvalidArgument(fmt::format("experiment: epochs must be in [1, 100000], got {}", epochs));
  if (batch_size < 1 || batch_size > 65536) throw InvalidArgument(fmt::format("experiment: batch size must be in [1, 65536], got {}", batch_size));
  if (validation < 1) throw InvalidArgument(fmt::format("experiment: validation must be at least 1 image, got {}", validation));
  if (!(level > 0 && level <= 100)) throw InvalidArgument(fmt::format("experiment: data level must be in (0, 100] percent, got {}", level));
  if (seed > 0xffffffffULL) throw InvalidArgument(fmt::format("experiment: seed must be below 2^32, got {}", seed));
  if (pad_to < -1 || pad_to > 4096) throw InvalidArgument(fmt::format("experiment: pad_to must be -1 (auto), 0 (none) or a side up to 4096, got {}", pad_to));
  if (crop_padding < 0 || crop_padding > 64) throw InvalidArgument(fmt::format("experiment: crop padding must be in [0, 64], got {}", crop_padding));
  if (threads < 0 || threads > 1024) throw InvalidArgument(fmt::format("experiment: threads must be in [0, 1024], got {}", threads));
  try {
    (void)torch::Device(device);
  } catch (const std::exception&) {
    throw InvalidArgument(fmt::format("experiment: device '{}' is not cpu, cuda or cuda:N", device));
  }
}

std::int64_t ExperimentConfig::padded_side() const {
  if (pad_to >= 0) return pad_to;
  // The CIFAR encoders see 32×32 images, as in the reference pipeline (Pad(2) for Fashion-MNIST); the
  // small CNN runs on any size, and 28×28 costs it a quarter less than 32×32.
  return encoder == "small-cnn" ? 0 : 32;
}

std::string ExperimentConfig::to_json() const {
  nlohmann::json j = {{"dataset", dataset},
                      {"data_dir", data_dir},
                      {"label", label},
                      {"label_size", label_size},
                      {"encoder", encoder},
                      {"device", device},
                      {"epochs", epochs},
                      {"batch_size", batch_size},
                      {"learning_rate", learning_rate},
                      {"momentum", momentum},
                      {"weight_decay", weight_decay},
                      {"milestones", milestones},
                      {"warmup_epochs", warmup_epochs},
                      {"seed", seed},
                      {"validation", validation},
                      {"level", level},
                      {"level_base", level_base_name(level_base)},
                      {"threshold", threshold},
                      {"pad_to", pad_to},
                      {"crop_padding", crop_padding},
                      {"horizontal_flip", horizontal_flip},
                      {"channels_last", channels_last},
                      {"checkpoint_every_steps", checkpoint_every_steps},
                      {"threads", threads},
                      {"out", out}};
  if (has_label_seed) j["label_seed"] = label_seed;
  return j.dump(2) + "\n";
}

ExperimentConfig ExperimentConfig::from_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(source, e.byte > 0 ? e.byte - 1 : 0, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) throw FormatError(source, 0, "an experiment configuration must be a JSON object");
  ExperimentConfig c;
  try {
    for (const auto& [key, value] : j.items()) {
      if (key == "dataset") c.dataset = value.get<std::string>();
      else if (key == "data_dir") c.data_dir = value.get<std::string>();
      else if (key == "label") c.label = value.get<std::string>();
      else if (key == "label_seed") c.has_label_seed = true, c.label_seed = value.get<std::uint64_t>();
      else if (key == "label_size") c.label_size = value.get<std::int64_t>();
      else if (key == "encoder") c.encoder = value.get<std::string>();
      else if (key == "device") c.device = value.get<std::string>();
      else if (key == "epochs") c.epochs = value.get<std::int64_t>();
      else if (key == "batch_size") c.batch_size = value.get<std::int64_t>();
      else if (key == "learning_rate") c.learning_rate = value.get<double>();
      else if (key == "momentum") c.momentum = value.get<double>();
      else if (key == "weight_decay") c.weight_decay = value.get<double>();
      else if (key == "milestones") c.milestones = value.get<std::vector<double>>();
      else if (key == "warmup_epochs") c.warmup_epochs = value.get<double>();
      else if (key == "seed") c.seed = value.get<std::uint64_t>();
      else if (key == "validation") c.validation = value.get<std::int64_t>();
      else if (key == "level") c.level = value.get<double>();
      else if (key == "level_base") {
        const auto base = value.get<std::string>();
        if (base != "pool" && base != "training-set") throw FormatError(source, FormatError::kNoOffset, "level_base must be pool or training-set");
        c.level_base = base == "pool" ? data::LevelBase::kPool : data::LevelBase::kTrainingSet;
      } else if (key == "threshold") c.threshold = value.get<double>();
      else if (key == "crop_padding") c.crop_padding = value.get<std::int64_t>();
      else if (key == "pad_to") c.pad_to = value.get<std::int64_t>();
      else if (key == "horizontal_flip") c.horizontal_flip = value.get<bool>();
      else if (key == "channels_last") c.channels_last = value.get<bool>();
      else if (key == "checkpoint_every_steps") c.checkpoint_every_steps = value.get<std::int64_t>();
      else if (key == "threads") c.threads = value.get<int>();
      else if (key == "progress") c.progress = value.get<bool>();
      else if (key == "out") c.out = value.get<std::string>();
      else throw FormatError(source, FormatError::kNoOffset, fmt::format("unknown field '{}'", key));
    }
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source, FormatError::kNoOffset, std::string("a field has the wrong type: ") + e.what());
  }
  return c;
}

// A result.json's text (from `source`) as an ExperimentResult.
static ExperimentResult parse_experiment_result(const std::string& text, const std::string& run_dir, const std::string& source) {
  ExperimentResult r;
  r.run_dir = run_dir;
  try {
    const auto j = nlohmann::json::parse(text);
    r.test_accuracy = j.at("test").at("accuracy").get<double>();
    r.has_threshold = j.at("test").contains("threshold_accuracy");
    if (r.has_threshold) r.test_threshold_accuracy = j.at("test").at("threshold_accuracy").get<double>();
    r.best_validation_accuracy = j.at("best_validation_accuracy").get<double>();
    r.best_epoch = j.at("best_epoch").get<std::int64_t>();
    r.parameters = j.at("parameters").get<std::int64_t>();
    r.label_kind = j.at("labels").at("kind").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source, FormatError::kNoOffset, std::string("unexpected result.json: ") + e.what());
  }
  return r;
}

ExperimentResult read_experiment_result(const std::string& run_dir) {
  const RunDirectory run(run_dir);
  return parse_experiment_result(run.read_result(), run_dir, run.file("result.json"));
}

data::ImageDataset load_experiment_data(const ExperimentConfig& config, data::Split split) {
  auto set = data::load_dataset(config.dataset, config.data_dir, split);
  const std::int64_t side = config.padded_side();
  return side > 0 && (set.height() < side || set.width() < side) ? set.pad_to(side) : set;
}

ExperimentResult run_experiment(const ExperimentConfig& config) { return run_experiment(config, nullptr); }

ExperimentResult run_experiment(const ExperimentConfig& config, const std::shared_ptr<dist::ProcessGroup>& group) {
  config.validate();
  const bool distributed = group && group->world_size() > 1;
  const bool rank0 = !distributed || group->rank() == 0;
  // Rank 0 checks the run directory and tells the others what to do: train, read the finished result,
  // or stop with its error (rather than leaving them to find a dead peer).
  std::string decision = "train";
  std::exception_ptr failure;
  if (rank0) {
    try {
      const RunDirectory existing(config.out);
      if (std::filesystem::exists(existing.file("config.json"))) check_same_experiment(existing, config);
      if (existing.finished()) decision = "finished";
    } catch (const std::exception& e) {
      if (!distributed) throw;
      failure = std::current_exception();
      decision = std::string("error:") + e.what();
    }
  }
  if (distributed) decision = group->broadcast_bytes(decision);
  if (failure) std::rethrow_exception(failure);
  if (decision.rfind("error:", 0) == 0) {
    std::string message = decision.substr(6);
    if (message.rfind("labelrep: ", 0) == 0) message = message.substr(10);
    throw Error(fmt::format("distributed: rank 0 stopped the run: {}", message));
  }
  if (decision == "finished") {
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
  auto train_set = load_experiment_data(config, data::Split::kTrain);
  std::optional<data::ImageDataset> test_set;  // only rank 0 tests
  if (rank0) test_set = load_experiment_data(config, data::Split::kTest);
  const auto statistics = experiment_statistics(config);
  if (config.validation >= train_set.size())
    throw InvalidArgument(fmt::format("experiment: validation of {} images leaves no training images of {}", config.validation, train_set.size()));
  const auto split = data::make_split(train_set.size(), config.validation, config.seed);
  const auto pool = data::data_level(split.train, config.level, config.level_base, train_set.size());

  labels::LabelSpec spec;
  spec.kind = config.label;
  spec.class_names = train_set.class_names();
  spec.size = config.label_size;
  spec.has_seed = config.has_label_seed;
  spec.seed = config.label_seed;
  const auto labels = labels::make_labels(spec);
  // The exact label set beside the checkpoints: analysis (speak, attacks, t-SNE, the report) reads it
  // back instead of remaking it (text-to-speech voices and label files can change).
  if (rank0) labels->save(RunDirectory(config.out).file("labels.npy"));
  auto model = models::make_model(config.encoder, train_set.channels(), *labels, config.seed);
  model->to(device);

  auto recipe = paper_recipe(config.encoder, labels->is_categorical())
                    .epochs(config.epochs)
                    .batch_size(config.batch_size)
                    .learning_rate(config.learning_rate)
                    .momentum(config.momentum)
                    .milestones(config.milestones)
                    .warmup_epochs(config.warmup_epochs);
  if (config.weight_decay >= 0) recipe.weight_decay(config.weight_decay);
  auto config_json = nlohmann::json::parse(config.to_json());
  config_json["label_kind"] = labels->name();
  config_json["weight_decay_used"] = recipe.weight_decay();
  config_json["train_images"] = pool.size(0);
  config_json["in_channels"] = train_set.channels();
  const auto options = TrainerOptions(recipe)
                           .seed(config.seed)
                           .threshold(config.threshold)
                           .crop_padding(config.crop_padding)
                           .horizontal_flip(config.horizontal_flip)
                           .channels_last(config.channels_last)
                           .progress(config.progress && rank0)
                           .checkpoint_every_steps(config.checkpoint_every_steps)
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
}

TrainedRun load_trained_run(const std::string& run_dir, const std::string& device_name) {
  if (!std::filesystem::is_directory(run_dir)) throw IoError(run_dir, "not a run directory (it does not exist)");
  const RunDirectory run(run_dir);
  TrainedRun loaded;
  nlohmann::json recorded;
  try {
    recorded = nlohmann::json::parse(run.read_config());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(run.file("config.json"), FormatError::kNoOffset, std::string("invalid JSON: ") + e.what());
  }
  std::int64_t in_channels = recorded.value("in_channels", recorded.value("dataset", "") == "fashion-mnist" ? 1 : 3);
  for (const char* field : kRecordedFields) recorded.erase(field);
  loaded.config = ExperimentConfig::from_json(recorded.dump(), run.file("config.json"));
  loaded.labels = std::make_shared<const labels::FileLabels>(run.file("labels.npy"));
  loaded.statistics = experiment_statistics(loaded.config);
  loaded.checkpoint = run.file(std::filesystem::exists(run.file("best.ckpt")) ? "best.ckpt" : "last.ckpt");
  if (!std::filesystem::exists(loaded.checkpoint)) throw IoError(loaded.checkpoint, "the run has no checkpoint (best.ckpt or last.ckpt) yet");
  loaded.model = models::make_model(loaded.config.encoder, in_channels, *loaded.labels);
  load_checkpoint(loaded.checkpoint, *loaded.model, nullptr);
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(device_name);
  } catch (const std::exception&) {
    throw InvalidArgument(fmt::format("device '{}' is not cpu, cuda or cuda:N", device_name));
  }
  if (device.is_cuda() && !torch::cuda::is_available()) throw InvalidArgument(fmt::format("device '{}': CUDA is not available", device_name));
  loaded.model->to(device);
  loaded.model->eval();
  return loaded;
}

}  // namespace labelrep::train
