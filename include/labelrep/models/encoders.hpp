#pragma once
/// \file encoders.hpp  Image encoders: CIFAR ResNet (6n+2), VGG19 with batch norm, and a small CNN.
///
/// An encoder maps images `[N, C, H, W]` to feature vectors `[N, F]` in two steps that Grad-CAM and
/// t-SNE need separately: `feature_map(x)` is the output of the last convolutional stage
/// `[N, F, h, w]`, and `pool(map)` turns it into the feature vector. `forward(x) = pool(feature_map(x))`.
///
/// Example:
/// \code
///   auto encoder = std::make_shared<labelrep::models::ResNetCifar>(
///       labelrep::models::ResNetCifarOptions(32).in_channels(1));
///   torch::Tensor features = encoder->forward(images);   // [N, 64]
/// \endcode
/// Registered submodule names are the checkpoint format and never change.

#include <cstdint>
#include <memory>
#include <string>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "labelrep/export.hpp"

namespace labelrep::models {

/// The interface every encoder implements. Not copyable (a torch Module); share it by shared_ptr.
class LABELREP_API Encoder : public torch::nn::Module {
 public:
  /// Output of the last convolutional stage, `[N, feature_dim(), h, w]`.
  virtual torch::Tensor feature_map(const torch::Tensor& images) = 0;
  /// Feature vector from a feature map: `[N, feature_dim()]`.
  virtual torch::Tensor pool(const torch::Tensor& feature_map) = 0;
  /// Images `[N, C, H, W]` → features `[N, feature_dim()]`. Throws InvalidArgument for a wrong
  /// channel count or rank.
  torch::Tensor forward(const torch::Tensor& images);
  virtual std::int64_t feature_dim() const = 0;
  virtual std::int64_t in_channels() const = 0;
  /// Smallest input side the encoder accepts.
  virtual std::int64_t min_input_size() const = 0;

 protected:
  explicit Encoder(const std::string& name) : torch::nn::Module(name) {}
  void check_images(const torch::Tensor& images) const;
};

/// ResNet for 32×32 images (He et al. 2016, §4.2): depth = 6n+2, three stages of n BasicBlocks with
/// 16/32/64 channels, a 1×1 convolution + BN shortcut where the shape changes, global average pooling.
struct LABELREP_API ResNetCifarOptions {
  /// Throws InvalidArgument (when the encoder is built) unless depth = 6n+2 with n ≥ 1.
  explicit ResNetCifarOptions(std::int64_t depth) : depth_(depth) {}
  TORCH_ARG(std::int64_t, depth);
  TORCH_ARG(std::int64_t, in_channels) = 3;
};

class LABELREP_API ResNetCifar final : public Encoder {
 public:
  explicit ResNetCifar(const ResNetCifarOptions& options);
  torch::Tensor feature_map(const torch::Tensor& images) override;
  torch::Tensor pool(const torch::Tensor& feature_map) override;
  std::int64_t feature_dim() const override { return 64; }
  std::int64_t in_channels() const override { return options_.in_channels(); }
  std::int64_t min_input_size() const override { return 8; }
  const ResNetCifarOptions& options() const noexcept { return options_; }

 private:
  ResNetCifarOptions options_;
  torch::nn::Sequential body_{nullptr};
};

/// VGG19 with batch normalisation, CIFAR variant: 16 3×3 convolutions (64, 64, M, 128, 128, M, 256×4,
/// M, 512×4, M, 512×4, M), 512 features from 32×32 inputs.
struct LABELREP_API Vgg19Options {
  TORCH_ARG(std::int64_t, in_channels) = 3;
};

class LABELREP_API Vgg19 final : public Encoder {
 public:
  explicit Vgg19(const Vgg19Options& options = {});
  torch::Tensor feature_map(const torch::Tensor& images) override;
  torch::Tensor pool(const torch::Tensor& feature_map) override;
  std::int64_t feature_dim() const override { return 512; }
  std::int64_t in_channels() const override { return options_.in_channels(); }
  std::int64_t min_input_size() const override { return 32; }

 private:
  Vgg19Options options_;
  torch::nn::Sequential body_{nullptr};
};

/// A small, fast CNN for CPU demos: three stages of `width`, 2·`width`, 4·`width` channels
/// (3×3 conv + BN + ReLU; two convolutions in the first two stages, each followed by 2×2 max pooling),
/// then global average pooling. With width 16 it has about 60k parameters.
struct LABELREP_API SmallCnnOptions {
  TORCH_ARG(std::int64_t, in_channels) = 3;
  TORCH_ARG(std::int64_t, width) = 16;
};

class LABELREP_API SmallCnn final : public Encoder {
 public:
  explicit SmallCnn(const SmallCnnOptions& options = {});
  torch::Tensor feature_map(const torch::Tensor& images) override;
  torch::Tensor pool(const torch::Tensor& feature_map) override;
  std::int64_t feature_dim() const override { return 4 * options_.width(); }
  std::int64_t in_channels() const override { return options_.in_channels(); }
  std::int64_t min_input_size() const override { return 4; }

 private:
  SmallCnnOptions options_;
  torch::nn::Sequential body_{nullptr};
};

/// Builds an encoder by name: "resnet<6n+2>" (resnet20, resnet32, resnet56, resnet110, ...), "vgg19" or
/// "small-cnn". Throws InvalidArgument for other names.
LABELREP_API std::shared_ptr<Encoder> make_encoder(const std::string& name, std::int64_t in_channels);

}  // namespace labelrep::models
