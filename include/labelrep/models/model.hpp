#pragma once
/// \file model.hpp  A classifier = an image encoder + a decoder for the label's shape.
///
/// Example:
/// \code
///   auto labels = labelrep::labels::make_labels(spec);
///   labelrep::models::Model model = labelrep::models::make_model("resnet32", /*in_channels=*/1, *labels);
///   torch::Tensor out = model(images);          // [N, 64, 64] for speech labels, [N, C] for category
///   torch::Tensor f = model->features(images);  // [N, 64], for t-SNE
/// \endcode
/// Model is a torch ModuleHolder: copying it aliases the same weights (as every torch module).

#include <cstdint>
#include <memory>
#include <string>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <vector>

#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/models/decoders.hpp"
#include "labelrep/models/encoders.hpp"

namespace labelrep::models {

class LABELREP_API ModelImpl : public torch::nn::Module {
 public:
  /// Throws InvalidArgument for a null part.
  ModelImpl(std::shared_ptr<Encoder> encoder, std::shared_ptr<Decoder> decoder);
  /// Images `[N, C, H, W]` → outputs `[N, ...decoder().output_shape()]`.
  torch::Tensor forward(const torch::Tensor& images);
  /// The encoder's feature vectors `[N, F]`.
  torch::Tensor features(const torch::Tensor& images);
  Encoder& encoder() { return *encoder_; }
  Decoder& decoder() { return *decoder_; }
  const std::shared_ptr<Encoder>& encoder_ptr() const noexcept { return encoder_; }
  /// Number of trainable parameters.
  std::int64_t parameter_count() const;

 private:
  std::shared_ptr<Encoder> encoder_;
  std::shared_ptr<Decoder> decoder_;
};
TORCH_MODULE(Model);

/// The decoder a label set needs: CategoryDecoder for categorical labels, LabelDecoder for square
/// matrices, DenseDecoder for vectors. Throws InvalidArgument for other shapes (e.g. non-square matrices).
LABELREP_API std::shared_ptr<Decoder> make_decoder(std::int64_t in_features, const labels::LabelRepresentation& labels);

/// make_encoder(encoder, in_channels) + make_decoder(...). Throws InvalidArgument for unknown names.
LABELREP_API Model make_model(const std::string& encoder, std::int64_t in_channels, const labels::LabelRepresentation& labels);

/// The same, from a label shape instead of a label set (categorical: shape {C}).
LABELREP_API Model make_model(const std::string& encoder, std::int64_t in_channels, const std::vector<std::int64_t>& label_shape,
                              bool categorical);

}  // namespace labelrep::models
