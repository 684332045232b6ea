#include "labelrep/train/experiment.hpp"

#include <torch/types.h>

#include <chrono>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "labelrep/core/error.hpp"
#include "labelrep/data/loaders.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/trainer.hpp"

namespace labelrep::train {
namespace {

const char* level_base_name(data::LevelBase base) { return base == data::LevelBase::kPool ? "pool" : "training-set"; }

}  // namespace

void ExperimentConfig::validate() const {
  if (out.empty()) throw InvalidArgument("experiment: the run directory (out) is empty");
  if (epochs < 1 || epochs > 100000) throw InvalidArgument(fmt::format("experiment: epochs must be in [1, 100000], got {}", epochs));
  if (batch_size < 1 || batch_size > 65536) throw InvalidArgument(fmt::format("experiment: batch size must be in [1, 65536], got {}", batch_size));
  if (validation < 1) throw InvalidArgument(fmt::format("experiment: validation must be at least 1 image, got {}", validation));
  if (!(level > 0 && level <= 100)) throw InvalidArgument(fmt::format("experiment: data level must be in (0, 100] percent, got {}", level));
  if (seed > 0xffffffffULL) throw InvalidArgument(fmt::format("experiment: seed must be below 2^32, got {}", seed));
  if (crop_padding < 0 || crop_padding > 64) throw InvalidArgument(fmt::format("experiment: crop padding must be in [0, 64], got {}", crop_padding));
  if (threads < 0 || threads > 1024) throw InvalidArgument(fmt::format("experiment: threads must be in [0, 1024], got {}", threads));
  try {
    (void)torch::Device(device);
  } catch (const std::exception&) {
    throw InvalidArgument(fmt::format("experiment: device '{}' is not cpu, cuda or cuda:N", device));
  }
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
                      {"crop_padding", crop_padding},
                      {"horizontal_flip", horizontal_flip},
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
      else if (key == "horizontal_flip") c.horizontal_flip = value.get<bool>();
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

ExperimentResult read_experiment_result(const std::string& run_dir) {
  const RunDirectory run(run_dir);
  const auto text = run.read_result();
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
    throw FormatError(run.file("result.json"), FormatError::kNoOffset, std::string("unexpected result.json: ") + e.what());
  }
  return r;
}

ExperimentResult run_experiment(const ExperimentConfig& config) {
  config.validate();
  {
    const RunDirectory existing(config.out);
    if (existing.finished()) return read_experiment_result(config.out);
  }
  if (config.threads > 0) torch::set_num_threads(config.threads);
  const torch::Device device(config.device);
  auto train_set = data::load_dataset(config.dataset, config.data_dir, data::Split::kTrain);
  auto test_set = data::load_dataset(config.dataset, config.data_dir, data::Split::kTest);
  // Images smaller than 32 px (Fashion-MNIST) are zero-padded to 32 so every encoder fits, as the
  // reference pipeline does with Pad(2).
  if (train_set.height() < 32) {
    train_set = train_set.pad_to(32);
    test_set = test_set.pad_to(32);
  }
  const auto statistics = data::dataset_statistics(config.dataset == "cifar100-coarse" ? "cifar100" : config.dataset);
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
  const auto options = TrainerOptions(recipe)
                           .seed(config.seed)
                           .threshold(config.threshold)
                           .crop_padding(config.crop_padding)
                           .horizontal_flip(config.horizontal_flip)
                           .progress(config.progress)
                           .checkpoint_every_steps(config.checkpoint_every_steps)
                           .config_json(config_json.dump());
  Trainer trainer(model, labels, train_set.to(device), pool, split.validation, statistics, options, RunDirectory(config.out));
  const auto start = std::chrono::steady_clock::now();
  trainer.fit();
  trainer.finish(test_set.to(device));
  auto result = read_experiment_result(config.out);
  result.trained_now = true;
  result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace labelrep::train
