#include "labelrep/models/model.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>


#include "labelrep/core/error.hpp"
#include "models/module_copy.hpp"
#include "core/boundary.hpp"

namespace labelrep::models {

namespace {
void check_parts(const std::shared_ptr<Encoder>& encoder, const std::shared_ptr<Decoder>& decoder) {
  if (!encoder || !decoder) throw InvalidArgument("Model needs an encoder and a decoder");
  if (decoder->in_features() != encoder->feature_dim())
    throw InvalidArgument(fmt::format("Model: the decoder takes {} features but the encoder gives {}", decoder->in_features(),
                                      encoder->feature_dim()));
}
}  // namespace

ModelImpl::ModelImpl(const ModelOptions& options) try : torch::nn::Module("Model") {
  auto encoder = make_encoder(options.encoder(), options.in_channels());
  auto decoder = make_decoder(encoder->feature_dim(), options.label_shape(), options.categorical());
  encoder_ = register_module("encoder", std::move(encoder));
  decoder_ = register_module("decoder", std::move(decoder));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Model");
}

ModelImpl::ModelImpl(std::shared_ptr<Encoder> encoder, std::shared_ptr<Decoder> decoder) try : torch::nn::Module("Model") {
  check_parts(encoder, decoder);
  encoder_ = register_module("encoder", std::move(encoder));
  decoder_ = register_module("decoder", std::move(decoder));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Model");
}

torch::Tensor ModelImpl::forward(const torch::Tensor& images) try {
  return decoder_->forward(encoder_->forward(images));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Model::forward");
}

torch::Tensor ModelImpl::features(const torch::Tensor& images) try {
  return encoder_->forward(images);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Model::features");
}

torch::Tensor ModelImpl::forward_from_feature_map(const torch::Tensor& feature_map) try {
  return decoder_->forward(encoder_->pool(feature_map));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Model::forward_from_feature_map");
}

std::int64_t ModelImpl::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

std::shared_ptr<torch::nn::Module> ModelImpl::clone(const torch::optional<torch::Device>& device) const try {
  auto copy = std::make_shared<ModelImpl>(std::dynamic_pointer_cast<Encoder>(encoder_->clone(device)),
                                          std::dynamic_pointer_cast<Decoder>(decoder_->clone(device)));
  detail::copy_modes(*this, *copy);
  return copy;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Model::clone");
}

void ModelImpl::clone_(torch::nn::Module& other, const torch::optional<torch::Device>& device) {
  auto* source = dynamic_cast<ModelImpl*>(&other);
  if (source == nullptr) throw InvalidArgument(fmt::format("Model: cannot clone a {} into a Model", other.name()));
  auto copy = std::dynamic_pointer_cast<ModelImpl>(source->clone(device));
  // A Cloneable parent's reset() built this model afresh, possibly with other parts than the source
  // (a composed model); take the copied parts in their place.
  encoder_ = replace_module("encoder", copy->encoder_);
  decoder_ = replace_module("decoder", copy->decoder_);
  detail::copy_modes(*source, *this);
}

void set_memory_format(torch::nn::Module& module, c10::MemoryFormat format) try {
  torch::NoGradGuard no_grad;
  for (auto& t : module.parameters())
    if (t.dim() == 4) t.set_data(t.data().contiguous(format));
  for (auto& t : module.buffers())
    if (t.dim() == 4) t.set_data(t.data().contiguous(format));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("set_memory_format");
}

Model deep_copy(const Model& model, const torch::optional<torch::Device>& device) try {
  return Model(std::dynamic_pointer_cast<ModelImpl>(model->clone(device)));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("deep_copy");
}

std::shared_ptr<Decoder> make_decoder(std::int64_t in_features, const std::vector<std::int64_t>& shape, bool categorical) try {
  if (categorical) {
    if (shape.size() != 1) throw InvalidArgument("categorical labels must be vectors [C]");
    return std::make_shared<CategoryDecoderImpl>(CategoryDecoderOptions(in_features, shape[0]));
  }
  if (shape.size() == 1) return std::make_shared<DenseDecoderImpl>(DenseDecoderOptions(in_features, shape[0]));
  if (shape.size() == 2 && shape[0] == shape[1]) return std::make_shared<LabelDecoderImpl>(LabelDecoderOptions(in_features, shape[0]));
  std::string text;
  for (auto d : shape) text += (text.empty() ? "" : "x") + std::to_string(d);
  throw InvalidArgument(fmt::format("no decoder for labels of shape [{}] (vectors and square matrices are supported)", text));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("make_decoder");
}

std::shared_ptr<Decoder> make_decoder(std::int64_t in_features, const labels::LabelRepresentation& labels) {
  return make_decoder(in_features, labels.label_shape(), labels.is_categorical());
}

std::shared_ptr<Decoder> standardize(std::shared_ptr<Decoder> decoder, const labels::LabelRepresentation& labels) try {
  if (!decoder) throw InvalidArgument("the decoder is null");
  if (labels.is_categorical())
    throw InvalidArgument(fmt::format("the {} labels are categorical: only regression labels can be standardized", labels.name()));
  if (decoder->output_shape() != labels.label_shape())
    throw InvalidArgument(fmt::format("the decoder's outputs have shape {} but the {} labels have shape {}",
                                      c10::str(c10::IntArrayRef(decoder->output_shape())), labels.name(),
                                      c10::str(c10::IntArrayRef(labels.label_shape()))));
  const auto values = labels.matrix().to(torch::kDouble);
  const double mean = values.mean().item<double>();
  const double deviation = (values - mean).pow(2).mean().sqrt().item<double>();  // the population's
  if (!(deviation > 0)) throw InvalidArgument(fmt::format("the {} labels' values are all equal: there is no scale to standardize by", labels.name()));
  return std::make_shared<StandardizedDecoderImpl>(std::move(decoder), mean, deviation);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("standardize");
}

Model make_model(const std::string& encoder, std::int64_t in_channels, const labels::LabelRepresentation& labels) {
  return make_model(encoder, in_channels, labels.label_shape(), labels.is_categorical());
}

Model make_model(const std::string& encoder, std::int64_t in_channels, const std::vector<std::int64_t>& label_shape, bool categorical) try {
  return Model(ModelOptions(encoder, label_shape).in_channels(in_channels).categorical(categorical));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("make_model");
}

Model make_model(const std::string& encoder, std::int64_t in_channels, const labels::LabelRepresentation& labels,
                 std::uint64_t seed) try {
  // No lock held here: the initialisers lock the generator themselves. Other threads drawing from the
  // global generator meanwhile would see the seeded stream (documented in the header).
  auto generator = at::detail::getDefaultCPUGenerator();
  const auto saved = generator.get_state();
  generator.set_current_seed(seed);
  struct Restore {
    at::Generator& generator;
    const at::Tensor& state;
    ~Restore() {
      try {
        generator.set_state(state);
      } catch (...) {  // a destructor must not throw; the state came from this generator, so this cannot fail
      }
    }
  } restore{generator, saved};
  return make_model(encoder, in_channels, labels);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("make_model");
}

}  // namespace labelrep::models
