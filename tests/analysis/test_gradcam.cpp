// Grad-CAM: a planted discriminative region is where the heat is, for a category and a label model.
#include "catch.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "labelrep/analysis/gradcam.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/loss.hpp"
#include "planted_patch.hpp"
#include "support.hpp"

using labelrep_test::kLeft;
using labelrep_test::kPatch;
using labelrep_test::kSide;
using labelrep_test::kTop;
using labelrep_test::planted;
using labelrep_test::region_mask;
using labelrep_test::train_planted;

CATCH_TEST_CASE("grad_cam finds the planted region for category and composite-label models", "[analysis]") {
  using namespace labelrep;
  std::vector<std::shared_ptr<const labels::LabelRepresentation>> sets{
      std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(2)),
      std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(2).size(16))};
  for (const auto& labels : sets) {
    CATCH_INFO(labels->name() << " labels");
    torch::manual_seed(1);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
    models::Model model(models::SmallCnn(models::SmallCnnOptions().in_channels(1).width(8)).ptr(),
                        models::make_decoder(32, *labels));
    const double accuracy = train_planted(model, labels, gen);
    CATCH_INFO("test accuracy " << accuracy);
    CATCH_REQUIRE(accuracy >= 0.95);

    const auto [images, ids] = planted(64, gen);
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    model->train();  // Grad-CAM switches to eval mode and back
    torch::NoGradGuard no_grad;  // and enables gradients itself
    const auto heat = analysis::grad_cam(model, images, ids, *labels, analysis::GradCamOptions().batch_size(24));
    CATCH_CHECK(model->is_training());
    CATCH_REQUIRE(heat.sizes() == torch::IntArrayRef({64, kSide, kSide}));
    CATCH_CHECK(heat.dtype() == torch::kFloat32);
    CATCH_CHECK(heat.min().item<double>() >= 0.0);
    CATCH_CHECK(heat.max().item<double>() <= 1.0);
    for (const auto& p : model->parameters()) CATCH_CHECK_FALSE(p.grad().defined());  // only the map's gradient was taken

    const auto mask = region_mask();
    const double inside = heat.index({torch::indexing::Slice(), mask}).mean().item<double>();
    const double outside = heat.index({torch::indexing::Slice(), ~mask}).mean().item<double>();
    CATCH_INFO("mean heat inside the patch " << inside << ", outside " << outside);
    CATCH_CHECK(inside > 2.0 * outside);
    // Per image, the hottest pixel lies in the patch or within one map cell (4 pixels) of it.
    const auto peak = heat.flatten(1).argmax(1);
    const auto row = torch::div(peak, kSide, "floor"), col = peak % kSide;
    const auto near = (row >= kTop - 4) & (row < kTop + kPatch + 4) & (col >= kLeft - 4) & (col < kLeft + kPatch + 4);
    CATCH_CHECK(near.to(torch::kFloat64).mean().item<double>() >= 0.9);

    // Grad-CAM++ and HiResCAM find the patch too.
    for (const auto method : {analysis::CamMethod::kGradCamPlusPlus, analysis::CamMethod::kHiResCam}) {
      CATCH_INFO("method " << analysis::cam_method_name(method));
      const auto other = analysis::grad_cam(model, images, ids, *labels, analysis::GradCamOptions().method(method));
      CATCH_REQUIRE(other.sizes() == heat.sizes());
      CATCH_CHECK(other.min().item<double>() >= 0.0);
      CATCH_CHECK(other.max().item<double>() <= 1.0);
      const double other_inside = other.index({torch::indexing::Slice(), mask}).mean().item<double>();
      const double other_outside = other.index({torch::indexing::Slice(), ~mask}).mean().item<double>();
      CATCH_INFO("mean heat inside the patch " << other_inside << ", outside " << other_outside);
      CATCH_CHECK(other_inside > 2.0 * other_outside);
    }

    // An early layer: the second convolution (32×32 map, 5-pixel receptive field) finds the patch too.
    for (const std::string layer : {"body.3", "body.5"}) {
      CATCH_INFO("layer " << layer);
      const auto early = analysis::grad_cam(model, images, ids, *labels, analysis::GradCamOptions().layer(layer));
      CATCH_REQUIRE(early.sizes() == torch::IntArrayRef({64, kSide, kSide}));
      for (const auto& p : model->parameters()) CATCH_CHECK_FALSE(p.grad().defined());
      const double early_inside = early.index({torch::indexing::Slice(), mask}).mean().item<double>();
      const double early_outside = early.index({torch::indexing::Slice(), ~mask}).mean().item<double>();
      CATCH_INFO("mean heat inside the patch " << early_inside << ", outside " << early_outside);
      CATCH_CHECK(early_inside > 2.0 * early_outside);
    }
    CATCH_CHECK(model->is_training());

    labelrep_test::TempDir dir;
    analysis::write_gradcam_overlay(dir.file("cam.png"), images[0], heat[0]);
    std::ifstream png(dir.file("cam.png"), std::ios::binary);
    std::string magic(8, '\0');
    png.read(magic.data(), 8);
    CATCH_CHECK(magic == "\x89PNG\r\n\x1a\n");
  }
}

CATCH_TEST_CASE("Grad-CAM, Grad-CAM++ and HiResCAM of the label score and of the margin are their formulas, written out position by position", "[analysis]") {
  using namespace labelrep;
  for (const bool categorical : {true, false}) {
    std::shared_ptr<const labels::LabelRepresentation> labels;
    if (categorical) labels = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(3));
    else labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(3).size(8));
    CATCH_INFO(labels->name() << " labels");
    torch::manual_seed(5);
    models::Model model(models::SmallCnn(models::SmallCnnOptions().in_channels(1).width(4)).ptr(), models::make_decoder(16, *labels));
    model->eval();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(6);
    const auto images = torch::randn({3, 1, 16, 16}, gen, torch::kFloat32);
    const auto ids = torch::tensor({0, 2, 1}, torch::kLong);
    // The feature map A, the score and its gradient g, by hand.
    torch::Tensor map;
    {
      torch::NoGradGuard no_grad;
      map = model->encoder().feature_map(images);
    }
    map = map.detach().requires_grad_(true);
    const auto outputs = model->forward_from_feature_map(map);
    for (const auto score_kind : {analysis::CamScore::kLabel, analysis::CamScore::kMargin}) {
    CATCH_INFO("score " << analysis::cam_score_name(score_kind));
    torch::Tensor score;
    if (score_kind == analysis::CamScore::kLabel) {
      score = categorical ? outputs.gather(1, ids.unsqueeze(1)).squeeze(1)
                          : -torch::smooth_l1_loss(outputs, labels->targets(ids), torch::Reduction::None).flatten(1).mean(1);
    } else {
      // The class's score minus the best other class's: logits, or minus the mean squared error to
      // each class's label.
      const auto scores = categorical ? outputs
                                      : -(outputs.unsqueeze(1) - labels->targets(torch::arange(3)).unsqueeze(0)).pow(2).flatten(2).mean(2);
      const auto own = scores.gather(1, ids.unsqueeze(1)).squeeze(1);
      const auto others = scores.masked_fill(torch::nn::functional::one_hot(ids, 3).to(torch::kBool), -1e30).amax(1);
      score = own - others;
    }
    const auto gradient = torch::autograd::grad({score.sum()}, {map}, {}, /*retain_graph=*/true)[0].to(torch::kFloat64);
    const auto a = map.detach().to(torch::kFloat64);
    const auto K = a.size(1), h = a.size(2), w = a.size(3);
    for (const auto method : {analysis::CamMethod::kGradCam, analysis::CamMethod::kGradCamPlusPlus, analysis::CamMethod::kHiResCam}) {
      CATCH_INFO("method " << analysis::cam_method_name(method));
      auto expected = torch::zeros({3, 1, h, w}, torch::kFloat64);
      for (std::int64_t n = 0; n < 3; ++n) {
        for (std::int64_t k = 0; k < K; ++k) {
          double mean_g = 0, activation_sum = 0, plus_plus = 0;
          for (std::int64_t i = 0; i < h; ++i)
            for (std::int64_t j = 0; j < w; ++j) {
              const double g = gradient[n][k][i][j].item<double>();
              mean_g += g / static_cast<double>(h * w);
              activation_sum += a[n][k][i][j].item<double>();
            }
          for (std::int64_t i = 0; i < h; ++i)
            for (std::int64_t j = 0; j < w; ++j) {
              const double g = gradient[n][k][i][j].item<double>();
              const double denominator = 2 * g * g + activation_sum * g * g * g;
              if (denominator != 0) plus_plus += g * g / denominator * std::max(g, 0.0);
            }
          for (std::int64_t i = 0; i < h; ++i)
            for (std::int64_t j = 0; j < w; ++j) {
              const double weight = method == analysis::CamMethod::kGradCam         ? mean_g
                                    : method == analysis::CamMethod::kGradCamPlusPlus ? plus_plus
                                                                                      : gradient[n][k][i][j].item<double>();
              expected[n][0][i][j] += weight * a[n][k][i][j].item<double>();
            }
        }
      }
      auto cam = torch::upsample_bilinear2d(torch::relu(expected).to(torch::kFloat32), {16, 16}, false).squeeze(1).clamp_min(0.0);
      const auto peak = cam.amax({1, 2}, true);
      cam = torch::where(peak > 0, cam / peak.clamp_min(1e-30), torch::zeros_like(cam));
      const auto heat = analysis::grad_cam(model, images, ids, *labels, analysis::GradCamOptions().method(method).score(score_kind));
      CATCH_CHECK((heat - cam).abs().max().item<double>() < 1e-4);
      // Most maps are not all zero, so the comparison means something (an untrained model's margin map
      // may be zero for an image).
      CATCH_CHECK((peak > 0).sum().item<std::int64_t>() >= 2);
    }
    }
    // The encoders end in global average pooling, so at their last stage g is the same at every position
    // and HiResCAM is Grad-CAM; at an inner layer (--layer) it is not.
    const auto cam = [&](analysis::CamMethod method, const std::string& layer) {
      return analysis::grad_cam(model, images, ids, *labels, analysis::GradCamOptions().method(method).layer(layer));
    };
    CATCH_CHECK((cam(analysis::CamMethod::kHiResCam, "") - cam(analysis::CamMethod::kGradCam, "")).abs().max().item<double>() < 1e-5);
    CATCH_CHECK((cam(analysis::CamMethod::kHiResCam, "body.3") - cam(analysis::CamMethod::kGradCam, "body.3")).abs().max().item<double>() > 1e-2);
  }
  CATCH_CHECK(analysis::parse_cam_method("gradcam++") == analysis::CamMethod::kGradCamPlusPlus);
  CATCH_CHECK(std::string(analysis::cam_method_name(analysis::CamMethod::kHiResCam)) == "hirescam");
  CATCH_CHECK(analysis::parse_cam_score("label") == analysis::CamScore::kLabel);
  CATCH_CHECK(std::string(analysis::cam_score_name(analysis::CamScore::kMargin)) == "margin");
  CATCH_CHECK(analysis::GradCamOptions().score() == analysis::CamScore::kMargin);
  labelrep_test::check_throws_with<labelrep::InvalidArgument>([] { analysis::parse_cam_score("loss"); }, "'loss'");
  labelrep_test::check_throws_with<labelrep::InvalidArgument>([] { analysis::parse_cam_method("scorecam"); }, "'scorecam'");
}

CATCH_TEST_CASE("grad_cam and gradcam_overlay check their arguments", "[analysis]") {
  using namespace labelrep;
  torch::manual_seed(3);
  const labels::CategoryLabels category(labels::CategoryLabelsOptions(3));
  const labels::CompositeLabels composite(labels::CompositeLabelsOptions(3).size(8));
  models::Model model(models::SmallCnn(models::SmallCnnOptions().in_channels(1).width(4)).ptr(), models::make_decoder(16, category));
  const auto images = torch::randn({2, 1, 12, 12});
  CATCH_CHECK(analysis::grad_cam(model, images, torch::tensor({0, 2}), category).sizes() == torch::IntArrayRef({2, 12, 12}));
  CATCH_CHECK_THROWS_AS(analysis::grad_cam(model, images, torch::tensor({0, 3}), category), InvalidArgument);
  CATCH_CHECK_THROWS_AS(analysis::grad_cam(model, images, torch::tensor({0}), category), InvalidArgument);
  CATCH_CHECK_THROWS_AS(analysis::grad_cam(model, images, torch::tensor({0.0, 1.0}), category), InvalidArgument);
  CATCH_CHECK_THROWS_AS(analysis::grad_cam(model, images[0], torch::tensor({0}), category), InvalidArgument);
  CATCH_CHECK_THROWS_AS(analysis::grad_cam(model, images, torch::tensor({0, 1}), composite), InvalidArgument);  // [N,3] vs [N,8,8]
  CATCH_CHECK_THROWS_AS(analysis::grad_cam(model, images, torch::tensor({0, 1}), category, analysis::GradCamOptions().batch_size(0)),
                        InvalidArgument);
  try {
    analysis::grad_cam(model, images, torch::tensor({0, 2}), category, analysis::GradCamOptions().layer("body.99"));
    CATCH_FAIL("an unknown layer was accepted");
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("body.99") != std::string::npos);
    CATCH_CHECK(std::string(e.what()).find("body.0, body.3, body.7, body.10, body.14") != std::string::npos);
  }
  CATCH_CHECK(model->is_training());  // restored after the errors, too

  // Overlay: grey image + viridis; small images enlarged by an integer factor.
  const auto heat = torch::zeros({12, 12});
  const auto rgb = analysis::gradcam_overlay(images[0], heat, 0.5, 100);
  CATCH_CHECK(rgb.sizes() == torch::IntArrayRef({108, 108, 3}));
  CATCH_CHECK(rgb.dtype() == torch::kUInt8);
  const auto pure = analysis::gradcam_overlay(images[0], torch::ones({12, 12}), 1.0, 1);
  CATCH_CHECK(torch::equal(pure[0][0], pure[5][7]));  // alpha 1, heat 1 everywhere: one colour
  const auto grey = analysis::gradcam_overlay(torch::linspace(0, 1, 4).view({1, 2, 2}), torch::zeros({2, 2}), 0.0, 1);
  CATCH_CHECK(grey[1][1][0].item<int>() == 255);
  CATCH_CHECK(grey[0][0][0].item<int>() == 0);
  CATCH_CHECK_THROWS_AS(analysis::gradcam_overlay(images[0], torch::zeros({11, 12})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(analysis::gradcam_overlay(images[0], heat, 1.5), InvalidArgument);
  labelrep_test::check_throws_with<InvalidArgument>([] { analysis::gradcam_overlay(torch::zeros({1, 0, 4}), torch::zeros({0, 4})); },
                                                    "has no pixels");
  auto nan_image = images[0].clone();
  nan_image[0][3][3] = std::nan("");
  labelrep_test::check_throws_with<InvalidArgument>([&] { analysis::gradcam_overlay(nan_image, heat); }, "must be finite");
}
