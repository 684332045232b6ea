#pragma once
/// \file decoders.hpp  Heads that turn encoder features into the label's shape.

#include <cstdint>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <vector>

#include "labelrep/export.hpp"

namespace labelrep::models {

/// The interface of every decoder: features `[N, F]` → outputs `[N, ...output_shape()]`.
class LABELREP_API Decoder : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& features) = 0;
  virtual std::vector<std::int64_t> output_shape() const = 0;

 protected:
  explicit Decoder(const std::string& name) : torch::nn::Module(name) {}
};

/// Linear layer to C class logits (categorical labels).
class LABELREP_API CategoryDecoder final : public Decoder {
 public:
  /// Throws InvalidArgument for non-positive sizes.
  CategoryDecoder(std::int64_t in_features, std::int64_t num_classes);
  torch::Tensor forward(const torch::Tensor& features) override;
  std::vector<std::int64_t> output_shape() const override { return {classes_}; }

 private:
  std::int64_t classes_;
  torch::nn::Sequential body_{nullptr};
};

/// The paper's label decoder (Table 5): BatchNorm1d + LeakyReLU(0.01) + Linear to 64, viewed as
/// 64×1×1, a transposed convolution to b×b (kernel b, stride 1), then k doublings by transposed
/// convolutions (kernel 4, stride 2, padding 1) with BatchNorm2d + LeakyReLU(0.01) between. Channels
/// after the first layer are 64, then max(8, 64/2^i), and 1 at the end. For a side S the rule is:
/// k = the largest number of doublings with S/2^k an integer ≥ 3, b = S/2^k. So 64 = 4·2^4 (the paper's
/// decoder, exactly), 48 = 3·2^4 (BERT), 32 = 4·2^3.
struct LABELREP_API LabelDecoderOptions {
  LabelDecoderOptions(std::int64_t in_features, std::int64_t size) : in_features_(in_features), size_(size) {}
  TORCH_ARG(std::int64_t, in_features);
  TORCH_ARG(std::int64_t, size);
};

class LABELREP_API LabelDecoder final : public Decoder {
 public:
  /// Throws InvalidArgument for in_features < 1 or size not in [3, 1024].
  explicit LabelDecoder(const LabelDecoderOptions& options);
  torch::Tensor forward(const torch::Tensor& features) override;  // [N, S, S]
  std::vector<std::int64_t> output_shape() const override { return {options_.size(), options_.size()}; }

 private:
  LabelDecoderOptions options_;
  torch::nn::Sequential dense_{nullptr}, up_{nullptr};
};

/// For vector labels (low-dim, GloVe): BatchNorm1d + LeakyReLU(0.01) + Linear to D, the label
/// decoder's dense part.
class LABELREP_API DenseDecoder final : public Decoder {
 public:
  /// Throws InvalidArgument for non-positive sizes.
  DenseDecoder(std::int64_t in_features, std::int64_t dimension);
  torch::Tensor forward(const torch::Tensor& features) override;
  std::vector<std::int64_t> output_shape() const override { return {dimension_}; }

 private:
  std::int64_t dimension_;
  torch::nn::Sequential body_{nullptr};
};

}  // namespace labelrep::models
