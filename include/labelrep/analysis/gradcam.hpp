#pragma once
/// \file gradcam.hpp  Grad-CAM (Selvaraju et al. 2017) for models trained on any label representation:
/// which parts of an image a layer of the encoder (by default its last convolutional stage) used for a class.
///
/// For a feature map A = encoder().feature_map(images) `[N, K, h, w]` (or, with GradCamOptions::layer,
/// the output of that layer, Encoder::feature_map_tapped), a scalar score s per image and its gradient
/// g = ∂s/∂A, the map is (GradCamOptions::method):
///   - Grad-CAM (Selvaraju et al. 2017, the default): ReLU(Σ_k w_k A_k), w_k = mean over (h, w) of g_k;
///   - Grad-CAM++ (Chattopadhay et al. 2018): the same with w_k = Σ_ij a_kij ReLU(g_kij),
///     a_kij = g²/(2g² + (Σ_ab A_kab)·g³) (0 where the denominator is 0): positive evidence from every
///     position counts, not only the average, which helps when a class shows in several places;
///   - HiResCAM (Draelos & Carin 2020): ReLU(Σ_k g_k ⊙ A_k), position by position: the map shows the
///     positions that raise the score. Every labelrep encoder ends in global average pooling, so at the
///     last stage g is the same at every position and HiResCAM equals Grad-CAM; it differs at an inner
///     layer (GradCamOptions::layer).
/// Each map is upsampled bilinearly to the image size and divided by its maximum (an all-zero map stays
/// zero), so every heatmap lies in [0, 1]. The score s is (GradCamOptions::score):
///   - CamScore::kMargin (the default): the decision margin, the class's score minus the best other
///     class's, with the scores the nearest-label decision uses (logits, or minus the mean squared error
///     to each label): one question, "what makes this the class and not its nearest rival", for every
///     label kind, so the maps of a speech-label and a categorical model answer the same question;
///   - CamScore::kLabel: the classic score: for categorical labels the class's logit (Selvaraju et al.);
///     for label matrices and vectors −(mean smooth L1, β = 1, between the output and the class's label),
///     the training loss negated. For label regression it is ill-posed: near a well-fitted label the
///     loss is flat (smooth L1's gradient vanishes as the output reaches the label), and on a model
///     whose evidence sits in a known patch its maps were mostly zero and no better than another
///     image's, where the margin's found the patch (tests/analysis/test_cam_faithfulness.cpp;
///     docs/visualisation.md, "Is the map faithful?").
///
/// The model is evaluated in eval mode (its previous mode is restored afterwards, also on error), and
/// gradients are enabled locally, so Grad-CAM works inside a torch::NoGradGuard. Only gradients with
/// respect to the feature map are taken (torch::autograd::grad): the parameters' `.grad` are untouched.
///
/// Example:
/// \code
///   auto heat = labelrep::analysis::grad_cam(model, batch.images, batch.targets, *labels);  // [N, H, W]
///   auto rgb = labelrep::analysis::gradcam_overlay(batch.images[0], heat[0]);              // [H', W', 3]
///   labelrep::analysis::write_gradcam_overlay("cam0.png", batch.images[0], heat[0]);
/// \endcode

#include <cstdint>
#include <string>
#include <torch/arg.h>
#include <torch/types.h>

#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/models/model.hpp"

namespace labelrep::analysis {

enum class CamMethod { kGradCam, kGradCamPlusPlus, kHiResCam };
enum class CamScore { kMargin, kLabel };

/// "gradcam", "gradcam++" or "hirescam".
LABELREP_API const char* cam_method_name(CamMethod method);
/// Parses cam_method_name()'s strings. Throws InvalidArgument naming the value and the known names.
LABELREP_API CamMethod parse_cam_method(const std::string& name);
/// "label" or "margin".
LABELREP_API const char* cam_score_name(CamScore score);
/// Parses cam_score_name()'s strings. Throws InvalidArgument naming the value and the known names.
LABELREP_API CamScore parse_cam_score(const std::string& name);

struct LABELREP_API GradCamOptions {
  /// Images per forward/backward pass (memory bound), ≥ 1.
  TORCH_ARG(std::int64_t, batch_size) = 64;
  /// The layer whose output is A: a qualified name from `model->encoder().layers()` (e.g. "body.3",
  /// "body.layer1_0.conv2"; `conv_layer_names()` lists the convolutions). Empty: the encoder's last
  /// convolutional stage (its feature map). Earlier layers have finer maps and smaller receptive fields.
  TORCH_ARG(std::string, layer) = "";
  /// How the gradient weighs the map (see above).
  TORCH_ARG(CamMethod, method) = CamMethod::kGradCam;
  /// Whose gradient: closeness to the class's label (or its logit), or the decision margin (see above).
  TORCH_ARG(CamScore, score) = CamScore::kMargin;
};

/// Grad-CAM heatmaps of `images` for the classes `class_ids`.
/// requires: images `[N, C, H, W]` floating point, prepared as the model was trained (normalised,
/// padded), on the model's device; class_ids `[N]` integer in [0, labels.num_classes()), any device;
/// the model's outputs have the labels' shape (`[N, C]` logits for categorical labels).
/// ensures: float32 `[N, H, W]` on the images' device, values in [0, 1]; the model's mode is unchanged.
/// throws: InvalidArgument naming the argument for other shapes, dtypes, ids or a model whose output
/// does not match the labels, and for a layer name the encoder does not have (listing its convolutions).
LABELREP_API torch::Tensor grad_cam(models::Model& model, const torch::Tensor& images, const torch::Tensor& class_ids,
                                    const labels::LabelRepresentation& labels, const GradCamOptions& options = {});

/// An RGB picture of a heatmap over an image: the image in grey (min-max scaled over the image, the
/// mean over its channels), blended with the heatmap in the viridis colour map:
/// (1 − alpha)·grey + alpha·viridis(heat). Small images are enlarged with nearest-neighbour pixels until
/// the shorter side is at least `min_side` (an integer factor).
/// requires: image `[C, H, W]` or `[H, W]` real, finite, with at least one pixel; heatmap `[H, W]` with
/// values in [0, 1] (clamped; NaN counts as 0);
/// alpha in [0, 1]; min_side in [1, 4096]. ensures: uint8 `[H·f, W·f, 3]` on the CPU.
/// throws: InvalidArgument for other shapes or values.
LABELREP_API torch::Tensor gradcam_overlay(const torch::Tensor& image, const torch::Tensor& heatmap, double alpha = 0.5,
                                           std::int64_t min_side = 128);

/// Writes gradcam_overlay(...) as a PNG, atomically. throws: as gradcam_overlay, IoError if the file
/// cannot be written.
LABELREP_API void write_gradcam_overlay(const std::string& path, const torch::Tensor& image, const torch::Tensor& heatmap,
                                        double alpha = 0.5, std::int64_t min_side = 128);

}  // namespace labelrep::analysis
