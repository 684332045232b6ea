#include "labelrep/models/encoders.hpp"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>

#include "labelrep/core/error.hpp"
#include "models/encoder_names.hpp"
#include "models/module_copy.hpp"
#include "core/autocast_state.hpp"
#include "core/boundary.hpp"
#include "core/eval_mode_guard.hpp"

namespace labelrep::models {
namespace detail {

void copy_module_state(const torch::nn::Module& from, torch::nn::Module& to, const torch::optional<torch::Device>& device) {
  torch::NoGradGuard no_grad;
  // Always a new tensor: to() returns its input when it is already on the device (`cuda` matches a
  // tensor on `cuda:0`), which would leave the copy sharing the original's storage; copy=true forbids it.
  const auto copy = [&](const torch::Tensor& source) {
    return device ? source.to(*device, source.scalar_type(), /*non_blocking=*/false, /*copy=*/true) : source.clone();
  };
  auto to_parameters = to.named_parameters();
  const auto from_parameters = from.named_parameters();
  auto to_buffers = to.named_buffers();
  const auto from_buffers = from.named_buffers();
  if (to_parameters.size() != from_parameters.size() || to_buffers.size() != from_buffers.size())
    throw InvalidArgument(fmt::format("clone of {}: the rebuilt module has {} parameters and {} buffers, the original {} and {}", from.name(),
                            to_parameters.size(), to_buffers.size(), from_parameters.size(), from_buffers.size()));
  for (const auto& item : from_parameters) {
    const auto* target = to_parameters.find(item.key());
    if (target == nullptr) throw InvalidArgument(fmt::format("clone of {}: the rebuilt module has no parameter {}", from.name(), item.key()));
    // set_data keeps the rebuilt tensor's identity (what the rebuilt module holds) and gives it a copy.
    torch::Tensor parameter = *target;
    parameter.set_data(copy(item.value()));
    parameter.requires_grad_(item.value().requires_grad());
  }
  for (const auto& item : from_buffers) {
    const auto* target = to_buffers.find(item.key());
    if (target == nullptr) throw InvalidArgument(fmt::format("clone of {}: the rebuilt module has no buffer {}", from.name(), item.key()));
    torch::Tensor buffer = *target;
    buffer.set_data(copy(item.value()));
  }
  copy_modes(from, to);
}

void copy_modes(const torch::nn::Module& from, torch::nn::Module& to) {
  // train()/eval() recurse, so setting the modes in pre-order (parents first) leaves each as it was.
  // modules() returns shared_ptrs, which a module not owned by one (a stack object) cannot give.
  std::vector<const torch::nn::Module*> sources{&from};
  for (const auto& m : from.modules(/*include_self=*/false)) sources.push_back(m.get());
  std::vector<torch::nn::Module*> targets{&to};
  for (const auto& m : to.modules(/*include_self=*/false)) targets.push_back(m.get());
  if (sources.size() != targets.size())
    throw InvalidArgument(fmt::format("clone of {}: the rebuilt module has {} submodules, the original {}", from.name(), targets.size(), sources.size()));
  for (std::size_t i = 0; i < sources.size(); ++i) targets[i]->train(sources[i]->is_training());
}

}  // namespace detail

namespace {

// Who listens to Encoder::tap on this thread: one capture at a time (nested ones chain through
// `previous`). Thread-local, so concurrent forwards on other threads are not seen.
struct TapListener {
  const torch::nn::Module* target = nullptr;                           // one layer, or
  std::vector<std::pair<const torch::nn::Module*, torch::Tensor>>* all = nullptr;  // every layer
  torch::Tensor output;
  TapListener* previous = nullptr;
};
thread_local TapListener* current_listener = nullptr;

class ListenScope {
 public:
  explicit ListenScope(TapListener& listener) : listener_(listener) {
    listener_.previous = current_listener;
    current_listener = &listener_;
  }
  ~ListenScope() { current_listener = listener_.previous; }
  ListenScope(const ListenScope&) = delete;
  ListenScope& operator=(const ListenScope&) = delete;

 private:
  TapListener& listener_;
};

// A module's type without namespace and Impl suffix: "torch::nn::Conv2dImpl" -> "Conv2d".
std::string short_type(const torch::nn::Module& module) {
  std::string type = module.name();
  if (const auto colon = type.rfind("::"); colon != std::string::npos) type = type.substr(colon + 2);
  if (type.size() > 4 && type.compare(type.size() - 4, 4, "Impl") == 0) type.resize(type.size() - 4);
  return type;
}

// Runs a Sequential's elements in order, tapping each (Sequential::forward, with taps).
torch::Tensor run_tapped(torch::nn::Sequential& body, torch::Tensor x) {
  for (auto& element : *body) x = Encoder::tap(*element.ptr(), element.forward(x));
  return x;
}

torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(bias));
}

// The CIFAR BasicBlock: two 3×3 convolutions with BN, ReLU after the sum, a 1×1 conv + BN shortcut
// where the shape changes. Internal: it is only ever built inside ResNetCifarImpl, whose clone()
// rebuilds it, so it needs no clone() of its own. Names (conv1, bn1, conv2, bn2, shortcut) are the
// checkpoint format.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride) : torch::nn::Module("BasicBlock") {
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
    auto out = Encoder::tap(*conv1_, conv1_(x));
    out = torch::relu(Encoder::tap(*bn1_, bn1_(out)));
    out = Encoder::tap(*conv2_, conv2_(out));
    out = Encoder::tap(*bn2_, bn2_(out));
    return torch::relu(out + (shortcut_ ? run_tapped(shortcut_, x) : x));
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

void max_pool(torch::nn::Sequential& body) { body->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2))); }

void check_channels(const char* encoder, std::int64_t in_channels) {
  if (in_channels < 1 || in_channels > 64)
    throw InvalidArgument(fmt::format("{}: in_channels must be in [1, 64], got {}", encoder, in_channels));
}

void check_resnet_depth(std::int64_t depth) {
  if (depth < 8 || depth > 1202 || (depth - 2) % 6 != 0)
    throw InvalidArgument(fmt::format("ResNet depth must be 6n+2 (8, 14, 20, 32, 56, 110, ...) up to 1202, got {}", depth));
}

}  // namespace

// ---- Encoder ------------------------------------------------------------------------------------

torch::Tensor Encoder::feature_map(const torch::Tensor& images) try {
  check_images(images);
  return compute_feature_map(images);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Encoder::feature_map");
}

torch::Tensor Encoder::pool(const torch::Tensor& feature_map) try {
  if (!feature_map.defined() || feature_map.dim() != 4 || feature_map.size(1) != feature_dim())
    throw InvalidArgument(fmt::format("{}: pool needs a feature map [N, {}, h, w]", name(), feature_dim()));
  return feature_map.mean({2, 3});
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Encoder::pool");
}

torch::Tensor Encoder::forward(const torch::Tensor& images) try {
  return pool(feature_map(images));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Encoder::forward");
}

torch::Tensor Encoder::tap(const torch::nn::Module& layer, const torch::Tensor& output) {
  if (auto* listener = current_listener) {
    if (listener->all != nullptr) listener->all->emplace_back(&layer, output);
    else if (listener->target == &layer) listener->output = output;
  }
  return output;
}

std::vector<EncoderLayer> Encoder::layers(std::int64_t height, std::int64_t width) try {
  if (height == 0) height = min_input_size();
  if (width == 0) width = min_input_size();
  if (height < 0 || width < 0)
    throw InvalidArgument(fmt::format("{}: layers: the probe size must be 0 (the smallest accepted) or positive, got {}x{}", name(), height, width));
  std::map<const torch::nn::Module*, std::string> names;
  for (const auto& item : named_modules()) names.emplace(item.value().get(), item.key());
  std::vector<std::pair<const torch::nn::Module*, torch::Tensor>> seen;
  {
    // Eval mode: batch norm on one image must neither update nor fail on batch statistics.
    labelrep::detail::EvalModeGuard eval_mode(*this);
    torch::NoGradGuard no_grad;
    TapListener listener;
    listener.all = &seen;
    ListenScope scope(listener);
    const auto params = parameters();
    const auto options = params.empty() ? torch::TensorOptions().dtype(torch::kFloat32) : params.front().options();
    feature_map(torch::zeros({1, in_channels(), height, width}, options.requires_grad(false)));
  }
  std::vector<EncoderLayer> out;
  for (const auto& [module, output] : seen) {
    const auto name = names.find(module);
    if (name == names.end() || name->second.empty()) continue;  // not a registered submodule of this encoder
    EncoderLayer layer;
    layer.name = name->second;
    layer.type = short_type(*module);
    layer.output_shape = output.sizes().slice(1).vec();
    out.push_back(std::move(layer));
  }
  return out;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Encoder::layers");
}

std::vector<std::string> Encoder::conv_layer_names() {
  std::vector<std::string> names;
  for (const auto& layer : layers())
    if (layer.convolution()) names.push_back(layer.name);
  return names;
}

TappedFeatures Encoder::feature_map_tapped(const torch::Tensor& images, const std::string& layer) try {
  std::shared_ptr<torch::nn::Module> target;
  for (const auto& item : named_modules(/*name_prefix=*/"", /*include_self=*/false))
    if (item.key() == layer) target = item.value();
  auto unknown = [&] {
    return InvalidArgument(fmt::format("{}: no layer '{}'; its convolutional layers are: {} (and the layers listed by layers())", name(),
                                       layer, fmt::join(conv_layer_names(), ", ")));
  };
  if (!target) throw unknown();
  check_images(images);
  TapListener listener;
  listener.target = target.get();
  TappedFeatures out;
  {
    ListenScope scope(listener);
    out.feature_map = compute_feature_map(images);
  }
  if (!listener.output.defined()) throw unknown();  // a submodule the forward does not tap (e.g. inside a block)
  out.layer_output = listener.output;
  return out;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Encoder::feature_map_tapped");
}

std::shared_ptr<torch::nn::Module> Encoder::clone(const torch::optional<torch::Device>& device) const try {
  auto copy = rebuild();
  detail::copy_module_state(*this, *copy, device);
  return copy;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Encoder::clone");
}

void Encoder::clone_(torch::nn::Module& other, const torch::optional<torch::Device>& device) {
  detail::copy_module_state(other, *this, device);
}

void Encoder::check_images(const torch::Tensor& images) const {
  if (!images.defined() || images.dim() != 4)
    throw InvalidArgument(fmt::format("{}: images must be [N, C, H, W], got {} dimensions", name(), images.defined() ? images.dim() : 0));
  if (images.size(1) != in_channels())
    throw InvalidArgument(fmt::format("{}: images have {} channels but the encoder was built for {}", name(), images.size(1), in_channels()));
  if (images.size(2) < min_input_size() || images.size(3) < min_input_size())
    throw InvalidArgument(fmt::format("{}: images are {}x{} but it needs at least {}x{}", name(), images.size(2), images.size(3),
                                      min_input_size(), min_input_size()));
  if (!images.is_floating_point())
    throw InvalidArgument(fmt::format("{}: images must be floating point (normalised), not {}", name(), c10::toString(images.scalar_type())));
  // libtorch would fail inside the first convolution with its own words; name the argument instead.
  const auto weights = parameters();
  if (!weights.empty()) {
    const auto& w = weights.front();
    // Under autocast (train::Precision::kBFloat16) the convolutions cast the images themselves.
    if (images.scalar_type() != w.scalar_type() && !labelrep::detail::autocast_enabled(images.device().type()))
      throw InvalidArgument(fmt::format("{}: images are {} but the encoder's weights are {} (convert the images or the model)", name(),
                                        c10::toString(images.scalar_type()), c10::toString(w.scalar_type())));
    if (images.device() != w.device())
      throw InvalidArgument(fmt::format("{}: images are on {} but the encoder is on {}", name(), images.device().str(), w.device().str()));
  }
}

// ---- ResNetCifar --------------------------------------------------------------------------------

ResNetCifarImpl::ResNetCifarImpl(const ResNetCifarOptions& options_) try : Encoder("ResNetCifar"), options(options_) {
  check_resnet_depth(options.depth());
  check_channels("ResNetCifar", options.in_channels());
  const std::int64_t n = (options.depth() - 2) / 6;
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
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ResNetCifar");
}

torch::Tensor ResNetCifarImpl::compute_feature_map(const torch::Tensor& images) { return run_tapped(body_, images); }

std::shared_ptr<Encoder> ResNetCifarImpl::rebuild() const { return std::make_shared<ResNetCifarImpl>(options); }

// ---- VGG19 --------------------------------------------------------------------------------------

VGG19Impl::VGG19Impl(const VGG19Options& options_) try : Encoder("VGG19"), options(options_) {
  check_channels("VGG19", options.in_channels());
  constexpr std::int64_t kPool = 0;
  const std::int64_t cfg[] = {64,  64,  kPool, 128, 128, kPool, 256, 256, 256, 256, kPool,
                              512, 512, 512,   512, kPool, 512, 512, 512, 512, kPool};
  torch::nn::Sequential body;
  std::int64_t in = options.in_channels();
  for (const std::int64_t v : cfg) {
    if (v == kPool) {
      max_pool(body);
    } else {
      conv_bn_relu(body, in, v, /*bias=*/true);  // torchvision's VGG and the reference keep conv biases before BN
      in = v;
    }
  }
  body_ = register_module("body", body);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("VGG19");
}

torch::Tensor VGG19Impl::compute_feature_map(const torch::Tensor& images) { return run_tapped(body_, images); }

std::shared_ptr<Encoder> VGG19Impl::rebuild() const { return std::make_shared<VGG19Impl>(options); }

// ---- SmallCnn -----------------------------------------------------------------------------------

SmallCnnImpl::SmallCnnImpl(const SmallCnnOptions& options_) try : Encoder("SmallCnn"), options(options_) {
  check_channels("SmallCnn", options.in_channels());
  const std::int64_t w = options.width();
  if (w < 1 || w > 512) throw InvalidArgument(fmt::format("SmallCnn width must be in [1, 512], got {}", w));
  // Two convolutions before each pooling give the 28×28 stage a 5×5 receptive field at little cost;
  // the third stage runs at 7×7, where one convolution is enough before global pooling.
  torch::nn::Sequential body;
  conv_bn_relu(body, options.in_channels(), w, false);
  conv_bn_relu(body, w, w, false);
  max_pool(body);
  conv_bn_relu(body, w, 2 * w, false);
  conv_bn_relu(body, 2 * w, 2 * w, false);
  max_pool(body);
  conv_bn_relu(body, 2 * w, 4 * w, false);
  body_ = register_module("body", body);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("SmallCnn");
}

torch::Tensor SmallCnnImpl::compute_feature_map(const torch::Tensor& images) { return run_tapped(body_, images); }

std::shared_ptr<Encoder> SmallCnnImpl::rebuild() const { return std::make_shared<SmallCnnImpl>(options); }

// ---- factory ------------------------------------------------------------------------------------

std::shared_ptr<Encoder> make_encoder(const std::string& name, std::int64_t in_channels) try {
  detail::require_known_encoder(name);
  if (name == "vgg19") return std::make_shared<VGG19Impl>(VGG19Options().in_channels(in_channels));
  if (name == "small-cnn") return std::make_shared<SmallCnnImpl>(SmallCnnOptions().in_channels(in_channels));
  return std::make_shared<ResNetCifarImpl>(ResNetCifarOptions(std::stoll(name.substr(6))).in_channels(in_channels));  // resnet<6n+2>
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("make_encoder");
}

}  // namespace labelrep::models
