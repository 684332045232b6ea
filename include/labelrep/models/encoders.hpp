#pragma once
/// \file encoders.hpp  Image encoders: CIFAR ResNet (depth 6n+2), VGG19 with batch norm, a small CNN.
///
/// An encoder maps images `[N, C, H, W]` to feature vectors `[N, F]` in two steps, because Grad-CAM
/// needs the step in between:
///   - `feature_map(x)`: the output of the last convolutional stage, `[N, F, h, w]`;
///   - `pool(map)`: global average pooling of that map, `[N, F]`;
///   - `forward(x) == pool(feature_map(x))`: the feature vector (t-SNE, the decoders).
///
/// Grad-CAM on an earlier layer needs that layer's output inside the same forward pass. libtorch's C++
/// modules have no forward hooks, so the encoders *tap* their layers instead: their forward passes each
/// layer's output through `Encoder::tap(layer, output)`, which costs one thread-local read when nobody
/// listens. `layers()` lists the tapped layers by qualified name and `feature_map_tapped()` returns the
/// output of one of them together with the feature map. Every element of a `body` Sequential is tapped,
/// and in the ResNet also every block's convolutions, batch norms and shortcut.
///
/// Every encoder is a torch module held the torch way: `ResNetCifarImpl` + `TORCH_MODULE(ResNetCifar)`.
/// Holders share ownership (copying one aliases the weights); `clone()` is the deep copy. The names
/// under which the submodules are registered are the checkpoint format and never change.
///
/// Example:
/// \code
///   labelrep::models::ResNetCifar encoder(labelrep::models::ResNetCifarOptions(32).in_channels(1));
///   torch::Tensor features = encoder(images);                   // [N, 64]
///   torch::Tensor map = encoder->feature_map(images);           // [N, 64, 8, 8] for 32×32 images
///   auto copy = std::dynamic_pointer_cast<labelrep::models::ResNetCifarImpl>(encoder->clone());
/// \endcode

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "labelrep/export.hpp"

namespace labelrep::models {

/// One layer an encoder taps (Encoder::layers()).
struct LABELREP_API EncoderLayer {
  std::string name;                       ///< qualified name, as in named_modules(): "body.0", "body.layer2_0.conv1"
  std::string type;                       ///< the module's type: "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "BasicBlock"
  std::vector<std::int64_t> output_shape; ///< `[channels, h, w]` of its output for the probed image size
  bool convolution() const { return type == "Conv2d"; }
};

/// A layer's output and the feature map, from one forward pass (Encoder::feature_map_tapped()).
struct LABELREP_API TappedFeatures {
  torch::Tensor feature_map;   ///< `[N, feature_dim(), h, w]`, as feature_map()
  torch::Tensor layer_output;  ///< the tapped layer's output, in the same autograd graph
};

/// The interface every encoder implements; a torch module, so it registers, moves and saves as one.
///
/// To write your own encoder, derive from Encoder, register every submodule in the constructor and
/// implement compute_feature_map(), feature_dim(), in_channels(), min_input_size() and rebuild().
/// clone() then works: it rebuilds a fresh encoder and copies every parameter and buffer into it.
class LABELREP_API Encoder : public torch::nn::Module {
 public:
  /// Output of the last convolutional stage.
  /// requires: images `[N, in_channels(), H, W]`, floating point, H and W ≥ min_input_size().
  /// ensures: `[N, feature_dim(), h, w]`. throws: InvalidArgument when a requirement fails.
  torch::Tensor feature_map(const torch::Tensor& images);
  /// Feature vectors from a feature map: global average pooling, `[N, F, h, w]` → `[N, F]`.
  /// Every encoder here ends this way (VGG19 on 32×32 images has a 1×1 map, so this equals the
  /// reference's flatten). Differentiable: Grad-CAM takes gradients with respect to the map.
  virtual torch::Tensor pool(const torch::Tensor& feature_map);
  /// Images → feature vectors `[N, feature_dim()]`; equals pool(feature_map(images)).
  torch::Tensor forward(const torch::Tensor& images);

  /// The layers whose outputs feature_map_tapped() can return, in the order the forward pass reaches
  /// them, found by running one zero image of `height` × `width` (default min_input_size()) through
  /// the encoder in eval mode without gradients (its mode and buffers are left as they were).
  /// throws: InvalidArgument for a size the encoder refuses.
  std::vector<EncoderLayer> layers(std::int64_t height = 0, std::int64_t width = 0);
  /// Qualified names of the tapped convolutions (layers() of type Conv2d), in forward order.
  std::vector<std::string> conv_layer_names();
  /// feature_map(images), also returning the output of the layer named `layer` (a name from layers()).
  /// With gradients enabled both are in one autograd graph, so ∂(score)/∂layer_output can be taken.
  /// requires: as feature_map(). throws: InvalidArgument for a name that is not a tapped layer (the
  /// message lists the convolutions), or images the encoder refuses.
  TappedFeatures feature_map_tapped(const torch::Tensor& images, const std::string& layer);

  /// For encoder authors: call on every layer's output inside compute_feature_map (returns `output`),
  /// so that the layer can be listed and tapped. `layer` must be a registered submodule.
  static torch::Tensor tap(const torch::nn::Module& layer, const torch::Tensor& output);

  virtual std::int64_t feature_dim() const = 0;
  virtual std::int64_t in_channels() const = 0;
  /// Smallest image side the encoder accepts (VGG19 pools five times: 32).
  virtual std::int64_t min_input_size() const = 0;

  /// Deep copy: a rebuilt encoder with this one's parameters, buffers and train/eval modes,
  /// optionally on `device`. Changing the copy never changes this encoder. Throws InvalidArgument when
  /// rebuild() gives a module with other parameters, buffers or submodules; TorchError for a device
  /// that is not there.
  std::shared_ptr<torch::nn::Module> clone(const torch::optional<torch::Device>& device = torch::nullopt) const override;

 protected:
  explicit Encoder(const std::string& name) : torch::nn::Module(name) {}
  /// The layers up to the last convolutional stage; `images` are already checked. Pass each layer's
  /// output through tap() to make the layer available to layers() and feature_map_tapped().
  virtual torch::Tensor compute_feature_map(const torch::Tensor& images) = 0;
  /// A new encoder built from the same options (fresh weights): what clone() copies into.
  virtual std::shared_ptr<Encoder> rebuild() const = 0;

 private:
  void check_images(const torch::Tensor& images) const;
  // Cloneable parents call this on the child their reset() built: copy `other`'s state into it.
  void clone_(torch::nn::Module& other, const torch::optional<torch::Device>& device) override;
};

/// Options of the CIFAR ResNet (He et al. 2016, §4.2).
/// Example: `ResNetCifarOptions(110).in_channels(1)`.
struct LABELREP_API ResNetCifarOptions {
  /// The depth must be 6n+2 with n ≥ 1 (8, 14, 20, 32, 56, 110, ... up to 1202); checked when the
  /// encoder is built, which throws InvalidArgument otherwise.
  explicit ResNetCifarOptions(std::int64_t depth) : depth_(depth) {}
  TORCH_ARG(std::int64_t, depth);
  /// Image channels, 1 to 64 (1 for Fashion-MNIST).
  TORCH_ARG(std::int64_t, in_channels) = 3;
};

/// CIFAR ResNet of depth 6n+2: a 3×3 convolution to 16 channels with BN + ReLU, then three stages of
/// n BasicBlocks with 16, 32 and 64 channels (the first block of stages 2 and 3 has stride 2), a
/// 1×1 convolution + BN shortcut where the shape changes, global average pooling. 64 features.
/// A BasicBlock is conv3×3-BN-ReLU-conv3×3-BN, added to the shortcut, then ReLU. Convolutions have no
/// bias (BN follows). ResNet-32 + CategoryDecoder(10) has 466,906 parameters, as the reference.
///
/// Registered names: `body.conv1`, `body.bn1`, `body.layer<stage>_<block>.{conv1,bn1,conv2,bn2}`, and
/// `body.layer<stage>_0.shortcut.{0,1}` where the shape changes (stage 1..3, block 0..n-1).
class LABELREP_API ResNetCifarImpl final : public Encoder {
 public:
  /// throws: InvalidArgument for a depth that is not 6n+2 in [8, 1202] or in_channels outside [1, 64].
  explicit ResNetCifarImpl(const ResNetCifarOptions& options);
  std::int64_t feature_dim() const override { return 64; }
  std::int64_t in_channels() const override { return options.in_channels(); }
  std::int64_t min_input_size() const override { return 8; }

  ResNetCifarOptions options;

 protected:
  torch::Tensor compute_feature_map(const torch::Tensor& images) override;
  std::shared_ptr<Encoder> rebuild() const override;

 private:
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(ResNetCifar);

/// Options of VGG19 with batch norm. Example: `VGG19Options().in_channels(1)`.
struct LABELREP_API VGG19Options {
  /// Image channels, 1 to 64.
  TORCH_ARG(std::int64_t, in_channels) = 3;
};

/// VGG19 with batch normalisation, CIFAR variant: sixteen 3×3 convolutions (with bias, as torchvision
/// and the reference) each followed by BN + ReLU, in the pattern 64, 64, M, 128, 128, M, 256×4, M,
/// 512×4, M, 512×4, M (M = 2×2 max pooling), then global average pooling: 512 features. Needs images of
/// at least 32×32 (28×28 Fashion-MNIST images are padded to 32 by the data module).
/// VGG19 + CategoryDecoder(10) has 20,040,522 parameters, as the reference.
///
/// Registered names: `body.<i>` for the i-th layer of the sequence (conv, BN, ReLU, pool), so
/// `body.0` is the first convolution and `body.1` its BN.
class LABELREP_API VGG19Impl final : public Encoder {
 public:
  /// throws: InvalidArgument for in_channels outside [1, 64].
  explicit VGG19Impl(const VGG19Options& options = {});
  std::int64_t feature_dim() const override { return 512; }
  std::int64_t in_channels() const override { return options.in_channels(); }
  std::int64_t min_input_size() const override { return 32; }

  VGG19Options options;

 protected:
  torch::Tensor compute_feature_map(const torch::Tensor& images) override;
  std::shared_ptr<Encoder> rebuild() const override;

 private:
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(VGG19);

/// Options of the small CNN. Example: `SmallCnnOptions().in_channels(1).width(16)`.
struct LABELREP_API SmallCnnOptions {
  /// Image channels, 1 to 64.
  TORCH_ARG(std::int64_t, in_channels) = 3;
  /// Channels of the first stage (the stages have width, 2·width, 4·width), 1 to 512.
  TORCH_ARG(std::int64_t, width) = 32;
};

/// A small, fast CNN for CPU demos on 28×28 and 32×32 images. Three stages of 3×3 conv + BN + ReLU
/// with width, 2·width and 4·width channels: two convolutions then 2×2 max pooling in the first two
/// stages, one convolution in the third, then global average pooling (4·width features). With the
/// default width 32 (32-64-128) it has 139,168 parameters, costs about 22 M multiply-adds per 28×28
/// image; a PyTorch replica of it reached 90.9% Fashion-MNIST test accuracy after two epochs (SGD with
/// momentum, one-cycle learning rate peaking at 0.1, batch 128, no augmentation).
///
/// Registered names: `body.<i>` for the i-th layer of the sequence, `body.0` the first convolution.
class LABELREP_API SmallCnnImpl final : public Encoder {
 public:
  /// throws: InvalidArgument for in_channels outside [1, 64] or width outside [1, 512].
  explicit SmallCnnImpl(const SmallCnnOptions& options = {});
  std::int64_t feature_dim() const override { return 4 * options.width(); }
  std::int64_t in_channels() const override { return options.in_channels(); }
  std::int64_t min_input_size() const override { return 4; }

  SmallCnnOptions options;

 protected:
  torch::Tensor compute_feature_map(const torch::Tensor& images) override;
  std::shared_ptr<Encoder> rebuild() const override;

 private:
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(SmallCnn);

/// Builds an encoder by name: "resnet<6n+2>" (resnet20, resnet32, resnet56, resnet110, ...), "vgg19"
/// or "small-cnn".
/// throws: InvalidArgument for another name, a ResNet depth that is not 6n+2, or bad in_channels.
LABELREP_API std::shared_ptr<Encoder> make_encoder(const std::string& name, std::int64_t in_channels = 3);

}  // namespace labelrep::models
