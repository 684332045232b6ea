#pragma once
/// \file model.hpp  A classifier = an image encoder + a decoder for the label's shape.
///
/// Build one by name (`make_model`, or `Model(ModelOptions(...))`), or compose your own from any
/// Encoder and Decoder (`Model(encoder, decoder)`).
///
/// Example:
/// \code
///   auto labels = labelrep::labels::make_labels(spec);
///   labelrep::models::Model model = labelrep::models::make_model("resnet32", /*in_channels=*/1, *labels);
///   torch::Tensor out = model(images);          // [N, 64, 64] for speech labels, [N, C] for category
///   torch::Tensor f = model->features(images);  // [N, 64], for t-SNE
///
///   // Grad-CAM: the last convolutional feature map, and the rest of the network from it.
///   torch::Tensor map = model->encoder().feature_map(images).detach().requires_grad_(true);
///   torch::Tensor y = model->forward_from_feature_map(map);
///
///   // Your own composition:
///   labelrep::models::Model mine(labelrep::models::SmallCnn(labelrep::models::SmallCnnOptions().width(16)).ptr(),
///                                labelrep::models::DenseDecoder(labelrep::models::DenseDecoderOptions(64, 50)).ptr());
///   labelrep::models::Model copy = labelrep::models::deep_copy(model);   // independent weights
/// \endcode
/// Model is a torch ModuleHolder: copying it aliases the same weights (as every torch module);
/// deep_copy() or `model->clone()` copies them.
///
/// The registered names are the checkpoint format: `encoder.<encoder's names>` and
/// `decoder.<decoder's names>`, e.g. `encoder.body.layer1_0.conv1.weight`, `decoder.up.0.weight`.

#include <cstdint>
#include <memory>
#include <string>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <vector>

#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/models/decoders.hpp"
#include "labelrep/models/encoders.hpp"

namespace labelrep::models {

/// What make_model builds. Example: `ModelOptions("resnet32", {64, 64}).in_channels(1)`.
struct LABELREP_API ModelOptions {
  ModelOptions(std::string encoder, std::vector<std::int64_t> label_shape)
      : encoder_(std::move(encoder)), label_shape_(std::move(label_shape)) {}
  /// An encoder name for make_encoder: "resnet<6n+2>", "vgg19", "small-cnn".
  TORCH_ARG(std::string, encoder);
  /// The shape of one label: {C} (with categorical: C classes), {S, S} or {D}.
  TORCH_ARG(std::vector<std::int64_t>, label_shape);
  TORCH_ARG(std::int64_t, in_channels) = 3;
  /// true: CategoryDecoder to C logits; false: LabelDecoder (square) or DenseDecoder (vector).
  TORCH_ARG(bool, categorical) = false;
};

class LABELREP_API ModelImpl : public torch::nn::Module {
 public:
  /// make_encoder(options.encoder(), options.in_channels()) + make_decoder(feature_dim, label_shape,
  /// categorical). throws: InvalidArgument as those do.
  explicit ModelImpl(const ModelOptions& options);
  /// Composes the two parts; they are registered as "encoder" and "decoder" and shared, not copied.
  /// throws: InvalidArgument for a null part or decoder->in_features() != encoder->feature_dim().
  ModelImpl(std::shared_ptr<Encoder> encoder, std::shared_ptr<Decoder> decoder);

  /// Images `[N, C, H, W]` → outputs `[N, ...decoder().output_shape()]`: `[N, C]` logits, `[N, S, S]`
  /// label matrices or `[N, D]` vectors. throws: InvalidArgument for images the encoder refuses.
  torch::Tensor forward(const torch::Tensor& images);
  /// The encoder's feature vectors `[N, F]` (t-SNE).
  torch::Tensor features(const torch::Tensor& images);
  /// The network after the last convolutional stage: decoder(encoder.pool(map)), for Grad-CAM.
  /// requires: map `[N, F, h, w]` as returned by encoder().feature_map().
  torch::Tensor forward_from_feature_map(const torch::Tensor& feature_map);

  Encoder& encoder() { return *encoder_; }
  const Encoder& encoder() const { return *encoder_; }
  Decoder& decoder() { return *decoder_; }
  const Decoder& decoder() const { return *decoder_; }
  const std::shared_ptr<Encoder>& encoder_ptr() const noexcept { return encoder_; }
  const std::shared_ptr<Decoder>& decoder_ptr() const noexcept { return decoder_; }
  /// Number of parameters (trainable or not; buffers such as BN running statistics are not counted).
  std::int64_t parameter_count() const;

  /// Deep copy: clones of the encoder and decoder, with their weights, buffers and modes. Throws as
  /// Encoder::clone.
  std::shared_ptr<torch::nn::Module> clone(const torch::optional<torch::Device>& device = torch::nullopt) const override;

 private:
  void clone_(torch::nn::Module& other, const torch::optional<torch::Device>& device) override;
  std::shared_ptr<Encoder> encoder_;
  std::shared_ptr<Decoder> decoder_;
};
TORCH_MODULE(Model);

/// Stores every 4-D parameter and buffer of `module` (and its submodules) in `format`, in place: the
/// tensors stay the same objects, so an optimizer built earlier still holds them. Convolutions follow
/// their weights' format, so inputs need not be converted. ChannelsLast trains ResNet-32 about 1.1–1.2×
/// faster on CPU with libtorch 1.13 (bench/run_train_bench.sh); Contiguous undoes it.
LABELREP_API void set_memory_format(torch::nn::Module& module, c10::MemoryFormat format);

/// A model with its own copy of every parameter and buffer, optionally on `device`.
LABELREP_API Model deep_copy(const Model& model, const torch::optional<torch::Device>& device = torch::nullopt);

/// The decoder for labels of one shape: CategoryDecoder when categorical (shape {C}), LabelDecoder for
/// square matrices {S, S}, DenseDecoder for vectors {D}.
/// throws: InvalidArgument for other shapes (e.g. non-square matrices) or sizes the decoders refuse.
LABELREP_API std::shared_ptr<Decoder> make_decoder(std::int64_t in_features, const std::vector<std::int64_t>& label_shape,
                                                   bool categorical);

/// The decoder a label set needs (its label_shape() and is_categorical()).
LABELREP_API std::shared_ptr<Decoder> make_decoder(std::int64_t in_features, const labels::LabelRepresentation& labels);

/// `decoder` wrapped in a StandardizedDecoder with the mean and (population) standard deviation of
/// all values of `labels`' class matrix, for `Model(encoder, standardize(decoder, labels))`. Requires:
/// regression labels (not categorical) whose shape is the decoder's output shape. Throws
/// InvalidArgument for a null decoder, categorical labels, another shape, or labels whose values are
/// all equal (nothing to standardize by).
LABELREP_API std::shared_ptr<Decoder> standardize(std::shared_ptr<Decoder> decoder, const labels::LabelRepresentation& labels);
/// make_encoder(encoder, in_channels) + make_decoder(...). Throws InvalidArgument for unknown names.
LABELREP_API Model make_model(const std::string& encoder, std::int64_t in_channels, const labels::LabelRepresentation& labels);

/// The same, from a label shape instead of a label set (categorical: shape {C}).
LABELREP_API Model make_model(const std::string& encoder, std::int64_t in_channels, const std::vector<std::int64_t>& label_shape,
                              bool categorical);

/// make_model with its initial weights drawn from `seed`: the same seed gives the same initial model.
/// libtorch's initialisers use its global generator, so this seeds it for the construction and then
/// restores its previous state: the caller's random stream is left as it was. Not safe while other
/// threads draw from the global CPU generator.
LABELREP_API Model make_model(const std::string& encoder, std::int64_t in_channels, const labels::LabelRepresentation& labels,
                              std::uint64_t seed);

}  // namespace labelrep::models
