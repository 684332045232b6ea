#include "labelrep/models/decoders.hpp"

#include <algorithm>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <fmt/format.h>

#include "labelrep/core/error.hpp"
#include "models/module_copy.hpp"

namespace labelrep::models {
namespace {

// 2^24 outputs or features is far beyond any label and keeps the Linear layers' sizes sane.
void require_size(const char* decoder, const char* what, std::int64_t v) {
  if (v < 1 || v > (std::int64_t{1} << 24))
    throw InvalidArgument(fmt::format("{}: {} must be in [1, 2^24], got {}", decoder, what, v));
}

torch::nn::LeakyReLU leaky() { return torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.01)); }

torch::nn::ConvTranspose2d transposed(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
  return torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(in, out, kernel).stride(stride).padding(padding));
}

}  // namespace

// ---- Decoder ------------------------------------------------------------------------------------

torch::Tensor Decoder::forward(const torch::Tensor& features) {
  if (!features.defined() || features.dim() != 2 || features.size(1) != in_features())
    throw InvalidArgument(fmt::format("{}: features must be [N, {}], got {}", name(), in_features(),
                                      features.defined() ? c10::str(features.sizes()) : std::string("an undefined tensor")));
  if (!features.is_floating_point())
    throw InvalidArgument(fmt::format("{}: features must be floating point, not {}", name(), c10::toString(features.scalar_type())));
  return compute(features);
}

std::shared_ptr<torch::nn::Module> Decoder::clone(const torch::optional<torch::Device>& device) const {
  auto copy = rebuild();
  detail::copy_module_state(*this, *copy, device);
  return copy;
}

void Decoder::clone_(torch::nn::Module& other, const torch::optional<torch::Device>& device) {
  detail::copy_module_state(other, *this, device);
}

// ---- CategoryDecoder ----------------------------------------------------------------------------

CategoryDecoderImpl::CategoryDecoderImpl(const CategoryDecoderOptions& options_) : Decoder("CategoryDecoder"), options(options_) {
  require_size("CategoryDecoder", "in_features", options.in_features());
  require_size("CategoryDecoder", "num_classes", options.num_classes());
  linear_ = register_module("linear", torch::nn::Linear(options.in_features(), options.num_classes()));
}

torch::Tensor CategoryDecoderImpl::compute(const torch::Tensor& features) { return linear_(features); }

std::shared_ptr<Decoder> CategoryDecoderImpl::rebuild() const { return std::make_shared<CategoryDecoderImpl>(options); }

// ---- LabelDecoder -------------------------------------------------------------------------------

LabelDecoderImpl::LabelDecoderImpl(const LabelDecoderOptions& options_) : Decoder("LabelDecoder"), options(options_) {
  require_size("LabelDecoder", "in_features", options.in_features());
  const std::int64_t size = options.size();
  if (size < 3 || size > 1024) throw InvalidArgument(fmt::format("LabelDecoder: size must be in [3, 1024], got {}", size));
  // Halve while the result stays an integer ≥ 3: 64 → 4 (the paper's 4×4 start), 48 → 3.
  while (size % (std::int64_t{2} << doublings_) == 0 && size / (std::int64_t{2} << doublings_) >= 3) ++doublings_;
  base_ = size >> doublings_;

  constexpr std::int64_t kWidth = 64;  // Table 5: the dense layer's 64 outputs seed 64 channels
  dense_ = register_module("dense", torch::nn::Sequential(torch::nn::BatchNorm1d(options.in_features()), leaky(),
                                                          torch::nn::Linear(options.in_features(), kWidth)));
  torch::nn::Sequential up;
  up->push_back(transposed(kWidth, kWidth, base_, 1, 0));  // 1×1 → b×b
  std::int64_t channels = kWidth;
  for (std::int64_t i = 1; i <= doublings_; ++i) {
    up->push_back(torch::nn::BatchNorm2d(channels));
    up->push_back(leaky());
    const std::int64_t out = i == doublings_ ? 1 : std::max<std::int64_t>(8, kWidth >> i);
    up->push_back(transposed(channels, out, 4, 2, 1));  // exact doubling: (h-1)·2 - 2 + 4 = 2h
    channels = out;
  }
  if (doublings_ == 0) {  // b×b already: project the channels to one with a 1×1 transposed convolution
    up->push_back(torch::nn::BatchNorm2d(channels));
    up->push_back(leaky());
    up->push_back(transposed(channels, 1, 1, 1, 0));
  }
  up_ = register_module("up", up);
}

torch::Tensor LabelDecoderImpl::compute(const torch::Tensor& features) {
  const auto x = dense_->forward(features).view({features.size(0), -1, 1, 1});
  return up_->forward(x).squeeze(1);  // [N, 1, S, S] → [N, S, S], the shape of label targets
}

std::shared_ptr<Decoder> LabelDecoderImpl::rebuild() const { return std::make_shared<LabelDecoderImpl>(options); }

// ---- DenseDecoder -------------------------------------------------------------------------------

DenseDecoderImpl::DenseDecoderImpl(const DenseDecoderOptions& options_) : Decoder("DenseDecoder"), options(options_) {
  require_size("DenseDecoder", "in_features", options.in_features());
  require_size("DenseDecoder", "dimension", options.dimension());
  body_ = register_module("body", torch::nn::Sequential(torch::nn::BatchNorm1d(options.in_features()), leaky(),
                                                        torch::nn::Linear(options.in_features(), options.dimension())));
}

torch::Tensor DenseDecoderImpl::compute(const torch::Tensor& features) { return body_->forward(features); }

std::shared_ptr<Decoder> DenseDecoderImpl::rebuild() const { return std::make_shared<DenseDecoderImpl>(options); }

}  // namespace labelrep::models
