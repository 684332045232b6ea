// `labelrep train ... --out RUN_DIR`: one run of the paper's protocol (see train/experiment.hpp).
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/dist/process_group.hpp"
#include "labelrep/train/experiment.hpp"

namespace labelrep::cli {

void print_experiment_result(const train::ExperimentResult& r) {
  std::cout << fmt::format("{}: {} labels, test accuracy {:.2f}%", r.run_dir, r.label_kind, 100 * r.test_accuracy);
  if (r.has_threshold) std::cout << fmt::format(", threshold accuracy {:.2f}%", 100 * r.test_threshold_accuracy);
  const std::string selected = std::isnan(r.best_validation_accuracy)
                                   ? fmt::format("last epoch {}, no validation set", r.best_epoch)
                                   : fmt::format("best epoch {}, validation {:.2f}%", r.best_epoch, 100 * r.best_validation_accuracy);
  std::cout << fmt::format(" ({}{})\n", selected, r.trained_now ? fmt::format(", trained in {:.1f} s", r.train_seconds) : ", already finished");
}

void use_threads(int requested) {
  const int threads = requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

void add_experiment_options(CLI::App& cmd, train::ExperimentConfig& c) {
  cmd.add_option("--dataset", c.dataset, "fashion-mnist, cifar10, cifar100 or cifar100-coarse")->capture_default_str();
  // Stored absolute in config.json, so that evaluate, attack, tsne, gradcam and speak, which read the
  // run's test set from it, find it from any working directory.
  cmd.add_option("--data-dir", c.data_dir, "Directory of the dataset files (CIFAR: the binary version)")
      ->transform(CLI::Validator(
          [](std::string& dir) {
            if (!dir.empty()) dir = std::filesystem::absolute(dir).lexically_normal().string();
            return std::string();
          },
          "", "ABSOLUTE_PATH"));
  cmd.add_option("--encoder", c.encoder, "resnet<6n+2> (resnet32, resnet110, ...), vgg19 or small-cnn")->capture_default_str();
  cmd.add_option("--epochs", c.epochs, "Epochs (the paper: 200 categorical, 600 high-dimensional)")->capture_default_str();
  cmd.add_option("--seed", c.seed, "Seed of the split, data level, batch order, augmentation and initial weights")->capture_default_str();
  cmd.add_option("--level", c.level, "Data level: percent of the training pool to train on")->capture_default_str();
  cmd.add_option_function<std::string>(
         "--level-base",
         [&c](const std::string& v) { c.level_base = v == "training-set" ? data::LevelBase::kTrainingSet : data::LevelBase::kPool; },
         "What the level is a percentage of: pool (default) or training-set (the authors' code)")
      ->check(CLI::IsMember({"pool", "training-set"}));
  cmd.add_option("--validation", c.validation, "Training images held out for model selection (0: none, the last epoch is the result)")
      ->capture_default_str();
  cmd.add_option("--device", c.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd.add_option("--batch-size", c.batch_size, "Batch size")->capture_default_str();
  cmd.add_option("--lr", c.learning_rate, "Initial learning rate (×0.1 at each milestone)")->capture_default_str();
  cmd.add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
  cmd.add_option("--weight-decay", c.weight_decay, "Weight decay (default: the paper's, 1e-4; 5e-4 for VGG19 with categories)");
  cmd.add_option("--milestones", c.milestones, "Epoch fractions where the learning rate drops ×0.1")->delimiter(',')->capture_default_str();
  cmd.add_option("--warmup", c.warmup_epochs, "Linear learning-rate warm-up, in epochs")->capture_default_str();
  cmd.add_option("--schedule", c.schedule, "Learning-rate schedule: step (the paper's milestones) or one-cycle")
      ->check(CLI::IsMember({"step", "one-cycle"}))
      ->capture_default_str();
  cmd.add_flag("--nesterov", c.nesterov, "Nesterov momentum");
  cmd.add_flag("--standardize-labels", c.standardize_labels,
               "Regress the labels scaled to mean 0, std 1 (one scalar each: nearest-label decisions unchanged; outputs in label units)");
  cmd.add_option("--precision", c.precision, "fp32 (the paper's), bf16 (autocast) or auto (bf16 on CUDA, fp32 on the CPU)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  cmd.add_option("--label-size", c.label_size, "Side of square label kinds")->capture_default_str();
  cmd.add_option("--label-smoothing", c.label_smoothing, "Label smoothing of category labels, in [0, 1) (cross-entropy to 1-e+e/C and e/C)")
      ->capture_default_str();
  cmd.add_option("--pad-to", c.pad_to, "Zero-pad smaller images to this side (-1: 32 for resnet/vgg19, none for small-cnn; 0: never)")
      ->capture_default_str();
  cmd.add_option("--crop-padding", c.crop_padding, "Augmentation: random crops of the image zero-padded by this many pixels (0: none)")->capture_default_str();
  cmd.add_flag("!--no-flip", c.horizontal_flip, "Augmentation: no random horizontal flips");
  cmd.add_flag("--mirror-evaluation", c.mirror_evaluation,
               "Validation and test decide on the mean output of each image and its mirror image (test-time flips)");
  cmd.add_flag("!--no-channels-last", c.channels_last, "Keep the contiguous (NCHW) memory format instead of channels-last");
  cmd.add_flag("--cuda-graphs", c.cuda_graphs, "Run each full training batch as one captured CUDA graph (CUDA only; docs/gpu.md)");
  cmd.add_option("--threshold", c.threshold, "Threshold of the threshold accuracy (mean smooth-L1 to the true label)")->capture_default_str();
  cmd.add_option("--checkpoint-every", c.checkpoint_every_steps, "Also checkpoint every N steps (0: each epoch only)")->capture_default_str();
  cmd.add_option("--snapshot-epochs", c.snapshot_epochs,
                 "Keep the weights after these epochs in snapshots/ (0: the initial weights), for `labelrep tsne --progression`")
      ->delimiter(',');
  cmd.add_option("--snapshot-every", c.snapshot_every, "Also keep a snapshot every N epochs (0: none)")->capture_default_str();
  cmd.add_option("--threads", c.threads, "Intra-op CPU threads (0: one per hardware thread)")->capture_default_str();
}

namespace {
// What train::check_experiment_inputs found, in two lines (train --check).
void print_experiment_inputs(const train::ExperimentConfig& config, const train::ExperimentInputs& in) {
  std::cout << fmt::format("{} on {} ({} classes, images {}): {} training, {} validation, {} test images\n"
                           "labels: {} {}; model: {} with {} parameters\n",
                           config.out, config.dataset, in.classes, fmt::join(in.image_shape, "×"), in.train_images, in.validation_images,
                           in.test_images, in.label_kind, fmt::join(in.label_shape, "×"), config.encoder, in.parameters);
}
}  // namespace

void add_train_command(CLI::App& app) {
  auto config = std::make_shared<train::ExperimentConfig>();
  auto* cmd = app.add_subcommand("train", "Train and evaluate one model (resumes an interrupted run in the same --out)");
  cmd->add_option("--label", config->label, "Label kind (category, constant, uniform, lowdim, composite, ...) or a .npy file")
      ->capture_default_str();
  auto* label_seed = cmd->add_option("--label-seed", config->label_seed, "Seed of random label kinds (default: the kind's)");
  add_experiment_options(*cmd, *config);
  cmd->add_option("--out", config->out, "Run directory (config.json, metrics.csv, checkpoints, result.json)")->required();
  struct Distributed {
    std::string mode = "auto", backend = "auto";
    double timeout = 1800;
  };
  auto dist_args = std::make_shared<Distributed>();
  cmd->add_option("--distributed", dist_args->mode,
                  "Data-parallel training over the processes described by MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE: "
                  "auto (when WORLD_SIZE > 1), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd->add_option("--dist-backend", dist_args->backend, "auto (NCCL for CUDA, else Gloo), gloo or nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}))
      ->capture_default_str();
  cmd->add_option("--dist-timeout", dist_args->timeout, "Seconds a rank waits for the others before failing")->capture_default_str();
  auto check_only = std::make_shared<bool>(false);
  cmd->add_flag("--check", *check_only,
                "Train nothing: read the data, make the labels and the model as the run would, print what it would train on");
  cmd->callback([config, label_seed, dist_args, check_only] {
    // Checked whether or not this run is distributed, so a typo never waits for the day it matters.
    if (!(dist_args->timeout > 0 && dist_args->timeout <= 604800))
      throw InvalidArgument(fmt::format("--dist-timeout must be a number of seconds in (0, 604800], got {}", dist_args->timeout));
    config->has_label_seed = label_seed->count() > 0;
    if (*check_only) {
      print_experiment_inputs(*config, train::check_experiment_inputs(*config));
      return;
    }
    std::shared_ptr<dist::ProcessGroup> group;
    if (dist_args->mode == "on" || (dist_args->mode == "auto" && dist::environment_requests_distributed())) {
      auto options = dist::ProcessGroupOptions::from_environment();
      options.backend(dist_args->backend).device(config->device).timeout_seconds(dist_args->timeout);
      group = std::make_shared<dist::ProcessGroup>(options);
    }
    const auto result = train::run_experiment(*config, group);
    if (!group || group->rank() == 0) print_experiment_result(result);
  });
}

}  // namespace labelrep::cli
