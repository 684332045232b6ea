#include "labelrep/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/core/progress.hpp"
#include "labelrep/dist/process_group.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "labelrep/version.hpp"
#include "core/boundary.hpp"
#include "core/eval_mode_guard.hpp"

namespace labelrep::train {
namespace {

torch::Device device_of(models::Model& model) {
  const auto parameters = model->parameters();
  return parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device();
}

int rank_of(const TrainerOptions& options) { return options.process_group() ? options.process_group()->rank() : 0; }
int world_of(const TrainerOptions& options) { return options.process_group() ? options.process_group()->world_size() : 1; }

// One optimisation step; with a reducer the gradients are summed over the ranks before the update,
// each rank's weighted by its share of the global batch. An empty shard contributes zero gradients.
torch::Tensor step(models::Model& model, torch::optim::Optimizer& optimizer, const data::Batch& batch,
                   const labels::LabelRepresentation& labels, LossKind loss_kind, Precision precision, dist::GradientReducer* reducer) {
  optimizer.zero_grad();
  const std::int64_t images = batch.images.size(0);
  torch::Tensor loss;
  if (images > 0) {
    torch::Tensor outputs;
    {
      AutocastGuard autocast(batch.images.device().type(), precision);
      outputs = model->forward(batch.images);
    }
    // The loss in float32 whatever the forward pass ran in: bf16 would round the regression targets.
    loss = label_loss(outputs.to(torch::kFloat), batch.targets, labels, loss_kind, model->decoder().loss_scale());
    loss.backward();
  } else {
    loss = torch::zeros({}, batch.images.options().dtype(torch::kFloat32));
  }
  if (reducer != nullptr) reducer->reduce(static_cast<double>(images) / static_cast<double>(std::max<std::int64_t>(1, batch.global_size)));
  optimizer.step();
  return loss.detach();
}

nlohmann::json result_json(const eval::EvaluationResult& r) {
  nlohmann::json per_class = nlohmann::json::array();
  for (double a : r.per_class_accuracy) per_class.push_back(std::isnan(a) ? nlohmann::json(nullptr) : nlohmann::json(a));
  std::vector<std::vector<std::int64_t>> confusion;
  const auto c = r.confusion.contiguous();
  for (std::int64_t i = 0; i < c.size(0); ++i)
    confusion.emplace_back(c[i].data_ptr<std::int64_t>(), c[i].data_ptr<std::int64_t>() + c.size(1));
  nlohmann::json j = {{"images", r.count}, {"accuracy", r.accuracy}, {"per_class_accuracy", per_class}, {"confusion", confusion}};
  if (r.has_threshold) {
    j["threshold_accuracy"] = r.threshold_accuracy;
    j["threshold"] = r.threshold;
    j["label_range"] = {r.range_min, r.range_max};
  }
  return j;
}

}  // namespace

void set_learning_rate(torch::optim::Optimizer& optimizer, double learning_rate) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(learning_rate);
}

void apply_schedule(torch::optim::SGD& optimizer, const TrainingRecipe& recipe, double epoch) {
  const double learning_rate = learning_rate_at(recipe, epoch), momentum = momentum_at(recipe, epoch);
  for (auto& group : optimizer.param_groups()) {
    auto& options = static_cast<torch::optim::SGDOptions&>(group.options());
    options.lr(learning_rate);
    options.momentum(momentum);
  }
}

torch::Tensor train_step(models::Model& model, torch::optim::Optimizer& optimizer, const data::Batch& batch,
                         const labels::LabelRepresentation& labels, LossKind loss_kind, Precision precision) try {
  if (!batch.images.defined() || !batch.targets.defined())
    throw InvalidArgument("train_step: batch.images and batch.targets must both be defined");
  if (batch.images.dim() < 1 || batch.targets.dim() != 1 || batch.targets.size(0) != batch.images.size(0))
    throw InvalidArgument(fmt::format("train_step: batch.targets has {} rows but batch.images has {}",
                                      batch.targets.dim() == 1 ? batch.targets.size(0) : -1, batch.images.dim() > 0 ? batch.images.size(0) : 0));
  return step(model, optimizer, batch, labels, loss_kind, precision, nullptr);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("train_step");
}

eval::EvaluationResult evaluate(models::Model& model, const eval::NearestNeighborEvaluator& evaluator, data::Batcher& batches,
                                Precision precision, EvaluationViews views, ProgressLine* progress) try {
  detail::EvalModeGuard eval_mode(*model);
  torch::NoGradGuard no_grad;
  eval::EvaluationTally tally(evaluator.labels().num_classes());
  std::vector<torch::Tensor> targets, predictions;  // per batch, on the CPU
  batches.start_epoch(0);
  data::Batch batch;
  while (batches.next(batch)) {
    torch::Tensor outputs;
    {
      AutocastGuard autocast(batch.images.device().type(), precision);
      if (views == EvaluationViews::kImageAndMirror) {
        // One pass over images and mirror images: in eval mode BatchNorm uses its running statistics,
        // so each output is the one the image would get alone.
        const auto both = model->forward(torch::cat({batch.images, batch.images.flip({-1})}));
        const auto halves = both.to(torch::kFloat).chunk(2);
        outputs = (halves[0] + halves[1]) * 0.5;
      } else {
        outputs = model->forward(batch.images);
      }
    }
    torch::Tensor predicted;
    tally += evaluator.tally(outputs.to(torch::kFloat), batch.targets, &predicted);
    targets.push_back(batch.targets.to(torch::kCPU, torch::kLong));
    predictions.push_back(predicted.to(torch::kCPU, torch::kLong));
    if (progress != nullptr) progress->advance(batch.images.size(0));
  }
  if (progress != nullptr) progress->finish();
  auto result = tally.result();
  result.targets = torch::cat(targets);
  result.predictions = torch::cat(predictions);
  return result;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("evaluate");
}

data::Batcher evaluation_batches(const data::ImageDataset& dataset, const torch::Tensor& indices,
                                 const data::ChannelStatistics& statistics, std::int64_t batch_size) {
  return data::Batcher(dataset, indices,
                       data::BatcherOptions(statistics.mean, statistics.std).batch_size(batch_size).shuffle(false).crop_padding(0).horizontal_flip(false));
}

Trainer::Trainer(models::Model model, std::shared_ptr<const labels::LabelRepresentation> labels, data::ImageDataset train_set,
                 const torch::Tensor& train_indices, const torch::Tensor& validation_indices, data::ChannelStatistics statistics,
                 TrainerOptions options, RunDirectory run) try
    : model_(std::move(model)),
      labels_(std::move(labels)),
      train_set_(std::move(train_set)),
      statistics_(std::move(statistics)),
      options_(std::move(options)),
      run_(std::move(run)),
      evaluator_(labels_, eval::NearestNeighborOptions().threshold(options_.threshold())),
      batches_(train_set_, train_indices,
               data::BatcherOptions(statistics_.mean, statistics_.std).batch_size(options_.recipe().batch_size())
                                   .seed(options_.seed())
                                   .crop_padding(options_.crop_padding())
                                   .horizontal_flip(options_.horizontal_flip())
                                   .shard_index(rank_of(options_))
                                   .shard_count(world_of(options_))
                                   .skip_one_image_shards(true)),
      validation_batches_(validation_indices.numel() > 0
                              ? std::optional<data::Batcher>(evaluation_batches(train_set_, validation_indices, statistics_))
                              : std::nullopt) {
  options_.recipe().validate();
  // Checked for every run, not only when a new run writes it: a resumed run would otherwise find it bad
  // at its first checkpoint or in finish(), after the training.
  try {
    if (!nlohmann::json::parse(options_.config_json()).is_object()) throw InvalidArgument("Trainer: config_json must be a JSON object");
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(fmt::format("Trainer: config_json is not valid JSON: {}", e.what()));
  }
  if (batches_.batches_per_epoch() == 0)
    throw InvalidArgument(fmt::format("Trainer: {} training images make no batch that batch normalisation can train on (at least {} are needed)",
                                      batches_.size(), 2 * world_of(options_)));
  if (!run_.writable()) throw InvalidArgument(fmt::format("Trainer: the run directory {} was opened read-only", run_.path()));
  if (labels_->num_classes() != train_set_.num_classes())
    throw InvalidArgument(fmt::format("Trainer: the labels have {} classes but dataset '{}' has {}", labels_->num_classes(),
                                      train_set_.name(), train_set_.num_classes()));
  if (device_of(model_) != train_set_.images().device())
    throw InvalidArgument(fmt::format("Trainer: the model is on {} but the data on {}", device_of(model_).str(),
                                      train_set_.images().device().str()));
  if (options_.cuda_graphs()) {
    if (!device_of(model_).is_cuda())
      throw InvalidArgument(fmt::format("Trainer: cuda_graphs needs the model on a CUDA device, it is on {}", device_of(model_).str()));
    if (!cuda_graphs_available())
      throw Error("labelrep: Trainer: cuda_graphs: this labelrep was built without CUDA graph support (see docs/gpu.md)");
    if (world_of(options_) > 1) throw InvalidArgument("Trainer: cuda_graphs does not support data-parallel training yet");
  }
  if (options_.channels_last()) models::set_memory_format(*model_, c10::MemoryFormat::ChannelsLast);
  const auto& r = options_.recipe();
  optimizer_ = std::make_unique<torch::optim::SGD>(
      model_->parameters(), torch::optim::SGDOptions(r.learning_rate()).momentum(r.momentum()).weight_decay(r.weight_decay()).nesterov(r.nesterov()));
  // Rank 0 owns the run directory: it decides whether to resume and ships its checkpoint to the others.
  bool resume = is_rank0() && std::filesystem::exists(run_.file("last.ckpt"));
  std::string checkpoint_copy;
  if (distributed()) {
    auto& group = *options_.process_group();
    resume = group.broadcast_bytes(resume ? "resume" : "new") == "resume";
    if (resume) {
      const auto bytes = group.broadcast_bytes(is_rank0() ? read_file(run_.file("last.ckpt")) : std::string());
      if (!is_rank0()) {
        checkpoint_copy = (std::filesystem::temp_directory_path() / fmt::format("labelrep-rank{}-{}.ckpt", rank_of(options_), ::getpid())).string();
        write_file_atomically(checkpoint_copy, bytes);
      }
    }
  }
  if (resume) {
    try {
      state_ = load_checkpoint(checkpoint_copy.empty() ? run_.file("last.ckpt") : checkpoint_copy, *model_, optimizer_.get());
    } catch (...) {
      if (!checkpoint_copy.empty()) std::filesystem::remove(checkpoint_copy);
      throw;
    }
    if (!checkpoint_copy.empty()) std::filesystem::remove(checkpoint_copy);
    if (is_rank0()) run_.truncate_metrics(static_cast<std::size_t>(state_.epoch));
    // best.ckpt is written before last.ckpt. A run stopped in between has a best.ckpt from an epoch past
    // last.ckpt's, of the attempt that is now replayed. On the CPU the replay is bit-identical and
    // writes it again; on a GPU it may not be, and best.ckpt would no longer be the weights the record
    // names. The record follows the file instead: best.ckpt holds weights that scored this on
    // validation, and only a better epoch of the replay replaces them.
    std::string best_record;
    if (validation_batches_ && is_rank0() && std::filesystem::exists(run_.file("best.ckpt"))) {
      const auto best = read_checkpoint_state(run_.file("best.ckpt"));
      if (best.epoch > state_.epoch && best.best_validation_accuracy > state_.best_validation_accuracy)
        best_record = fmt::format("{:.17g} {}", best.best_validation_accuracy, best.best_epoch);
    }
    if (distributed()) best_record = options_.process_group()->broadcast_bytes(best_record);  // every rank keeps one state
    if (!best_record.empty()) std::istringstream(best_record) >> state_.best_validation_accuracy >> state_.best_epoch;
    if (is_rank0() && state_.threads != at::get_num_threads())
      std::fprintf(stderr, "labelrep: warning: resuming %s with %d threads, it was saved with %d: results will not be bit-identical\n",
                   run_.path().c_str(), at::get_num_threads(), state_.threads);
  } else if (is_rank0()) {
    // No last.ckpt: a start from scratch. A run stopped during its first epoch's writes may have left
    // that epoch's metrics row and best.ckpt; the epoch runs again and writes them anew.
    run_.truncate_metrics(0);
    std::filesystem::remove(run_.file("best.ckpt"));
    run_.write_config(options_.config_json());
  }
  state_.config_json = options_.config_json();
  for (const auto e : options_.snapshot_epochs())
    if (e < 0) throw InvalidArgument(fmt::format("Trainer: snapshot epoch {} is negative", e));
  if (options_.snapshot_every() < 0) throw InvalidArgument(fmt::format("Trainer: snapshot_every {} is negative", options_.snapshot_every()));
  // A resumed run cannot go back for snapshots of epochs it trained without asking for them.
  if (is_rank0() && (state_.epoch > 0 || state_.batch_in_epoch > 0)) run_.require_snapshots(options_.snapshot_epochs(), state_.epoch);
  if (distributed()) {
    dist::broadcast_module(*options_.process_group(), *model_);
    reducer_ = std::make_shared<dist::GradientReducer>(options_.process_group(), model_->parameters());
  }
  if (is_rank0() && state_.epoch == 0 && state_.batch_in_epoch == 0) snapshot_if_wanted();  // the initial weights (epoch 0)
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Trainer");
}

bool Trainer::distributed() const noexcept { return world_of(options_) > 1; }

void Trainer::require_finite_loss(double loss_sum, std::int64_t epoch) const {
  if (!std::isfinite(loss_sum))
    throw InvalidArgument(fmt::format("training diverged: the loss is {} at step {} (epoch {}); lower the learning rate", loss_sum,
                                      state_.step, epoch + 1));
}
bool Trainer::is_rank0() const noexcept { return rank_of(options_) == 0; }

double Trainer::sum_over_ranks(const torch::Tensor& scalar) {
  if (!distributed()) return scalar.item<double>();
  auto& group = *options_.process_group();
  std::vector<torch::Tensor> value = {scalar.detach().to(group.device(), torch::kDouble).reshape({1}).clone()};
  group.all_reduce_sum(value);
  return value[0].item<double>();
}

void Trainer::snapshot_if_wanted() {
  const auto& wanted = options_.snapshot_epochs();
  const std::int64_t epoch = state_.epoch;
  const bool listed = std::find(wanted.begin(), wanted.end(), epoch) != wanted.end();
  const bool periodic = options_.snapshot_every() > 0 && epoch > 0 && epoch % options_.snapshot_every() == 0;
  if (!listed && !periodic) return;
  state_.threads = at::get_num_threads();
  save_checkpoint(run_.snapshot_file(epoch), *model_, nullptr, state_);
}

void Trainer::checkpoint(const std::string& name) {
  if (!is_rank0()) return;
  if (device_step_) device_step_->check_targets();  // no weights trained on a clamped class id are saved
  state_.threads = at::get_num_threads();
  save_checkpoint(run_.file(name), *model_, name == "best.ckpt" ? nullptr : optimizer_.get(), state_);
}

EpochSummary Trainer::train_epoch(std::int64_t max_steps) try {
  const auto& recipe = options_.recipe();
  if (state_.epoch >= recipe.epochs()) throw InvalidArgument(fmt::format("Trainer: all {} epochs are done", recipe.epochs()));
  const std::int64_t epoch = state_.epoch;
  EpochSummary summary;
  summary.epoch = epoch + 1;
  summary.learning_rate = learning_rate_at(recipe, static_cast<double>(epoch));
  if (state_.batch_in_epoch > 0) {
    batches_.seek(epoch, state_.batch_in_epoch);
  } else {
    batches_.start_epoch(epoch);
    state_.epoch_loss_sum = 0;
  }
  model_->train();
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<ProgressLine> progress;
  if (options_.progress() && is_rank0())
    progress = std::make_unique<ProgressLine>(fmt::format("epoch {}/{}", epoch + 1, recipe.epochs()),
                                              batches_.batches_per_epoch() - state_.batch_in_epoch, "batches");
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(train_set_.images().device()));
  std::int64_t images = 0;
  data::Batch batch;
  std::int64_t steps_now = 0;
  while ((max_steps <= 0 || steps_now < max_steps) && batches_.next(batch)) {
    ++steps_now;
    // Per step, so that continuous schedules (one-cycle, warm-up) move smoothly inside an epoch.
    apply_schedule(*optimizer_, recipe,
                   static_cast<double>(epoch) + static_cast<double>(state_.batch_in_epoch) / static_cast<double>(batches_.batches_per_epoch()));
    // On a GPU every step is GraphedTrainStep's, captured as a graph or not: it never waits for the
    // device (label_loss's class-id range check would, every step, and an eager GPU step is paced by
    // how far ahead of the device the host can launch).
    if (!device_step_ && (options_.cuda_graphs() || (train_set_.images().is_cuda() && !distributed())))
      device_step_ = std::make_unique<GraphedTrainStep>(model_, *optimizer_, labels_,
                                                         GraphedStepOptions()
                                                             .loss(options_.loss())
                                                             .precision(options_.precision())
                                                             .capture(options_.cuda_graphs())
                                                             .batch_size(recipe.batch_size()));
    const auto loss = (device_step_ ? device_step_->step(batch)
                                     : step(model_, *optimizer_, batch, *labels_, options_.loss(), options_.precision(), reducer_.get()))
                          .to(torch::kDouble);
    // Data parallel: this rank's share of the global batch's mean loss (the shares sum to it).
    loss_sum += distributed() ? loss * (static_cast<double>(batch.images.size(0)) / static_cast<double>(batch.global_size)) : loss;
    images += batch.global_size;
    ++state_.step;
    ++state_.batch_in_epoch;
    const bool report = state_.step % 20 == 0;
    if (report || batches_.position() == batches_.batches_per_epoch()) {
      if (device_step_) device_step_->check_targets();
      const double total = state_.epoch_loss_sum + sum_over_ranks(loss_sum);
      require_finite_loss(total, epoch);
      if (progress) progress->advance(report ? 20 : 0, fmt::format("loss {:.4f}", total / static_cast<double>(state_.batch_in_epoch)));
    }
    if (options_.checkpoint_every_steps() > 0 && state_.step % options_.checkpoint_every_steps() == 0) {
      state_.epoch_loss_sum += sum_over_ranks(loss_sum);
      loss_sum.zero_();
      require_finite_loss(state_.epoch_loss_sum, epoch);  // never a checkpoint of diverged weights over the last good one
      checkpoint("last.ckpt");
    }
  }
  if (batches_.position() < batches_.batches_per_epoch()) {  // stopped by the step budget
    if (progress) progress->finish();
    state_.epoch_loss_sum += sum_over_ranks(loss_sum);
    require_finite_loss(state_.epoch_loss_sum, epoch);
    checkpoint("last.ckpt");
    summary.complete = false;
    summary.train_loss = state_.epoch_loss_sum / static_cast<double>(std::max<std::int64_t>(1, state_.batch_in_epoch));
    return summary;
  }
  const double epoch_loss_sum = state_.epoch_loss_sum + sum_over_ranks(loss_sum);
  summary.train_loss = epoch_loss_sum / static_cast<double>(std::max<std::int64_t>(1, state_.batch_in_epoch));
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.images_per_second = static_cast<double>(images) / std::max(1e-9, summary.seconds);

  eval::EvaluationResult validation;
  validation.accuracy = std::nan("");  // stays so without a validation set
  if (validation_batches_ && distributed()) {
    // As DDP: evaluate with rank 0's BatchNorm statistics. Rank 0 validates alone (the others wait in
    // the broadcast) and shares the numbers, so every rank keeps the same training state.
    auto& group = *options_.process_group();
    dist::broadcast_module(group, *model_, /*buffers_only=*/true);
    if (is_rank0()) validation = evaluate(model_, evaluator_, *validation_batches_, options_.precision(), options_.evaluation_views());
    std::vector<torch::Tensor> numbers = {torch::tensor({validation.accuracy, validation.threshold_accuracy, validation.has_threshold ? 1.0 : 0.0},
                                                        torch::kDouble).to(group.device())};
    group.broadcast(numbers, 0);
    const auto host = numbers[0].cpu();
    validation.accuracy = host[0].item<double>();
    validation.threshold_accuracy = host[1].item<double>();
    validation.has_threshold = host[2].item<double>() != 0;
  } else if (validation_batches_) {
    validation = evaluate(model_, evaluator_, *validation_batches_, options_.precision(), options_.evaluation_views());
  }
  summary.validation_accuracy = validation.accuracy;
  summary.validation_threshold_accuracy = validation.has_threshold ? validation.threshold_accuracy : std::nan("");
  if (progress) {  // the epoch's final line: its loss and validation accuracy stay on screen
    progress->advance(0, validation_batches_
                             ? fmt::format("loss {:.4f} | validation {:.2f}%", summary.train_loss, 100 * validation.accuracy)
                             : fmt::format("loss {:.4f}", summary.train_loss));
    progress->finish();
  }
  state_.epoch = epoch + 1;
  state_.batch_in_epoch = 0;
  state_.epoch_loss_sum = 0;
  if (!validation_batches_ || validation.accuracy > state_.best_validation_accuracy) {  // without one, every epoch is the latest result
    if (validation_batches_) state_.best_validation_accuracy = validation.accuracy;
    state_.best_epoch = state_.epoch;
    summary.best = true;
    checkpoint("best.ckpt");
  }
  // metrics.csv holds only what the seed determines (byte-identical between same-seed runs);
  // wall-clock figures go to timings.csv.
  std::map<std::string, double> row = {{"epoch", static_cast<double>(summary.epoch)},
                                       {"learning_rate", summary.learning_rate},
                                       {"train_loss", summary.train_loss}};
  if (validation_batches_) row["validation_accuracy"] = summary.validation_accuracy;
  if (validation.has_threshold) row["validation_threshold_accuracy"] = summary.validation_threshold_accuracy;
  if (is_rank0()) {
    run_.append_metrics(row);
    run_.append_timings(summary.epoch, summary.seconds, summary.images_per_second);
    snapshot_if_wanted();  // before last.ckpt: a run killed in between redoes the epoch and writes it again
  }
  checkpoint("last.ckpt");
  return summary;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Trainer::train_epoch");
}

std::vector<EpochSummary> Trainer::fit(std::int64_t max_steps) try {
  std::vector<EpochSummary> done;
  const std::int64_t first_step = state_.step;
  while (state_.epoch < options_.recipe().epochs()) {
    const std::int64_t left = max_steps > 0 ? max_steps - (state_.step - first_step) : 0;
    if (max_steps > 0 && left <= 0) break;
    done.push_back(train_epoch(left));
    if (!done.back().complete) break;
  }
  return done;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Trainer::fit");
}

eval::EvaluationResult Trainer::finish(const data::ImageDataset& test_set) try {
  if (!is_rank0())
    throw InvalidArgument(fmt::format("Trainer: rank {} called finish(); in data-parallel training only rank 0 tests and writes the result", rank_of(options_)));
  if (test_set.num_classes() != labels_->num_classes())
    throw InvalidArgument(fmt::format("Trainer: the test set has {} classes, the labels {}", test_set.num_classes(), labels_->num_classes()));
  device_step_.reset();  // training is over: the captured graph and its memory pool go before the test
  if (std::filesystem::exists(run_.file("best.ckpt"))) load_checkpoint(run_.file("best.ckpt"), *model_, nullptr);
  auto test_batches = evaluation_batches(test_set, torch::arange(test_set.size(), torch::TensorOptions().dtype(torch::kLong)), statistics_);
  const auto result = evaluate(model_, evaluator_, test_batches, options_.precision(), options_.evaluation_views());
  nlohmann::json j;
  j["labelrep_version"] = version();
  j["test"] = result_json(result);
  j["best_epoch"] = state_.best_epoch;
  j["best_validation_accuracy"] = validation_batches_ ? nlohmann::json(state_.best_validation_accuracy) : nlohmann::json(nullptr);
  j["selection"] = validation_batches_ ? "validation" : "last epoch";
  j["epochs"] = state_.epoch;
  j["labels"] = {{"kind", labels_->name()}, {"classes", labels_->num_classes()}, {"shape", labels_->label_shape()},
                 {"categorical", labels_->is_categorical()}};
  j["parameters"] = model_->parameter_count();
  j["config"] = nlohmann::json::parse(options_.config_json());
  // Each test image's true and predicted class, before result.json marks the run finished: to compare
  // two runs image by image (the report's paired accuracy).
  write_npy(run_.file(kTestPredictionsFile), torch::stack({result.targets, result.predictions}, 1));
  run_.write_result(j.dump(2) + "\n");
  return result;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Trainer::finish");
}

}  // namespace labelrep::train
