#include "labelrep/models/decoders.hpp"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <fmt/format.h>

#include "labelrep/core/error.hpp"

namespace labelrep::models {
namespace {
void require_positive(std::int64_t v, const char* what) {
  if (v < 1 || v > (std::int64_t{1} << 24)) throw InvalidArgument(fmt::format("decoder: {} must be positive, got {}", what, v));
}
void check_features(const torch::Tensor& features, std::int64_t expected) {
  if (!features.defined() || features.dim() != 2 || features.size(1) != expected)
    throw InvalidArgument(fmt::format("decoder: features must be [N, {}]", expected));
}
torch::nn::LeakyReLU leaky() { return torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.01)); }
}  // namespace

CategoryDecoder::CategoryDecoder(std::int64_t in_features, std::int64_t num_classes) : Decoder("CategoryDecoder"), classes_(num_classes) {
  require_positive(in_features, "in_features");
  require_positive(num_classes, "num_classes");
  body_ = register_module("body", torch::nn::Sequential(torch::nn::Linear(in_features, num_classes)));
}
torch::Tensor CategoryDecoder::forward(const torch::Tensor& features) { return body_->forward(features); }

LabelDecoder::LabelDecoder(const LabelDecoderOptions& options) : Decoder("LabelDecoder"), options_(options) {
  require_positive(options.in_features(), "in_features");
  const std::int64_t size = options.size();
  if (size < 3 || size > 1024) throw InvalidArgument(fmt::format("label decoder: size must be in [3, 1024], got {}", size));
  std::int64_t doublings = 0;
  while (size % (std::int64_t{2} << doublings) == 0 && size / (std::int64_t{2} << doublings) >= 3) ++doublings;
  const std::int64_t base = size >> doublings;
  dense_ = register_module("dense", torch::nn::Sequential(torch::nn::BatchNorm1d(options.in_features()), leaky(),
                                                          torch::nn::Linear(options.in_features(), 64)));
  torch::nn::Sequential up;
  up->push_back(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(64, 64, base).stride(1).padding(0)));
  std::int64_t channels = 64;
  for (std::int64_t i = 1; i <= doublings; ++i) {
    up->push_back(torch::nn::BatchNorm2d(channels));
    up->push_back(leaky());
    const std::int64_t out = i == doublings ? 1 : std::max<std::int64_t>(8, 64 >> i);
    up->push_back(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(channels, out, 4).stride(2).padding(1)));
    channels = out;
  }
  if (doublings == 0) {  // b×b directly: one more 1×1 projection to a single channel
    up->push_back(torch::nn::BatchNorm2d(channels));
    up->push_back(leaky());
    up->push_back(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(channels, 1, 1)));
  }
  up_ = register_module("up", up);
}

torch::Tensor LabelDecoder::forward(const torch::Tensor& features) {
  check_features(features, options_.in_features());
  const auto x = dense_->forward(features).view({features.size(0), 64, 1, 1});
  return up_->forward(x).squeeze(1);
}

DenseDecoder::DenseDecoder(std::int64_t in_features, std::int64_t dimension) : Decoder("DenseDecoder"), dimension_(dimension) {
  require_positive(in_features, "in_features");
  require_positive(dimension, "dimension");
  body_ = register_module("body", torch::nn::Sequential(torch::nn::BatchNorm1d(in_features), leaky(),
                                                        torch::nn::Linear(in_features, dimension)));
}
torch::Tensor DenseDecoder::forward(const torch::Tensor& features) { return body_->forward(features); }

}  // namespace labelrep::models
