#include "labelrep/models/model.hpp"

#include <fmt/format.h>

#include "labelrep/core/error.hpp"

namespace labelrep::models {

ModelImpl::ModelImpl(std::shared_ptr<Encoder> encoder, std::shared_ptr<Decoder> decoder)
    : encoder_(std::move(encoder)), decoder_(std::move(decoder)) {
  if (!encoder_ || !decoder_) throw InvalidArgument("Model needs an encoder and a decoder");
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);
}

torch::Tensor ModelImpl::forward(const torch::Tensor& images) { return decoder_->forward(encoder_->forward(images)); }

torch::Tensor ModelImpl::features(const torch::Tensor& images) { return encoder_->forward(images); }

std::int64_t ModelImpl::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

namespace {
std::shared_ptr<Decoder> decoder_for(std::int64_t in_features, const std::vector<std::int64_t>& shape, bool categorical) {
  if (categorical) {
    if (shape.size() != 1) throw InvalidArgument("categorical labels must be vectors [C]");
    return std::make_shared<CategoryDecoder>(in_features, shape[0]);
  }
  if (shape.size() == 1) return std::make_shared<DenseDecoder>(in_features, shape[0]);
  if (shape.size() == 2 && shape[0] == shape[1]) return std::make_shared<LabelDecoder>(LabelDecoderOptions(in_features, shape[0]));
  std::string text;
  for (auto d : shape) text += (text.empty() ? "" : "x") + std::to_string(d);
  throw InvalidArgument(fmt::format("no decoder for labels of shape {} (vectors and square matrices are supported)", text));
}
}  // namespace

std::shared_ptr<Decoder> make_decoder(std::int64_t in_features, const labels::LabelRepresentation& labels) {
  return decoder_for(in_features, labels.label_shape(), labels.is_categorical());
}

Model make_model(const std::string& encoder, std::int64_t in_channels, const labels::LabelRepresentation& labels) {
  return make_model(encoder, in_channels, labels.label_shape(), labels.is_categorical());
}

Model make_model(const std::string& encoder, std::int64_t in_channels, const std::vector<std::int64_t>& label_shape, bool categorical) {
  auto enc = make_encoder(encoder, in_channels);
  auto dec = decoder_for(enc->feature_dim(), label_shape, categorical);
  return Model(std::move(enc), std::move(dec));
}

}  // namespace labelrep::models
