#include "labelrep/models/decoders.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <fmt/format.h>

#include "labelrep/core/error.hpp"
#include "models/module_copy.hpp"
#include "core/autocast_state.hpp"
#include "core/boundary.hpp"

namespace labelrep::models {
namespace {

std::atomic<int> g_decoder_upsampling{static_cast<int>(DecoderUpsampling::kAuto)};

// 2^24 outputs or features is far beyond any label and keeps the Linear layers' sizes sane.
void require_size(const char* decoder, const char* what, std::int64_t v) {
  if (v < 1 || v > (std::int64_t{1} << 24))
    throw InvalidArgument(fmt::format("{}: {} must be in [1, 2^24], got {}", decoder, what, v));
}

torch::nn::LeakyReLU leaky() { return torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.01)); }

torch::nn::ConvTranspose2d transposed(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
  return torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(in, out, kernel).stride(stride).padding(padding));
}

// conv_transpose2d(x, w, b, stride 2, padding 1) with a 4×4 kernel, computed as one ordinary 2×2
// convolution that produces the four output phases at once. Output pixel (2m+a, 2n+c) only meets
// kernel rows {3, 1} (a = 0) or {2, 0} (a = 1) over input rows {m-1, m} or {m, m+1}, and likewise for
// columns; over the input padded by one pixel those are rows m+a and m+a+1 of a 2×2 window. Same
// arithmetic, but libtorch 1.13's CPU transposed convolution is 3–6× slower than its convolution
// (measured per layer in docs/performance.md), and this layer dominated speech-label training.
torch::Tensor transposed_conv_4x4_stride2(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  const std::int64_t n = x.size(0), h = x.size(2), wd = x.size(3), out = w.size(1);
  const auto index = torch::TensorOptions().dtype(torch::kLong).device(w.device());
  // Made on the device, not copied from the host: a host-to-device copy cannot be captured in a CUDA graph.
  const torch::Tensor taps[2] = {torch::arange(3, 0, -2, index), torch::arange(2, -1, -2, index)};  // {3, 1}, {2, 0}
  std::vector<torch::Tensor> kernels;
  for (int a = 0; a < 2; ++a)
    for (int c = 0; c < 2; ++c) kernels.push_back(w.index_select(2, taps[a]).index_select(3, taps[c]).transpose(0, 1));
  const auto phases = torch::conv2d(torch::constant_pad_nd(x, {1, 1, 1, 1}), torch::cat(kernels, 0));  // [N, 4·out, H+1, W+1]
  std::vector<torch::Tensor> parts;
  for (std::int64_t a = 0; a < 2; ++a)
    for (std::int64_t c = 0; c < 2; ++c)
      parts.push_back(phases.slice(1, (2 * a + c) * out, (2 * a + c + 1) * out).slice(2, a, a + h).slice(3, c, c + wd));
  // [2(a)·2(c), N, out, H, W] → [N, out, H, a, W, c] → [N, out, 2H, 2W]
  auto y = torch::stack(parts, 0).view({2, 2, n, out, h, wd}).permute({2, 3, 4, 0, 5, 1}).reshape({n, out, 2 * h, 2 * wd});
  return b.defined() ? y + b.view({1, -1, 1, 1}) : y;
}

// A transposed convolution of a 1×1 input (stride 1, no padding) is a matrix product.
torch::Tensor transposed_conv_of_point(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  const std::int64_t n = x.size(0), k = w.size(2);
  auto y = torch::mm(x.reshape({n, w.size(0)}), w.reshape({w.size(0), -1})).view({n, w.size(1), k, w.size(3)});
  return b.defined() ? y + b.view({1, -1, 1, 1}) : y;
}

}  // namespace

void set_decoder_upsampling(DecoderUpsampling upsampling) noexcept {
  g_decoder_upsampling.store(static_cast<int>(upsampling), std::memory_order_relaxed);
}

DecoderUpsampling decoder_upsampling() noexcept {
  return static_cast<DecoderUpsampling>(g_decoder_upsampling.load(std::memory_order_relaxed));
}

DecoderUpsampling decoder_upsampling_on(const torch::Device& device) noexcept {
  const auto upsampling = decoder_upsampling();
  if (upsampling != DecoderUpsampling::kAuto) return upsampling;
  // The phase form exists for libtorch's slow CPU transposed convolution. On a GPU, cuDNN's transposed
  // convolutions are what PyTorch code runs: the H100 run's PyTorch reference trained the speech model
  // (decoder included) at 98 % of the categorical model's speed, labelrep's phase form at 54 %.
  return device.is_cuda() ? DecoderUpsampling::kTransposedConvolution : DecoderUpsampling::kPhaseConvolution;
}

DecoderUpsampling parse_decoder_upsampling(const std::string& name) {
  if (name == "phases") return DecoderUpsampling::kPhaseConvolution;
  if (name == "transposed") return DecoderUpsampling::kTransposedConvolution;
  if (name == "auto") return DecoderUpsampling::kAuto;
  throw InvalidArgument(fmt::format("decoder upsampling must be 'phases', 'transposed' or 'auto', got '{}'", name));
}

const char* decoder_upsampling_name(DecoderUpsampling upsampling) noexcept {
  switch (upsampling) {
    case DecoderUpsampling::kPhaseConvolution: return "phases";
    case DecoderUpsampling::kTransposedConvolution: return "transposed";
    case DecoderUpsampling::kAuto: break;
  }
  return "auto";
}

// ---- Decoder ------------------------------------------------------------------------------------

torch::Tensor Decoder::forward(const torch::Tensor& features) try {
  if (!features.defined() || features.dim() != 2 || features.size(1) != in_features())
    throw InvalidArgument(fmt::format("{}: features must be [N, {}], got {}", name(), in_features(),
                                      features.defined() ? c10::str(features.sizes()) : std::string("an undefined tensor")));
  if (!features.is_floating_point())
    throw InvalidArgument(fmt::format("{}: features must be floating point, not {}", name(), c10::toString(features.scalar_type())));
  const auto weights = parameters();
  // Under autocast (train::Precision::kBFloat16) lower-precision features meet float32 weights by design.
  const bool dtype_differs = !weights.empty() && features.scalar_type() != weights.front().scalar_type() &&
                             !labelrep::detail::autocast_enabled(features.device().type());
  if (!weights.empty() && (dtype_differs || features.device() != weights.front().device()))
    throw InvalidArgument(fmt::format("{}: features are {} on {} but the decoder's weights are {} on {}", name(),
                                      c10::toString(features.scalar_type()), features.device().str(),
                                      c10::toString(weights.front().scalar_type()), weights.front().device().str()));
  return compute(features);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Decoder::forward");
}

std::shared_ptr<torch::nn::Module> Decoder::clone(const torch::optional<torch::Device>& device) const try {
  auto copy = rebuild();
  detail::copy_module_state(*this, *copy, device);
  return copy;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Decoder::clone");
}

void Decoder::clone_(torch::nn::Module& other, const torch::optional<torch::Device>& device) {
  detail::copy_module_state(other, *this, device);
}

// ---- CategoryDecoder ----------------------------------------------------------------------------

CategoryDecoderImpl::CategoryDecoderImpl(const CategoryDecoderOptions& options_) try : Decoder("CategoryDecoder"), options(options_) {
  require_size("CategoryDecoder", "in_features", options.in_features());
  require_size("CategoryDecoder", "num_classes", options.num_classes());
  linear_ = register_module("linear", torch::nn::Linear(options.in_features(), options.num_classes()));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("CategoryDecoder");
}

torch::Tensor CategoryDecoderImpl::compute(const torch::Tensor& features) { return linear_(features); }

std::shared_ptr<Decoder> CategoryDecoderImpl::rebuild() const { return std::make_shared<CategoryDecoderImpl>(options); }

// ---- LabelDecoder -------------------------------------------------------------------------------

LabelDecoderImpl::LabelDecoderImpl(const LabelDecoderOptions& options_) try : Decoder("LabelDecoder"), options(options_) {
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
  up_kinds_.push_back(UpKind::kPoint);
  std::int64_t channels = kWidth;
  for (std::int64_t i = 1; i <= doublings_; ++i) {
    up->push_back(torch::nn::BatchNorm2d(channels));
    up->push_back(leaky());
    const std::int64_t out = i == doublings_ ? 1 : std::max<std::int64_t>(8, kWidth >> i);
    up->push_back(transposed(channels, out, 4, 2, 1));  // exact doubling: (h-1)·2 - 2 + 4 = 2h
    up_kinds_.insert(up_kinds_.end(), {UpKind::kModule, UpKind::kModule, UpKind::kDoubling});
    channels = out;
  }
  if (doublings_ == 0) {  // b×b already: project the channels to one with a 1×1 transposed convolution
    up->push_back(torch::nn::BatchNorm2d(channels));
    up->push_back(leaky());
    up->push_back(transposed(channels, 1, 1, 1, 0));
    up_kinds_.insert(up_kinds_.end(), {UpKind::kModule, UpKind::kModule, UpKind::kModule});
  }
  up_ = register_module("up", up);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("LabelDecoder");
}

namespace {
// BatchNorm1d normalises each feature over the batch: one image has no spread to normalise by.
void require_batch_statistics(const Decoder& decoder, const torch::Tensor& features) {
  if (decoder.is_training() && features.size(0) == 1)
    throw InvalidArgument(fmt::format("{}: batch normalisation cannot train on a batch of one image (use eval mode, or two images or more)",
                                      decoder.name()));
}
}  // namespace

torch::Tensor LabelDecoderImpl::compute(const torch::Tensor& features) {
  require_batch_statistics(*this, features);
  auto x = dense_->forward(features).view({features.size(0), -1, 1, 1});
  // up_ runs layer by layer so that its transposed convolutions take the faster equivalent forms
  // above; the modules, their parameters and their names stay those of Table 5.
  const bool phases = decoder_upsampling_on(features.device()) == DecoderUpsampling::kPhaseConvolution;
  std::size_t i = 0;
  for (auto& layer : *up_) {
    switch (up_kinds_[i++]) {
      case UpKind::kPoint: {
        const auto& conv = *layer.get<torch::nn::ConvTranspose2d>();
        x = transposed_conv_of_point(x, conv.weight, conv.bias);
        break;
      }
      case UpKind::kDoubling: {
        if (!phases) {
          x = layer.forward(x);
          break;
        }
        const auto& conv = *layer.get<torch::nn::ConvTranspose2d>();
        x = transposed_conv_4x4_stride2(x, conv.weight, conv.bias);
        break;
      }
      case UpKind::kModule:
        x = layer.forward(x);
        break;
    }
  }
  return x.squeeze(1);  // [N, 1, S, S] → [N, S, S], the shape of label targets
}

std::shared_ptr<Decoder> LabelDecoderImpl::rebuild() const { return std::make_shared<LabelDecoderImpl>(options); }

// ---- DenseDecoder -------------------------------------------------------------------------------

DenseDecoderImpl::DenseDecoderImpl(const DenseDecoderOptions& options_) try : Decoder("DenseDecoder"), options(options_) {
  require_size("DenseDecoder", "in_features", options.in_features());
  require_size("DenseDecoder", "dimension", options.dimension());
  body_ = register_module("body", torch::nn::Sequential(torch::nn::BatchNorm1d(options.in_features()), leaky(),
                                                        torch::nn::Linear(options.in_features(), options.dimension())));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("DenseDecoder");
}

torch::Tensor DenseDecoderImpl::compute(const torch::Tensor& features) {
  require_batch_statistics(*this, features);
  return body_->forward(features);
}

std::shared_ptr<Decoder> DenseDecoderImpl::rebuild() const { return std::make_shared<DenseDecoderImpl>(options); }

// ---- StandardizedDecoder ------------------------------------------------------------------------

StandardizedDecoderImpl::StandardizedDecoderImpl(std::shared_ptr<Decoder> inner, double mean, double standard_deviation) try
    : Decoder("StandardizedDecoder"), mean_(mean), standard_deviation_(standard_deviation) {
  if (!inner) throw InvalidArgument("StandardizedDecoder: the inner decoder is null");
  if (!std::isfinite(mean)) throw InvalidArgument(fmt::format("StandardizedDecoder: the mean must be finite, got {}", mean));
  if (!std::isfinite(standard_deviation) || !(standard_deviation > 0))
    throw InvalidArgument(fmt::format("StandardizedDecoder: the standard deviation must be finite and > 0, got {}", standard_deviation));
  inner_ = register_module("inner", std::move(inner));
  const auto device = inner_->parameters().empty() ? torch::Device(torch::kCPU) : inner_->parameters().front().device();
  label_mean_ = register_buffer("label_mean", torch::tensor(mean, torch::TensorOptions().dtype(torch::kFloat).device(device)));
  label_std_ = register_buffer("label_std", torch::tensor(standard_deviation, torch::TensorOptions().dtype(torch::kFloat).device(device)));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("StandardizedDecoder");
}

torch::Tensor StandardizedDecoderImpl::compute(const torch::Tensor& features) {
  return inner_->forward(features).to(torch::kFloat) * label_std_ + label_mean_;
}

std::shared_ptr<Decoder> StandardizedDecoderImpl::rebuild() const {
  return std::make_shared<StandardizedDecoderImpl>(std::dynamic_pointer_cast<Decoder>(inner_->clone()), mean_, standard_deviation_);
}

}  // namespace labelrep::models
