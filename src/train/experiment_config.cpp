// ExperimentConfig: validation and the JSON form recorded as a run's config.json. Apart from the
// experiment runner so that the parser of this user-editable file can be built alone (fuzz/).
#include <torch/types.h>

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <set>
#include <utility>
#include <nlohmann/json.hpp>

#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "labels/label_names.hpp"
#include "models/encoder_names.hpp"
#include "core/json_document.hpp"
#include "labelrep/train/experiment.hpp"
#include "labelrep/train/precision.hpp"
#include "labelrep/train/recipe.hpp"

namespace labelrep::train {
namespace {
const char* level_base_name(data::LevelBase base) { return base == data::LevelBase::kPool ? "pool" : "training-set"; }

// Integer fields are read only from JSON integers (as labelrep::detail::json_unsigned).
std::int64_t integer_field(const nlohmann::json& value, const std::string& key, const std::string& source,
                           std::int64_t low = std::numeric_limits<std::int64_t>::min(),
                           std::int64_t high = std::numeric_limits<std::int64_t>::max()) {
  const bool in_range = value.is_number_unsigned() ? value.get<std::uint64_t>() <= static_cast<std::uint64_t>(high)
                                                   : value.is_number_integer() && value.get<std::int64_t>() >= low &&
                                                         value.get<std::int64_t>() <= high;
  if (!in_range)
    throw FormatError(source, FormatError::kNoOffset, fmt::format("field '{}' must be an integer in [{}, {}], got {}", key, low, high,
                                                                  value.dump()));
  return value.get<std::int64_t>();
}
}  // namespace

void ExperimentConfig::validate() const {
  if (out.empty()) throw InvalidArgument("experiment: the run directory (out) is empty");
  // Every text field goes into config.json: one that JSON cannot hold is refused before any file is written.
  for (const auto& [field, text] : {std::pair<const char*, const std::string*>{"out", &out}, {"dataset", &dataset}, {"data_dir", &data_dir},
                                    {"label", &label}, {"encoder", &encoder}, {"device", &device}, {"schedule", &schedule},
                                    {"precision", &precision}})
    labelrep::detail::require_utf8(*text, fmt::format("experiment: {}", field));
  // Names are checked here, not when the run reaches them, so that a grid's typo stops `sweep plan`.
  (void)dataset_class_names(dataset);
  models::detail::require_known_encoder(encoder);
  labels::detail::require_known_label(label);
  // The label kinds' own limits (sides up to 4096, NumPy's 32-bit seeds), so that a grid stops at plan time.
  if (label_size < 1 || label_size > 4096) throw InvalidArgument(fmt::format("experiment: label_size must be in [1, 4096], got {}", label_size));
  if (has_label_seed && label_seed > 0xffffffffULL)
    throw InvalidArgument(fmt::format("experiment: label_seed must be below 2^32 (a NumPy seed), got {}", label_seed));
  if (epochs < 1 || epochs > 100000) throw InvalidArgument(fmt::format("experiment: epochs must be in [1, 100000], got {}", epochs));
  if (batch_size < 1 || batch_size > 65536) throw InvalidArgument(fmt::format("experiment: batch size must be in [1, 65536], got {}", batch_size));
  if (validation < 0)
    throw InvalidArgument(fmt::format("experiment: validation must be 0 (no validation set: the last epoch is the result) or more images, got {}", validation));
  if (!(level > 0 && level <= 100)) throw InvalidArgument(fmt::format("experiment: data level must be in (0, 100] percent, got {}", level));
  if (seed > 0xffffffffULL) throw InvalidArgument(fmt::format("experiment: seed must be below 2^32, got {}", seed));
  if (pad_to < -1 || pad_to > 4096) throw InvalidArgument(fmt::format("experiment: pad_to must be -1 (auto), 0 (none) or a side up to 4096, got {}", pad_to));
  if (crop_padding < 0 || crop_padding > 64) throw InvalidArgument(fmt::format("experiment: crop padding must be in [0, 64], got {}", crop_padding));
  for (const auto e : snapshot_epochs)
    if (e < 0 || e > epochs) throw InvalidArgument(fmt::format("experiment: snapshot epoch {} is not in [0, {}] (the epochs)", e, epochs));
  if (snapshot_every < 0) throw InvalidArgument(fmt::format("experiment: snapshot_every must be >= 0, got {}", snapshot_every));
  if (threads < 0 || threads > 1024) throw InvalidArgument(fmt::format("experiment: threads must be in [0, 1024], got {}", threads));
  // The recipe's own checks, here so that a bad value stops the run before any data is read or file written.
  if (!(learning_rate > 0) || !std::isfinite(learning_rate))
    throw InvalidArgument(fmt::format("experiment: learning_rate (--lr) must be positive and finite, got {}", learning_rate));
  if (!(momentum >= 0 && momentum < 1)) throw InvalidArgument(fmt::format("experiment: momentum must be in [0, 1), got {}", momentum));
  // -1 means the paper's value; any other negative, NaN or infinity is a mistake, not a request for the default.
  if (!(weight_decay == -1 || (weight_decay >= 0 && std::isfinite(weight_decay))))
    throw InvalidArgument(fmt::format("experiment: weight_decay must be >= 0 and finite (or -1 for the paper's), got {}", weight_decay));
  for (const double m : milestones)
    if (!(m > 0 && m < 1)) throw InvalidArgument(fmt::format("experiment: milestones are epoch fractions in (0, 1), got {}", m));
  if (!(warmup_epochs >= 0 && warmup_epochs < static_cast<double>(epochs)))
    throw InvalidArgument(fmt::format("experiment: warmup_epochs must be in [0, epochs = {}), got {}", epochs, warmup_epochs));
  if (!(threshold > 0) || !std::isfinite(threshold))
    throw InvalidArgument(fmt::format("experiment: threshold must be positive and finite, got {}", threshold));
  if (checkpoint_every_steps < 0)
    throw InvalidArgument(fmt::format("experiment: checkpoint_every_steps must be >= 0 (0: each epoch only), got {}", checkpoint_every_steps));
  (void)resolve_precision(precision, torch::Device(torch::kCPU));
  (void)parse_schedule(schedule);
  if (schedule == "one-cycle" && warmup_epochs > 0)
    throw InvalidArgument("experiment: warm-up is not used with the one-cycle schedule (its rise is the warm-up); leave warmup_epochs at 0");
  bool cuda_device = false;
  try {
    const torch::Device parsed(device);
    // libtorch also parses meta, mps, xla, ...: a run needs a device labelrep trains on.
    if (!parsed.is_cpu() && !parsed.is_cuda()) throw std::invalid_argument(device);
    cuda_device = parsed.is_cuda();
  } catch (const std::exception&) {
    throw InvalidArgument(fmt::format("experiment: device '{}' is not cpu, cuda or cuda:N", device));
  }
  if (!(label_smoothing >= 0 && label_smoothing < 1))
    throw InvalidArgument(fmt::format("experiment: label smoothing must be in [0, 1), got {}", label_smoothing));
  if (label_smoothing > 0 && label != "category")
    throw InvalidArgument(fmt::format("experiment: label smoothing applies to category labels, not to '{}'", label));
  if (standardize_labels && label == "category")
    throw InvalidArgument("experiment: standardize_labels applies to regression labels, not to category");
  if (mirror_evaluation && !horizontal_flip)
    throw InvalidArgument("experiment: mirror_evaluation averages each image's output with its mirror image's, which needs training with "
                          "horizontal flips (horizontal_flip)");
  if (cuda_graphs && !cuda_device) throw InvalidArgument(fmt::format("experiment: cuda_graphs needs a CUDA device, the device is '{}'", device));
}

bool ExperimentConfig::is_execution_field(const std::string& key) {
  static const std::set<std::string> kFields = {"out",         "progress", "threads",  "channels_last",   "cuda_graphs",
                                                "checkpoint_every_steps", "device", "data_dir", "snapshot_epochs", "snapshot_every"};
  return kFields.count(key) != 0;
}

bool ExperimentConfig::is_recorded_field(const std::string& key) {
  static const std::set<std::string> kFields = {"label_kind", "weight_decay_used", "train_images", "in_channels", "precision_used"};
  return kFields.count(key) != 0;
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
                      {"label_smoothing", label_smoothing},
                      {"encoder", encoder},
                      {"device", device},
                      {"epochs", epochs},
                      {"batch_size", batch_size},
                      {"learning_rate", learning_rate},
                      {"momentum", momentum},
                      {"weight_decay", weight_decay},
                      {"milestones", milestones},
                      {"warmup_epochs", warmup_epochs},
                      {"schedule", schedule},
                      {"nesterov", nesterov},
                      {"standardize_labels", standardize_labels},
                      {"precision", precision},
                      {"seed", seed},
                      {"validation", validation},
                      {"level", level},
                      {"level_base", level_base_name(level_base)},
                      {"threshold", threshold},
                      {"pad_to", pad_to},
                      {"crop_padding", crop_padding},
                      {"horizontal_flip", horizontal_flip},
                      {"mirror_evaluation", mirror_evaluation},
                      {"channels_last", channels_last},
                      {"cuda_graphs", cuda_graphs},
                      {"checkpoint_every_steps", checkpoint_every_steps},
                      {"snapshot_epochs", snapshot_epochs},
                      {"snapshot_every", snapshot_every},
                      {"threads", threads},
                      {"out", out}};
  if (has_label_seed) j["label_seed"] = label_seed;
  return labelrep::detail::dump_json_document(j, 2, "the experiment's configuration") + "\n";
}

ExperimentConfig ExperimentConfig::from_json(const std::string& text, const std::string& source) {
  const auto j = labelrep::detail::parse_json_document(text, source);
  if (!j.is_object()) throw FormatError(source, 0, "an experiment configuration must be a JSON object");
  ExperimentConfig c;
  try {
    for (const auto& [key, value] : j.items()) {
      if (key == "dataset") c.dataset = value.get<std::string>();
      else if (key == "data_dir") c.data_dir = value.get<std::string>();
      else if (key == "label") c.label = value.get<std::string>();
      else if (key == "label_seed") c.has_label_seed = true, c.label_seed = labelrep::detail::json_unsigned(value, key, source);
      else if (key == "label_size") c.label_size = integer_field(value, key, source);
      else if (key == "label_smoothing") c.label_smoothing = value.get<double>();
      else if (key == "encoder") c.encoder = value.get<std::string>();
      else if (key == "device") c.device = value.get<std::string>();
      else if (key == "epochs") c.epochs = integer_field(value, key, source);
      else if (key == "batch_size") c.batch_size = integer_field(value, key, source);
      else if (key == "learning_rate") c.learning_rate = value.get<double>();
      else if (key == "momentum") c.momentum = value.get<double>();
      else if (key == "weight_decay") c.weight_decay = value.get<double>();
      else if (key == "milestones") c.milestones = value.get<std::vector<double>>();
      else if (key == "warmup_epochs") c.warmup_epochs = value.get<double>();
      else if (key == "schedule") c.schedule = value.get<std::string>();
      else if (key == "nesterov") c.nesterov = value.get<bool>();
      else if (key == "standardize_labels") c.standardize_labels = value.get<bool>();
      else if (key == "precision") c.precision = value.get<std::string>();
      else if (key == "seed") c.seed = labelrep::detail::json_unsigned(value, key, source);
      else if (key == "validation") c.validation = integer_field(value, key, source);
      else if (key == "level") c.level = value.get<double>();
      else if (key == "level_base") {
        const auto base = value.get<std::string>();
        if (base != "pool" && base != "training-set") throw FormatError(source, FormatError::kNoOffset, "level_base must be pool or training-set");
        c.level_base = base == "pool" ? data::LevelBase::kPool : data::LevelBase::kTrainingSet;
      } else if (key == "threshold") c.threshold = value.get<double>();
      else if (key == "crop_padding") c.crop_padding = integer_field(value, key, source);
      else if (key == "pad_to") c.pad_to = integer_field(value, key, source);
      else if (key == "horizontal_flip") c.horizontal_flip = value.get<bool>();
      else if (key == "mirror_evaluation") c.mirror_evaluation = value.get<bool>();
      else if (key == "channels_last") c.channels_last = value.get<bool>();
      else if (key == "cuda_graphs") c.cuda_graphs = value.get<bool>();
      else if (key == "checkpoint_every_steps") c.checkpoint_every_steps = integer_field(value, key, source);
      else if (key == "snapshot_epochs") {
        if (!value.is_array()) throw FormatError(source, FormatError::kNoOffset, fmt::format("field 'snapshot_epochs' must be an array of integers, got {}", value.dump()));
        c.snapshot_epochs.clear();
        for (const auto& e : value) c.snapshot_epochs.push_back(integer_field(e, key, source));
      } else if (key == "snapshot_every") c.snapshot_every = integer_field(value, key, source);
      else if (key == "threads") c.threads = static_cast<int>(integer_field(value, key, source, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
      else if (key == "progress") c.progress = value.get<bool>();
      else if (key == "out") c.out = value.get<std::string>();
      else throw FormatError(source, FormatError::kNoOffset, fmt::format("unknown field '{}'", key));
    }
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source, FormatError::kNoOffset, std::string("a field has the wrong type: ") + e.what());
  }
  return c;
}

}  // namespace labelrep::train
