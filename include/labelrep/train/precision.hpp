#pragma once
/// \file precision.hpp  Numerical precision of training and evaluation: the paper's fp32, or bf16 autocast.
///
/// bf16 autocast runs convolutions and matrix products in bfloat16 (tensor cores on a GPU) while the
/// weights, the optimizer state and the loss stay in float32 — the mixed-precision recipe PyTorch users
/// get from `torch.autocast(dtype=torch.bfloat16)`. bfloat16 has float32's exponent range, so no loss
/// scaling is needed. On a CPU it is correct but only fast on processors with bf16 instructions.
/// Example:
/// \code
///   {
///     labelrep::train::AutocastGuard autocast(torch::kCUDA, labelrep::train::Precision::kBFloat16);
///     outputs = model->forward(images);          // bf16 activations
///   }
///   auto loss = labelrep::train::label_loss(outputs.to(torch::kFloat), ids, labels);  // fp32 loss
/// \endcode
#include <string>
#include <torch/types.h>

#include "labelrep/export.hpp"

namespace labelrep::train {

enum class Precision {
  kFloat32,   ///< everything in float32 (the paper's setting, bit-reproducible on CPU)
  kBFloat16,  ///< bf16 autocast for the forward pass; float32 weights, gradients' accumulation and loss
};

/// "fp32" or "bf16".
LABELREP_API const char* precision_name(Precision precision);
/// Parses "fp32"/"float32" and "bf16"/"bfloat16". Throws InvalidArgument naming the value otherwise.
LABELREP_API Precision parse_precision(const std::string& name);
/// The precision the fast path picks for a device when the user asks for "auto": bf16 on CUDA, where
/// it keeps the accuracy and uses the tensor cores, fp32 elsewhere (CPUs without bf16 units get slower).
LABELREP_API Precision default_precision(const torch::Device& device);
/// A user's precision setting for a device: "auto" gives default_precision(device); the other names
/// are parse_precision's. Throws InvalidArgument naming the value when it is none of them.
LABELREP_API Precision resolve_precision(const std::string& name, const torch::Device& device);

/// Turns autocast on for one device type in a scope (kFloat32: leaves it as it is) and restores the
/// previous state, dtype and cache on exit. Requires: device type CPU or CUDA. Not copyable; one thread.
/// Throws InvalidArgument for another device type.
class LABELREP_API AutocastGuard {
 public:
  AutocastGuard(torch::DeviceType device_type, Precision precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  torch::DeviceType device_type_;
  bool active_ = false;
  bool was_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat;
};

}  // namespace labelrep::train
