#include "labelrep/models/encoders.hpp"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

#include <fmt/format.h>

#include "labelrep/core/error.hpp"

namespace labelrep::models {
namespace {

torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(bias));
}

// The CIFAR BasicBlock: two 3×3 convolutions with BN, ReLU after the sum, a 1×1 conv + BN shortcut
// where the shape changes. Names (conv1, bn1, conv2, bn2, shortcut) are the checkpoint format.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride) {
    conv1_ = register_module("conv1", conv3x3(in, out, stride, false));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(out));
    conv2_ = register_module("conv2", conv3x3(out, out, 1, false));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      shortcut_ = register_module(
          "shortcut", torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                                            torch::nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto out = torch::relu(bn1_(conv1_(x)));
    out = bn2_(conv2_(out));
    return torch::relu(out + (shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(BasicBlock);

void conv_bn_relu(torch::nn::Sequential& body, std::int64_t in, std::int64_t out, bool bias) {
  body->push_back(conv3x3(in, out, 1, bias));
  body->push_back(torch::nn::BatchNorm2d(out));
  body->push_back(torch::nn::ReLU());
}

void check_channels(std::int64_t in_channels) {
  if (in_channels < 1 || in_channels > 64)
    throw InvalidArgument(fmt::format("encoder in_channels must be in [1, 64], got {}", in_channels));
}

}  // namespace

torch::Tensor Encoder::forward(const torch::Tensor& images) {
  check_images(images);
  return pool(feature_map(images));
}

void Encoder::check_images(const torch::Tensor& images) const {
  if (!images.defined() || images.dim() != 4)
    throw InvalidArgument(fmt::format("encoder: images must be [N, C, H, W], got {} dimensions", images.defined() ? images.dim() : 0));
  if (images.size(1) != in_channels())
    throw InvalidArgument(fmt::format("encoder: images have {} channels but the encoder was built for {}", images.size(1), in_channels()));
  if (images.size(2) < min_input_size() || images.size(3) < min_input_size())
    throw InvalidArgument(fmt::format("encoder: images are {}x{} but {} needs at least {}x{}", images.size(2), images.size(3), name(),
                                      min_input_size(), min_input_size()));
  if (!images.is_floating_point())
    throw InvalidArgument("encoder: images must be floating point (normalised), not " + std::string(c10::toString(images.scalar_type())));
}

ResNetCifar::ResNetCifar(const ResNetCifarOptions& options) : Encoder("ResNetCifar"), options_(options) {
  const std::int64_t depth = options.depth();
  if (depth < 8 || (depth - 2) % 6 != 0 || depth > 1202)
    throw InvalidArgument(fmt::format("ResNet depth must be 6n+2 (8, 14, 20, 32, 56, 110, ...) up to 1202, got {}", depth));
  check_channels(options.in_channels());
  const std::int64_t n = (depth - 2) / 6;
  torch::nn::Sequential body;
  body->push_back("conv1", conv3x3(options.in_channels(), 16, 1, false));
  body->push_back("bn1", torch::nn::BatchNorm2d(16));
  body->push_back("relu", torch::nn::ReLU());
  std::int64_t in = 16;
  const std::int64_t widths[3] = {16, 32, 64};
  for (int stage = 0; stage < 3; ++stage) {
    for (std::int64_t i = 0; i < n; ++i) {
      body->push_back(fmt::format("layer{}_{}", stage + 1, i), BasicBlock(in, widths[stage], (i == 0 && stage > 0) ? 2 : 1));
      in = widths[stage];
    }
  }
  body_ = register_module("body", body);
}

torch::Tensor ResNetCifar::feature_map(const torch::Tensor& images) {
  check_images(images);
  return body_->forward(images);
}
torch::Tensor ResNetCifar::pool(const torch::Tensor& map) { return map.mean({2, 3}); }

Vgg19::Vgg19(const Vgg19Options& options) : Encoder("Vgg19"), options_(options) {
  check_channels(options.in_channels());
  const std::int64_t cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0};
  torch::nn::Sequential body;
  std::int64_t in = options.in_channels();
  for (const std::int64_t v : cfg) {
    if (v == 0) {
      body->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
    } else {
      conv_bn_relu(body, in, v, /*bias=*/true);  // torchvision's VGG keeps conv biases before BN
      in = v;
    }
  }
  body_ = register_module("body", body);
}

torch::Tensor Vgg19::feature_map(const torch::Tensor& images) {
  check_images(images);
  return body_->forward(images);
}
// 32×32 inputs end at 1×1; larger ones are averaged so that the feature size stays 512.
torch::Tensor Vgg19::pool(const torch::Tensor& map) { return map.mean({2, 3}); }

SmallCnn::SmallCnn(const SmallCnnOptions& options) : Encoder("SmallCnn"), options_(options) {
  check_channels(options.in_channels());
  const std::int64_t w = options.width();
  if (w < 1 || w > 512) throw InvalidArgument(fmt::format("SmallCnn width must be in [1, 512], got {}", w));
  torch::nn::Sequential body;
  conv_bn_relu(body, options.in_channels(), w, false);
  conv_bn_relu(body, w, w, false);
  body->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
  conv_bn_relu(body, w, 2 * w, false);
  conv_bn_relu(body, 2 * w, 2 * w, false);
  body->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
  conv_bn_relu(body, 2 * w, 4 * w, false);
  body_ = register_module("body", body);
}

torch::Tensor SmallCnn::feature_map(const torch::Tensor& images) {
  check_images(images);
  return body_->forward(images);
}
torch::Tensor SmallCnn::pool(const torch::Tensor& map) { return map.mean({2, 3}); }

std::shared_ptr<Encoder> make_encoder(const std::string& name, std::int64_t in_channels) {
  if (name == "vgg19") return std::make_shared<Vgg19>(Vgg19Options().in_channels(in_channels));
  if (name == "small-cnn") return std::make_shared<SmallCnn>(SmallCnnOptions().in_channels(in_channels));
  if (name.rfind("resnet", 0) == 0 && name.size() > 6 && name.size() <= 10 &&
      name.find_first_not_of("0123456789", 6) == std::string::npos) {
    const std::int64_t depth = std::stoll(name.substr(6));
    if (depth < 8 || (depth - 2) % 6 != 0)
      throw InvalidArgument(fmt::format("encoder '{}': a CIFAR ResNet's depth is 6n+2 (resnet20, resnet32, resnet56, resnet110, ...)", name));
    return std::make_shared<ResNetCifar>(ResNetCifarOptions(depth).in_channels(in_channels));
  }
  throw InvalidArgument(fmt::format("unknown encoder '{}' (known: resnet<6n+2> such as resnet32 and resnet110, vgg19, small-cnn)", name));
}

}  // namespace labelrep::models
