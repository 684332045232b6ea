#include "labelrep/analysis/gradcam.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <optional>
#include <vector>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/labels/label_image.hpp"
#include "core/boundary.hpp"
#include "core/eval_mode_guard.hpp"
#include "eval/margin.hpp"

namespace labelrep::analysis {
namespace {

// The score whose gradient Grad-CAM takes, one per image: the decision margin, or the class logit, or
// minus the mean smooth L1 (β = 1) distance between the output and the class's label.
torch::Tensor class_scores(const torch::Tensor& outputs, const torch::Tensor& ids, const labels::LabelRepresentation& labels,
                           const std::optional<eval::NearestNeighborEvaluator>& margin_evaluator) {
  if (margin_evaluator) return detail::class_margins(*margin_evaluator, outputs, ids);
  if (labels.is_categorical()) return outputs.gather(1, ids.unsqueeze(1)).squeeze(1);
  const auto targets = labels.targets(ids).to(outputs.dtype());
  const auto diff = (outputs - targets).abs();
  const auto huber = torch::where(diff < 1.0, 0.5 * diff * diff, diff - 0.5);
  return -huber.flatten(1).mean(1);
}

// Σ_k (weights ⊙ A)_k before the ReLU, `[N, 1, h, w]`, for the feature map A and the score's gradient g.
torch::Tensor weighted_map(const torch::Tensor& map, const torch::Tensor& gradient, CamMethod method) {
  switch (method) {
    case CamMethod::kGradCam:
      return (gradient.mean({2, 3}, /*keepdim=*/true) * map).sum(1, /*keepdim=*/true);
    case CamMethod::kGradCamPlusPlus: {
      const auto g2 = gradient * gradient;
      const auto denominator = 2 * g2 + map.sum({2, 3}, /*keepdim=*/true) * g2 * gradient;
      // Where the denominator vanishes (g = 0, or a cancelling activation sum) the position adds nothing.
      const auto a = torch::where(denominator != 0, g2 / torch::where(denominator != 0, denominator, torch::ones_like(denominator)),
                                  torch::zeros_like(denominator));
      const auto weights = (a * torch::relu(gradient)).sum({2, 3}, /*keepdim=*/true);
      return (weights * map).sum(1, /*keepdim=*/true);
    }
    case CamMethod::kHiResCam:
      return (gradient * map).sum(1, /*keepdim=*/true);
  }
  throw InvalidArgument("grad_cam: unknown method");
}

}  // namespace

const char* cam_method_name(CamMethod method) {
  switch (method) {
    case CamMethod::kGradCam: return "gradcam";
    case CamMethod::kGradCamPlusPlus: return "gradcam++";
    case CamMethod::kHiResCam: return "hirescam";
  }
  return "unknown";
}

const char* cam_score_name(CamScore score) {
  switch (score) {
    case CamScore::kLabel: return "label";
    case CamScore::kMargin: return "margin";
  }
  return "unknown";
}

CamScore parse_cam_score(const std::string& name) {
  for (const auto score : {CamScore::kMargin, CamScore::kLabel})
    if (name == cam_score_name(score)) return score;
  throw InvalidArgument(fmt::format("unknown Grad-CAM score '{}' (expected margin or label)", name));
}

CamMethod parse_cam_method(const std::string& name) {
  for (const auto method : {CamMethod::kGradCam, CamMethod::kGradCamPlusPlus, CamMethod::kHiResCam})
    if (name == cam_method_name(method)) return method;
  throw InvalidArgument(fmt::format("unknown Grad-CAM method '{}' (expected gradcam, gradcam++ or hirescam)", name));
}

torch::Tensor grad_cam(models::Model& model, const torch::Tensor& images, const torch::Tensor& class_ids,
                       const labels::LabelRepresentation& labels, const GradCamOptions& options) try {
  if (model.is_empty()) throw InvalidArgument("grad_cam: model is empty");
  if (options.batch_size() < 1) throw InvalidArgument(fmt::format("grad_cam: batch_size {} must be at least 1", options.batch_size()));
  if (options.method() != CamMethod::kGradCam && options.method() != CamMethod::kGradCamPlusPlus && options.method() != CamMethod::kHiResCam)
    throw InvalidArgument(fmt::format("grad_cam: unknown method {}", static_cast<int>(options.method())));
  if (options.score() != CamScore::kLabel && options.score() != CamScore::kMargin)
    throw InvalidArgument(fmt::format("grad_cam: unknown score {}", static_cast<int>(options.score())));
  if (!images.defined() || images.dim() != 4 || !torch::isFloatingType(images.scalar_type()))
    throw InvalidArgument("grad_cam: images must be a floating-point tensor [N, C, H, W]");
  const std::int64_t n = images.size(0), height = images.size(2), width = images.size(3);
  if (!class_ids.defined() || class_ids.dim() != 1 || class_ids.size(0) != n || torch::isFloatingType(class_ids.scalar_type()) ||
      class_ids.scalar_type() == torch::kBool)
    throw InvalidArgument(fmt::format("grad_cam: class_ids must be an integer tensor [{}] (one class per image)", n));
  if (n > 0) {
    const auto low = class_ids.min().item<std::int64_t>(), high = class_ids.max().item<std::int64_t>();
    if (low < 0 || high >= labels.num_classes())
      throw InvalidArgument(fmt::format("grad_cam: class_ids must be in [0, {}), got {}", labels.num_classes(), low < 0 ? low : high));
  }
  std::vector<std::int64_t> expected{0};
  for (auto s : labels.label_shape()) expected.push_back(s);

  std::optional<eval::NearestNeighborEvaluator> margin_evaluator;
  // The margin decides as the evaluator does; it borrows the labels for this call only (an owner-less
  // pointer).
  if (options.score() == CamScore::kMargin) {
    if (labels.num_classes() < 2) throw InvalidArgument("grad_cam: the margin score needs at least two classes");
    margin_evaluator.emplace(std::shared_ptr<const labels::LabelRepresentation>(std::shared_ptr<void>(), &labels));
  }
  torch::AutoGradMode enable_grad(true);
  detail::EvalModeGuard eval_mode(*model);
  std::vector<torch::Tensor> parts;
  for (std::int64_t begin = 0; begin < n; begin += options.batch_size()) {
    const std::int64_t end = std::min(n, begin + options.batch_size());
    auto x = images.slice(0, begin, end).detach();
    const auto ids = class_ids.slice(0, begin, end).to(x.device(), torch::kLong);
    torch::Tensor map, outputs;
    if (options.layer().empty()) {
      {
        torch::NoGradGuard no_grad;  // nothing below the feature map needs a graph
        map = model->encoder().feature_map(x);
      }
      map = map.detach().requires_grad_(true);
      outputs = model->forward_from_feature_map(map);
    } else {
      // The layer's output is an inner node of the graph; autograd::grad w.r.t. it leaves the
      // parameters' .grad untouched.
      auto tapped = model->encoder().feature_map_tapped(x.requires_grad_(true), options.layer());
      map = tapped.layer_output;
      outputs = model->forward_from_feature_map(tapped.feature_map);
    }
    expected[0] = end - begin;
    if (outputs.sizes().vec() != expected)
      throw InvalidArgument(fmt::format("grad_cam: the model outputs [{}] but the {} labels need [{}]", fmt::join(outputs.sizes(), ", "),
                                        labels.name(), fmt::join(expected, ", ")));
    const auto score = class_scores(outputs, ids, labels, margin_evaluator).sum();
    auto gradient = torch::autograd::grad({score}, {map}, /*grad_outputs=*/{}, /*retain_graph=*/false, /*create_graph=*/false,
                                          /*allow_unused=*/true)[0];
    if (!gradient.defined()) gradient = torch::zeros_like(map);  // a layer the score does not depend on
    auto cam = torch::relu(weighted_map(map.detach(), gradient, options.method())).to(torch::kFloat32);
    cam = torch::upsample_bilinear2d(cam, {height, width}, /*align_corners=*/false).squeeze(1).clamp_min(0.0);
    const auto peak = cam.amax({1, 2}, /*keepdim=*/true);
    cam = torch::where(peak > 0, cam / peak.clamp_min(1e-30), torch::zeros_like(cam)).clamp(0.0, 1.0);
    parts.push_back(cam.detach());
  }
  if (parts.empty()) return torch::zeros({0, height, width}, images.options().dtype(torch::kFloat32));
  return torch::cat(parts, 0);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("grad_cam");
}

torch::Tensor gradcam_overlay(const torch::Tensor& image, const torch::Tensor& heatmap, double alpha, std::int64_t min_side) try {
  if (!image.defined() || (image.dim() != 2 && image.dim() != 3) || image.scalar_type() == torch::kBool || image.is_complex())
    throw InvalidArgument("gradcam_overlay: image must be a real tensor [C, H, W] or [H, W]");
  const auto img = image.detach().to(torch::kCPU, torch::kFloat64);
  if (img.numel() == 0) throw InvalidArgument(fmt::format("gradcam_overlay: image [{}] has no pixels", fmt::join(image.sizes(), ", ")));
  if (!torch::isfinite(img).all().item<bool>()) throw InvalidArgument("gradcam_overlay: image values must be finite (found NaN or infinity)");
  const auto grey = image.dim() == 3 ? img.mean(0) : img;
  if (!heatmap.defined() || heatmap.dim() != 2 || heatmap.sizes() != grey.sizes())
    throw InvalidArgument(fmt::format("gradcam_overlay: heatmap must be [{}], the image's height and width", fmt::join(grey.sizes(), ", ")));
  if (!(alpha >= 0.0 && alpha <= 1.0)) throw InvalidArgument(fmt::format("gradcam_overlay: alpha {} must be in [0, 1]", alpha));
  // Bounded: the overlay is built in float64 at the enlarged size (4096² × 3 values is 400 MB).
  if (min_side < 1 || min_side > 4096) throw InvalidArgument(fmt::format("gradcam_overlay: min_side {} must be in [1, 4096]", min_side));
  const double low = grey.min().item<double>(), high = grey.max().item<double>();
  const auto unit = high > low ? (grey - low) / (high - low) : torch::full_like(grey, 0.5);
  const auto heat = heatmap.detach().to(torch::kCPU, torch::kFloat64).nan_to_num(0.0).clamp(0.0, 1.0);
  const auto colour = labels::viridis(heat).to(torch::kFloat64) / 255.0;
  auto rgb = (1.0 - alpha) * unit.unsqueeze(-1) + alpha * colour;
  const std::int64_t side = std::min(grey.size(0), grey.size(1));
  const std::int64_t factor = side >= min_side ? 1 : (min_side + side - 1) / side;
  if (factor > 1) rgb = rgb.repeat_interleave(factor, 0).repeat_interleave(factor, 1);
  return (rgb * 255.0).round().clamp(0, 255).to(torch::kUInt8).contiguous();
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("gradcam_overlay");
}

void write_gradcam_overlay(const std::string& path, const torch::Tensor& image, const torch::Tensor& heatmap, double alpha,
                           std::int64_t min_side) try {
  write_file_atomically(path, labels::encode_png(gradcam_overlay(image, heatmap, alpha, min_side)));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("write_gradcam_overlay");
}

}  // namespace labelrep::analysis
