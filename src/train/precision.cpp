#include "labelrep/train/precision.hpp"

#include <fmt/format.h>
#include <optional>

#include "core/autocast_state.hpp"
#include "labelrep/core/error.hpp"

namespace labelrep::train {
using detail::autocast_dtype;
using detail::autocast_enabled;
using detail::set_autocast_dtype;
using detail::set_autocast_enabled;

const char* precision_name(Precision precision) { return precision == Precision::kBFloat16 ? "bf16" : "fp32"; }

namespace {
std::optional<Precision> named_precision(const std::string& name) {
  if (name == "fp32" || name == "float32") return Precision::kFloat32;
  if (name == "bf16" || name == "bfloat16") return Precision::kBFloat16;
  return std::nullopt;
}
}  // namespace

Precision parse_precision(const std::string& name) {
  if (const auto precision = named_precision(name)) return *precision;
  throw InvalidArgument(fmt::format("precision '{}' is not fp32 or bf16", name));
}

Precision default_precision(const torch::Device& device) {
  return device.is_cuda() ? Precision::kBFloat16 : Precision::kFloat32;
}

Precision resolve_precision(const std::string& name, const torch::Device& device) {
  if (name == "auto") return default_precision(device);
  if (const auto precision = named_precision(name)) return *precision;
  throw InvalidArgument(fmt::format("precision '{}' is not auto, fp32 or bf16", name));
}

AutocastGuard::AutocastGuard(torch::DeviceType device_type, Precision precision) : device_type_(device_type) {
  if (device_type != torch::kCPU && device_type != torch::kCUDA)
    throw InvalidArgument(fmt::format("AutocastGuard: device type {} is not cpu or cuda", c10::DeviceTypeName(device_type, true)));
  if (precision == Precision::kFloat32) return;
  was_enabled_ = autocast_enabled(device_type);
  previous_dtype_ = autocast_dtype(device_type);
  set_autocast_dtype(device_type, torch::kBFloat16);
  set_autocast_enabled(device_type, true);
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // The cast cache holds bf16 copies of the weights for this forward pass; outside every autocast
  // region it must go, or the next step would read stale copies of updated weights.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(device_type_, was_enabled_);
  set_autocast_dtype(device_type_, previous_dtype_);
}

}  // namespace labelrep::train
