#include "labelrep/train/checkpoint.hpp"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <torch/utils.h>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/envelope.hpp"
#include "labelrep/core/error.hpp"

namespace labelrep::train {
namespace {

std::string state_to_json(const TrainingState& s) {
  nlohmann::json j = {{"epoch", s.epoch},
                      {"step", s.step},
                      {"batch_in_epoch", s.batch_in_epoch},
                      {"epoch_loss_sum", s.epoch_loss_sum},
                      {"best_validation_accuracy", s.best_validation_accuracy},
                      {"best_epoch", s.best_epoch},
                      {"threads", s.threads},
                      {"config", nlohmann::json::parse(s.config_json.empty() ? "{}" : s.config_json)}};
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

torch::Tensor bytes_tensor(const std::string& text) {
  auto t = torch::empty({static_cast<std::int64_t>(text.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr(), text.data(), text.size());
  return t;
}

}  // namespace

void save_checkpoint(const std::string& path, const torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                     const TrainingState& state) {
  std::ostringstream stream;
  try {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive model_archive;
    model.save(model_archive);
    archive.write("model", model_archive);
    if (optimizer != nullptr) {
      torch::serialize::OutputArchive optimizer_archive;
      optimizer->save(optimizer_archive);
      archive.write("optimizer", optimizer_archive);
    }
    archive.write("labelrep_state", bytes_tensor(state_to_json(state)));
    archive.save_to(stream);
  } catch (const c10::Error& e) {
    throw TorchError(fmt::format("{}: cannot serialise the checkpoint: {}", path, e.what_without_backtrace()));
  }
  write_file_atomically(path, seal_envelope(stream.str()));
}

TrainingState load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer) {
  std::istringstream stream(open_envelope(read_file(path), path));
  std::string state_text;
  // libtorch loads parameter by parameter; if the checkpoint fits only partly, put the model back.
  std::vector<torch::Tensor> saved;
  {
    torch::NoGradGuard no_grad;
    for (const auto& t : model.parameters()) saved.push_back(t.detach().clone());
    for (const auto& t : model.buffers()) saved.push_back(t.detach().clone());
  }
  const auto restore = [&] {
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (auto& t : model.parameters()) t.copy_(saved[i++]);
    for (auto& t : model.buffers()) t.copy_(saved[i++]);
  };
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(stream);
    torch::serialize::InputArchive model_archive;
    if (!archive.try_read("model", model_archive))
      throw FormatError(path, FormatError::kNoOffset, "checkpoint has no model");
    model.load(model_archive);
    if (optimizer != nullptr) {
      torch::serialize::InputArchive optimizer_archive;
      if (!archive.try_read("optimizer", optimizer_archive))
        throw FormatError(path, FormatError::kNoOffset, "checkpoint has no optimizer state (saved weights only)");
      optimizer->load(optimizer_archive);
    }
    torch::Tensor state_bytes;
    if (!archive.try_read("labelrep_state", state_bytes))
      throw FormatError(path, FormatError::kNoOffset, "checkpoint has no training state");
    state_bytes = state_bytes.contiguous();
    state_text.assign(static_cast<const char*>(state_bytes.data_ptr()), static_cast<std::size_t>(state_bytes.numel()));
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
  return state_from_json(state_text, path);
}

}  // namespace labelrep::train
