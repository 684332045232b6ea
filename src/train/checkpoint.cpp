#include "labelrep/train/checkpoint.hpp"

#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <set>
#include <sstream>
#include <type_traits>
#include <torch/utils.h>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/envelope.hpp"
#include "labelrep/core/error.hpp"
#include "train/checkpoint_probe.hpp"
#include "train/optimizer_state.hpp"
#include "core/boundary.hpp"

namespace labelrep::train {
namespace {

std::atomic<std::uint64_t> g_archive_parses{0};

std::string state_to_json(const TrainingState& s) {
  // JSON has no NaN or infinity (nlohmann writes null, which the loader would then refuse): a state that
  // cannot be read back is refused here, before anything is written.
  if (!std::isfinite(s.epoch_loss_sum) || !std::isfinite(s.best_validation_accuracy))
    throw InvalidArgument(fmt::format("save_checkpoint: the training state holds a non-finite value (epoch_loss_sum {}, "
                                      "best_validation_accuracy {}); a diverged state is not saved",
                                      s.epoch_loss_sum, s.best_validation_accuracy));
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(s.config_json.empty() ? "{}" : s.config_json);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(fmt::format("save_checkpoint: TrainingState::config_json is not valid JSON: {}", e.what()));
  }
  nlohmann::json j = {{"epoch", s.epoch},
                      {"step", s.step},
                      {"batch_in_epoch", s.batch_in_epoch},
                      {"epoch_loss_sum", s.epoch_loss_sum},
                      {"best_validation_accuracy", s.best_validation_accuracy},
                      {"best_epoch", s.best_epoch},
                      {"threads", s.threads},
                      {"config", std::move(config)}};
  return j.dump();
}

TrainingState state_from_json(const std::string& text, const std::string& path) {
  try {
    const auto j = nlohmann::json::parse(text);
    TrainingState s;
    s.epoch = j.at("epoch").get<std::int64_t>();
    s.step = j.at("step").get<std::int64_t>();
    s.batch_in_epoch = j.at("batch_in_epoch").get<std::int64_t>();
    s.epoch_loss_sum = j.at("epoch_loss_sum").get<double>();
    s.best_validation_accuracy = j.at("best_validation_accuracy").get<double>();
    s.best_epoch = j.at("best_epoch").get<std::int64_t>();
    s.threads = j.at("threads").get<int>();
    s.config_json = j.at("config").dump();
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path, FormatError::kNoOffset, std::string("checkpoint training state is not valid: ") + e.what());
  }
}

// ---- Loading into the model's own tensors --------------------------------------------------------
// libtorch's Module::load replaces each parameter's storage with the archive's tensor (set_), or, where
// the devices differ, the parameter's data (set_data) — the model would move to the checkpoint's device
// and a CUDA graph captured on the old storage would point at freed memory. labelrep reads the archive
// on the CPU and copies each tensor into the model's own, on whatever device that lives.

std::string describe(const torch::Tensor& t) {
  std::string shape = "[";
  for (std::size_t i = 0; i < t.sizes().size(); ++i) shape += (i ? ", " : "") + std::to_string(t.sizes()[i]);
  return shape + "] " + std::string(c10::toString(t.scalar_type()));
}

void load_module_in_place(torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& prefix,
                       const std::string& path) {
  const auto copy_one = [&](const std::string& key, torch::Tensor& target) {
    if (!target.defined()) return;  // libtorch saves no tensor for an unset parameter (e.g. no bias)
    torch::Tensor saved;
    if (!archive.try_read(key, saved))
      throw FormatError(path, FormatError::kNoOffset, fmt::format("checkpoint does not fit this model: it has no '{}{}'", prefix, key));
    if (saved.sizes() != target.sizes() || saved.scalar_type() != target.scalar_type())
      throw FormatError(path, FormatError::kNoOffset,
                        fmt::format("checkpoint does not fit this model: '{}{}' is {} in the checkpoint and {} in the model", prefix, key,
                                    describe(saved), describe(target)));
    torch::NoGradGuard no_grad;
    target.copy_(saved);
  };
  for (auto& parameter : module.named_parameters(/*recurse=*/false)) copy_one(parameter.key(), parameter.value());
  for (auto& buffer : module.named_buffers(/*recurse=*/false)) copy_one(buffer.key(), buffer.value());
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive child_archive;
    if (!archive.try_read(child.key(), child_archive))
      throw FormatError(path, FormatError::kNoOffset,
                        fmt::format("checkpoint does not fit this model: it has no module '{}{}'", prefix, child.key()));
    load_module_in_place(*child.value(), child_archive, prefix + child.key() + ".", path);
  }
  // The other direction: a checkpoint of a larger model (resnet110 into resnet32) has every tensor this
  // model asks for, and more (load_checkpoint puts back what was copied before a mismatch).
  std::set<std::string> own;
  for (const auto& parameter : module.named_parameters(/*recurse=*/false)) own.insert(parameter.key());
  for (const auto& buffer : module.named_buffers(/*recurse=*/false)) own.insert(buffer.key());
  for (const auto& child : module.named_children()) own.insert(child.key());
  for (const auto& key : archive.keys())
    if (own.count(key) == 0)
      throw FormatError(path, FormatError::kNoOffset,
                        fmt::format("checkpoint does not fit this model: it has '{}{}', which the model lacks (a larger or other model?)", prefix, key));
}

// The optimizer state read from the CPU archive, moved to its parameter's device.
void move_state_to(torch::optim::OptimizerParamState& state, const torch::Device& device) {
  const auto moved = [&](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(&state)) {
    sgd->momentum_buffer(moved(sgd->momentum_buffer()));
  } else if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(&state)) {
    adam->exp_avg(moved(adam->exp_avg())).exp_avg_sq(moved(adam->exp_avg_sq())).max_exp_avg_sq(moved(adam->max_exp_avg_sq()));
  } else if (auto* adamw = dynamic_cast<torch::optim::AdamWParamState*>(&state)) {
    adamw->exp_avg(moved(adamw->exp_avg())).exp_avg_sq(moved(adamw->exp_avg_sq())).max_exp_avg_sq(moved(adamw->max_exp_avg_sq()));
  } else if (auto* rmsprop = dynamic_cast<torch::optim::RMSpropParamState*>(&state)) {
    rmsprop->square_avg(moved(rmsprop->square_avg())).momentum_buffer(moved(rmsprop->momentum_buffer())).grad_avg(moved(rmsprop->grad_avg()));
  } else if (auto* adagrad = dynamic_cast<torch::optim::AdagradParamState*>(&state)) {
    adagrad->sum(moved(adagrad->sum()));
  }
}

torch::serialize::InputArchive parse_archive(const std::string& payload, const torch::Device& device) {
  g_archive_parses.fetch_add(1, std::memory_order_relaxed);  // only bytes whose SHA-256 verified get here
  std::istringstream stream(payload);
  torch::serialize::InputArchive archive;
  archive.load_from(stream, device);
  return archive;
}

// labelrep's TrainingState, stored in the archive as the bytes of its JSON.
TrainingState state_from_archive(torch::serialize::InputArchive& archive, const std::string& path) {
  torch::Tensor state_bytes;
  if (!archive.try_read("labelrep_state", state_bytes)) throw FormatError(path, FormatError::kNoOffset, "checkpoint has no training state");
  state_bytes = state_bytes.to(torch::kCPU, torch::kUInt8).contiguous();
  return state_from_json(std::string(static_cast<const char*>(state_bytes.data_ptr()), static_cast<std::size_t>(state_bytes.numel())), path);
}

// ---- Optimizer state in parameter order ----------------------------------------------------------
// libtorch's Optimizer::save names each parameter's state after the address of its TensorImpl and
// walks a hash map, so two identical runs write different bytes. labelrep writes the same state by
// position instead: group g's options as "group<g>/options", parameter j's state as "group<g>/state<j>".
// Optimizers whose state type labelrep does not know fall back to libtorch's format ("optimizer").

std::unique_ptr<torch::optim::OptimizerParamState> new_param_state(const torch::optim::Optimizer& optimizer) {
  if (dynamic_cast<const torch::optim::SGD*>(&optimizer)) return std::make_unique<torch::optim::SGDParamState>();
  if (dynamic_cast<const torch::optim::Adam*>(&optimizer)) return std::make_unique<torch::optim::AdamParamState>();
  if (dynamic_cast<const torch::optim::AdamW*>(&optimizer)) return std::make_unique<torch::optim::AdamWParamState>();
  if (dynamic_cast<const torch::optim::RMSprop*>(&optimizer)) return std::make_unique<torch::optim::RMSpropParamState>();
  if (dynamic_cast<const torch::optim::Adagrad*>(&optimizer)) return std::make_unique<torch::optim::AdagradParamState>();
  return nullptr;
}

torch::Tensor count_tensor(std::size_t n) { return torch::tensor(static_cast<std::int64_t>(n), torch::kLong); }

void save_optimizer_in_order(const torch::optim::Optimizer& optimizer, torch::serialize::OutputArchive& archive) {
  const auto& groups = optimizer.param_groups();
  archive.write("groups", count_tensor(groups.size()));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    torch::serialize::OutputArchive group(archive.compilation_unit());
    torch::serialize::OutputArchive options(archive.compilation_unit());
    groups[g].options().serialize(options);
    group.write("options", options);
    const auto& params = groups[g].params();
    group.write("params", count_tensor(params.size()));
    for (std::size_t j = 0; j < params.size(); ++j) {
      const auto it = optimizer.state().find(state_key<StateKey>(params[j]));
      if (it == optimizer.state().end()) continue;  // no state yet (e.g. SGD without momentum)
      torch::serialize::OutputArchive state(archive.compilation_unit());
      it->second->serialize(state);
      group.write("state" + std::to_string(j), state);
    }
    archive.write("group" + std::to_string(g), group);
  }
}

std::int64_t read_count(torch::serialize::InputArchive& archive, const char* key, const std::string& path) {
  torch::Tensor t;
  if (!archive.try_read(key, t) || t.numel() != 1)
    throw FormatError(path, FormatError::kNoOffset, fmt::format("checkpoint optimizer state has no '{}' count", key));
  return t.item<std::int64_t>();
}

void load_optimizer_in_order(torch::optim::Optimizer& optimizer, torch::serialize::InputArchive& archive, const std::string& path) {
  auto& groups = optimizer.param_groups();
  const auto saved_groups = read_count(archive, "groups", path);
  if (saved_groups != static_cast<std::int64_t>(groups.size()))
    throw FormatError(path, FormatError::kNoOffset,
                      fmt::format("checkpoint does not fit this optimizer: {} parameter groups saved, the optimizer has {}", saved_groups,
                                  groups.size()));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    torch::serialize::InputArchive group;
    if (!archive.try_read("group" + std::to_string(g), group))
      throw FormatError(path, FormatError::kNoOffset, fmt::format("checkpoint optimizer state has no group {}", g));
    const auto& params = groups[g].params();
    const auto saved_params = read_count(group, "params", path);
    if (saved_params != static_cast<std::int64_t>(params.size()))
      throw FormatError(path, FormatError::kNoOffset,
                        fmt::format("checkpoint does not fit this optimizer: group {} had {} parameters, it has {}", g, saved_params,
                                    params.size()));
    torch::serialize::InputArchive options;
    if (!group.try_read("options", options))
      throw FormatError(path, FormatError::kNoOffset, fmt::format("checkpoint optimizer state has no options for group {}", g));
    groups[g].options().serialize(options);
    for (std::size_t j = 0; j < params.size(); ++j) {
      const auto key = state_key<StateKey>(params[j]);
      torch::serialize::InputArchive saved;
      if (!group.try_read("state" + std::to_string(j), saved)) {
        optimizer.state().erase(key);
        continue;
      }
      auto state = new_param_state(optimizer);
      if (!state) throw FormatError(path, FormatError::kNoOffset, "checkpoint optimizer state is of a kind this optimizer cannot hold");
      state->serialize(saved);
      move_state_to(*state, params[j].device());
      optimizer.state()[key] = std::move(state);
    }
  }
}

torch::Tensor bytes_tensor(const std::string& text) {
  auto t = torch::empty({static_cast<std::int64_t>(text.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr(), text.data(), text.size());
  return t;
}

}  // namespace

void save_checkpoint(const std::string& path, const torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                     const TrainingState& state) try {
  std::ostringstream stream;
  try {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive model_archive;
    model.save(model_archive);
    archive.write("model", model_archive);
    if (optimizer != nullptr) {
      torch::serialize::OutputArchive optimizer_archive;
      if (new_param_state(*optimizer)) {  // a known optimizer: its state in parameter order (deterministic bytes)
        save_optimizer_in_order(*optimizer, optimizer_archive);
        archive.write("optimizer_in_order", optimizer_archive);
      } else {
        optimizer->save(optimizer_archive);
        archive.write("optimizer", optimizer_archive);
      }
    }
    archive.write("labelrep_state", bytes_tensor(state_to_json(state)));
    archive.save_to(stream);
  } catch (const c10::Error& e) {
    throw TorchError(fmt::format("{}: cannot serialise the checkpoint: {}", path, e.what_without_backtrace()));
  }
  write_file_atomically(path, seal_envelope(stream.str()));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("save_checkpoint");
}

TrainingState load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer) try {
  const std::string payload = open_envelope(read_file(path), path);
  // A checkpoint that fits only partly is found out midway: put the model back as it was.
  std::vector<torch::Tensor> saved;
  {
    torch::NoGradGuard no_grad;
    for (const auto& t : model.parameters()) saved.push_back(t.detach().clone());
    for (const auto& t : model.buffers()) saved.push_back(t.detach().clone());
  }
  // The optimizer's options and states likewise (replaced group by group while loading).
  std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> saved_options;
  std::remove_reference_t<decltype(optimizer->state())> saved_states;
  if (optimizer != nullptr) {
    for (auto& group : optimizer->param_groups()) saved_options.push_back(group.options().clone());
    for (const auto& [key, state] : optimizer->state()) saved_states[key] = state->clone();
  }
  const auto restore = [&] {
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (auto& t : model.parameters()) t.copy_(saved[i++]);
    for (auto& t : model.buffers()) t.copy_(saved[i++]);
    if (optimizer != nullptr) {
      for (std::size_t g = 0; g < saved_options.size(); ++g) optimizer->param_groups()[g].set_options(std::move(saved_options[g]));
      optimizer->state() = std::move(saved_states);
    }
  };
  TrainingState state;
  try {
    // Read on the CPU, whatever device saved it, and copied into the model's tensors where they are.
    auto archive = parse_archive(payload, torch::kCPU);
    torch::serialize::InputArchive model_archive;
    if (!archive.try_read("model", model_archive))
      throw FormatError(path, FormatError::kNoOffset, "checkpoint has no model");
    load_module_in_place(model, model_archive, "", path);
    if (optimizer != nullptr) {
      torch::serialize::InputArchive optimizer_archive;
      if (archive.try_read("optimizer_in_order", optimizer_archive)) {
        load_optimizer_in_order(*optimizer, optimizer_archive, path);
      } else if (const auto keys = archive.keys(); std::find(keys.begin(), keys.end(), "optimizer") != keys.end()) {
        // libtorch's own format (older labelrep, optimizers labelrep does not know): their states cannot
        // be moved one by one, so this archive is read again onto the parameters' device.
        const auto parameters = model.parameters();
        const torch::Device device = parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device();
        auto on_device = parse_archive(payload, device);
        on_device.read("optimizer", optimizer_archive);
        optimizer->load(optimizer_archive);
      } else {
        throw FormatError(path, FormatError::kNoOffset, "checkpoint has no optimizer state (saved weights only)");
      }
    }
    state = state_from_archive(archive, path);  // inside: a bad state puts the model and optimizer back too
  } catch (const c10::Error& e) {
    restore();
    throw FormatError(path, FormatError::kNoOffset,
                      fmt::format("checkpoint does not fit this model or optimizer: {}", e.what_without_backtrace()));
  } catch (const Error&) {
    restore();
    throw;
  } catch (const std::exception& e) {
    restore();
    throw FormatError(path, FormatError::kNoOffset, fmt::format("checkpoint cannot be read: {}", e.what()));
  }
  return state;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("load_checkpoint");
}

TrainingState read_checkpoint_state(const std::string& path) try {
  const std::string payload = open_envelope(read_file(path), path);
  try {
    auto archive = parse_archive(payload, torch::kCPU);
    return state_from_archive(archive, path);
  } catch (const c10::Error& e) {
    throw FormatError(path, FormatError::kNoOffset, fmt::format("checkpoint cannot be read: {}", e.what_without_backtrace()));
  }
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("read_checkpoint_state");
}

namespace detail {
std::uint64_t checkpoint_archive_parses() noexcept { return g_archive_parses.load(std::memory_order_relaxed); }
}  // namespace detail

}  // namespace labelrep::train
