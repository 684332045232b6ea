#pragma once
/// \file decoders.hpp  Heads that turn encoder features `[N, F]` into the label's shape.
///
///   - CategoryDecoder: Linear F → C logits (categorical labels, cross-entropy);
///   - LabelDecoder: the paper's Table 5, features → an S×S label matrix (speech, composite, uniform,
///     constant, shuffle: 64×64; BERT: 48×48);
///   - DenseDecoder: features → a D-vector (low-dim: 10, GloVe: 50).
///
/// Held the torch way (`LabelDecoderImpl` + `TORCH_MODULE(LabelDecoder)`); `clone()` is a deep copy.
/// Registered names are the checkpoint format and never change.
///
/// Example:
/// \code
///   labelrep::models::LabelDecoder decoder(labelrep::models::LabelDecoderOptions(64, 64));
///   torch::Tensor matrices = decoder(features);   // [N, 64] -> [N, 64, 64]
/// \endcode

#include <cstdint>
#include <memory>
#include <string>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <vector>

#include "labelrep/export.hpp"

namespace labelrep::models {

/// The interface of every decoder: features `[N, in_features()]` → outputs `[N, ...output_shape()]`.
///
/// To write your own, derive from Decoder, register every submodule in the constructor and implement
/// compute(), in_features(), output_shape() and rebuild() (a fresh decoder with the same options,
/// which clone() copies the weights into).
class LABELREP_API Decoder : public torch::nn::Module {
 public:
  /// requires: features `[N, in_features()]`, floating point, with the decoder's dtype and device;
  /// N ≥ 2 in training mode for the decoders that start with BatchNorm1d (label and dense).
  /// ensures: `[N, ...output_shape()]`. throws: InvalidArgument for other shapes, dtypes or devices,
  /// and for one image in training mode where batch normalisation needs two.
  torch::Tensor forward(const torch::Tensor& features);
  virtual std::int64_t in_features() const = 0;
  /// The shape of one output: `{C}`, `{S, S}` or `{D}`.
  virtual std::vector<std::int64_t> output_shape() const = 0;

  /// Deep copy: a rebuilt decoder with this one's parameters, buffers and train/eval modes, optionally
  /// on `device`. Throws as Encoder::clone.
  std::shared_ptr<torch::nn::Module> clone(const torch::optional<torch::Device>& device = torch::nullopt) const override;
  /// The scale a training loss measures this decoder's errors in: a scalar tensor on the decoder's
  /// device that output − target differences are divided by (StandardizedDecoder: the labels'
  /// standard deviation), or an undefined tensor for 1 (every other decoder).
  virtual torch::Tensor loss_scale() const { return {}; }

 protected:
  explicit Decoder(const std::string& name) : torch::nn::Module(name) {}
  /// The computation; `features` are already checked.
  virtual torch::Tensor compute(const torch::Tensor& features) = 0;
  virtual std::shared_ptr<Decoder> rebuild() const = 0;

 private:
  void clone_(torch::nn::Module& other, const torch::optional<torch::Device>& device) override;
};

/// Options of CategoryDecoder. Example: `CategoryDecoderOptions(64, 10)`.
struct LABELREP_API CategoryDecoderOptions {
  CategoryDecoderOptions(std::int64_t in_features, std::int64_t num_classes)
      : in_features_(in_features), num_classes_(num_classes) {}
  TORCH_ARG(std::int64_t, in_features);
  TORCH_ARG(std::int64_t, num_classes);
};

/// One linear layer to C class logits, `[N, F]` → `[N, C]`. Registered names: `linear.{weight,bias}`.
class LABELREP_API CategoryDecoderImpl final : public Decoder {
 public:
  /// throws: InvalidArgument for in_features or num_classes outside [1, 2^24].
  explicit CategoryDecoderImpl(const CategoryDecoderOptions& options);
  std::int64_t in_features() const override { return options.in_features(); }
  std::vector<std::int64_t> output_shape() const override { return {options.num_classes()}; }

  CategoryDecoderOptions options;

 protected:
  torch::Tensor compute(const torch::Tensor& features) override;
  std::shared_ptr<Decoder> rebuild() const override;

 private:
  torch::nn::Linear linear_{nullptr};
};
TORCH_MODULE(CategoryDecoder);

/// Options of LabelDecoder: the input features and the side S of the square label matrix.
/// Example: `LabelDecoderOptions(512, 48)` for VGG19 and BERT labels.
struct LABELREP_API LabelDecoderOptions {
  LabelDecoderOptions(std::int64_t in_features, std::int64_t size) : in_features_(in_features), size_(size) {}
  TORCH_ARG(std::int64_t, in_features);
  /// Side S of the output, 3 to 1024.
  TORCH_ARG(std::int64_t, size);
};

/// How LabelDecoder computes its 4×4, stride-2 transposed convolutions. Both forms use the same
/// parameters and give the same values and gradients up to rounding:
///   - kPhaseConvolution: one 2×2 convolution that produces the four output phases — 3–6× faster than
///     libtorch 1.13's CPU transposed convolution (docs/performance.md);
///   - kTransposedConvolution: libtorch's ConvTranspose2d (cuDNN on a GPU), what PyTorch code runs;
///   - kAuto (the default): the phase form on the CPU, ConvTranspose2d on CUDA, chosen by the device of
///     each forward pass's input (docs/models.md says on what evidence).
/// `train_step_bench --decoder-upsampling` measures each form on a device (docs/gpu.md).
enum class DecoderUpsampling { kPhaseConvolution, kTransposedConvolution, kAuto };
/// Process-wide, read at every forward pass (thread-safe). Changing it between the steps of a
/// captured CUDA graph needs a new capture (train::GraphedTrainStep captures what ran at capture).
LABELREP_API void set_decoder_upsampling(DecoderUpsampling upsampling) noexcept;
LABELREP_API DecoderUpsampling decoder_upsampling() noexcept;
/// The form a forward pass on `device` runs: the process-wide setting, kAuto resolved for the device.
/// ensures: never kAuto.
LABELREP_API DecoderUpsampling decoder_upsampling_on(const torch::Device& device) noexcept;
/// "phases", "transposed" or "auto" → DecoderUpsampling. throws: InvalidArgument naming the value.
LABELREP_API DecoderUpsampling parse_decoder_upsampling(const std::string& name);
/// "phases", "transposed" or "auto".
LABELREP_API const char* decoder_upsampling_name(DecoderUpsampling upsampling) noexcept;

/// The paper's label decoder (Table 5), generalised to any side S ≥ 3.
///
/// BatchNorm1d(F) + LeakyReLU(0.01) + Linear F→64, viewed as 64×1×1; a transposed convolution
/// 64→64 with kernel b, stride 1, padding 0 to b×b; then k doublings, each BatchNorm2d +
/// LeakyReLU(0.01) + a transposed convolution with kernel 4, stride 2, padding 1. The doublings have
/// max(8, 64/2^i) output channels (i = 1..k), except the last, which has 1. The output is squeezed to
/// `[N, S, S]` so that it matches label targets.
///
/// The rule for S: k is the largest number of halvings that leaves an integer b = S/2^k ≥ 3. So
///   64 = 4·2^4: 1→4→8→16→32→64, channels 64, 32, 16, 8, 1 (exactly the paper's decoder and the
///               reference's: 113,321 parameters after 64 features);
///   48 = 3·2^4: 1→3→6→12→24→48 (BERT labels), 32 = 4·2^3, 96 = 3·2^5;
///   odd S such as 7: b = 7, k = 0, and a final BN + LeakyReLU + 1×1 transposed convolution to 1
///   channel. Every size is built exactly, without resizing.
///
/// Registered names: `dense.{0,2}` (BatchNorm1d, Linear), `up.<i>` for the i-th layer of the
/// upsampling sequence (`up.0` the first transposed convolution; for S = 64 the last is `up.12`).
class LABELREP_API LabelDecoderImpl final : public Decoder {
 public:
  /// throws: InvalidArgument for in_features outside [1, 2^24] or size outside [3, 1024].
  explicit LabelDecoderImpl(const LabelDecoderOptions& options);
  std::int64_t in_features() const override { return options.in_features(); }
  std::vector<std::int64_t> output_shape() const override { return {options.size(), options.size()}; }
  /// b and k of the rule above, for the configured size.
  std::int64_t base_size() const noexcept { return base_; }
  std::int64_t doublings() const noexcept { return doublings_; }

  LabelDecoderOptions options;

 protected:
  torch::Tensor compute(const torch::Tensor& features) override;
  std::shared_ptr<Decoder> rebuild() const override;

 private:
  std::int64_t base_ = 0, doublings_ = 0;
  torch::nn::Sequential dense_{nullptr}, up_{nullptr};
  // How compute() runs each layer of up_: the transposed convolutions this class builds have
  // equivalent forms that libtorch computes faster (decoders.cpp).
  enum class UpKind { kModule, kPoint, kDoubling };
  std::vector<UpKind> up_kinds_;
};
TORCH_MODULE(LabelDecoder);

/// Options of DenseDecoder. Example: `DenseDecoderOptions(64, 50)` for GloVe labels.
struct LABELREP_API DenseDecoderOptions {
  DenseDecoderOptions(std::int64_t in_features, std::int64_t dimension) : in_features_(in_features), dimension_(dimension) {}
  TORCH_ARG(std::int64_t, in_features);
  TORCH_ARG(std::int64_t, dimension);
};

/// For vector labels (low-dim, GloVe): BatchNorm1d(F) + LeakyReLU(0.01) + Linear F→D, the label
/// decoder's dense part with D outputs instead of 64, so vector and matrix labels get the same head
/// up to the reshaping. `[N, F]` → `[N, D]`. Registered names: `body.{0,2}` (BatchNorm1d, Linear).
class LABELREP_API DenseDecoderImpl final : public Decoder {
 public:
  /// throws: InvalidArgument for in_features or dimension outside [1, 2^24].
  explicit DenseDecoderImpl(const DenseDecoderOptions& options);
  std::int64_t in_features() const override { return options.in_features(); }
  std::vector<std::int64_t> output_shape() const override { return {options.dimension()}; }

  DenseDecoderOptions options;

 protected:
  torch::Tensor compute(const torch::Tensor& features) override;
  std::shared_ptr<Decoder> rebuild() const override;

 private:
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(DenseDecoder);

/// Regression on standardized labels: `output = mean + std · inner(features)`, with `mean` and `std`
/// one scalar each over all values of the label set (models::standardize computes them). The network
/// learns labels of mean 0 and standard deviation 1 — speech spectrograms in dB (mean −46, std 19) make
/// a raw regression spend its first epochs learning the offset and scale — while its outputs stay in
/// the labels' own units, so nearest-label decisions, the threshold rule, attacks and label images are
/// those of the unscaled labels (one scalar for all values scales every distance alike). The training
/// loss divides output − target by `std` (loss_scale()), which makes it the loss of the standardized
/// regression. Registered names: `inner.<the inner decoder's names>`, buffers `label_mean`,
/// `label_std` (float32 scalars).
class LABELREP_API StandardizedDecoderImpl final : public Decoder {
 public:
  /// throws: InvalidArgument for a null inner decoder, a non-finite mean, or a std that is not finite
  /// and > 0.
  StandardizedDecoderImpl(std::shared_ptr<Decoder> inner, double mean, double standard_deviation);
  std::int64_t in_features() const override { return inner_->in_features(); }
  std::vector<std::int64_t> output_shape() const override { return inner_->output_shape(); }
  torch::Tensor loss_scale() const override { return label_std_; }
  double mean() const noexcept { return mean_; }
  double standard_deviation() const noexcept { return standard_deviation_; }
  Decoder& inner() { return *inner_; }

 protected:
  /// float32 outputs whatever precision the inner decoder ran in: mean + std · z is rounded once.
  torch::Tensor compute(const torch::Tensor& features) override;
  std::shared_ptr<Decoder> rebuild() const override;

 private:
  std::shared_ptr<Decoder> inner_;
  double mean_, standard_deviation_;
  torch::Tensor label_mean_, label_std_;
};
TORCH_MODULE(StandardizedDecoder);

}  // namespace labelrep::models
