// The paper's recipe and schedule, and the loss chosen from the labels.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>

#include "labelrep/core/error.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/train/loss.hpp"
#include "labelrep/train/recipe.hpp"
#include "support.hpp"

using namespace labelrep;

CATCH_TEST_CASE("paper recipe: SGD 0.1, momentum 0.9, decay at 50 and 75 percent", "[train]") {
  const auto speech = train::paper_recipe("resnet32", false);
  CATCH_CHECK(speech.epochs() == 600);
  CATCH_CHECK(speech.weight_decay() == 1e-4);
  CATCH_CHECK(train::paper_recipe("vgg19", true).weight_decay() == 5e-4);
  CATCH_CHECK(train::paper_recipe("vgg19", false).weight_decay() == 1e-4);
  const auto r = train::paper_recipe("resnet32", true);  // 200 epochs
  CATCH_CHECK(r.epochs() == 200);
  CATCH_CHECK(train::learning_rate_at(r, 0) == labelrep_test::Approx(0.1));
  CATCH_CHECK(train::learning_rate_at(r, 99.9) == labelrep_test::Approx(0.1));
  CATCH_CHECK(train::learning_rate_at(r, 100) == labelrep_test::Approx(0.01));
  CATCH_CHECK(train::learning_rate_at(r, 149) == labelrep_test::Approx(0.01));
  CATCH_CHECK(train::learning_rate_at(r, 150) == labelrep_test::Approx(0.001));
  const auto warm = train::TrainingRecipe().epochs(10).warmup_epochs(2);
  CATCH_CHECK(train::learning_rate_at(warm, 0) == labelrep_test::Approx(0.01));
  CATCH_CHECK(train::learning_rate_at(warm, 1) == labelrep_test::Approx(0.055));
  CATCH_CHECK(train::learning_rate_at(warm, 2) == labelrep_test::Approx(0.1));
  CATCH_CHECK_NOTHROW(r.validate());
  CATCH_CHECK_THROWS_AS(train::TrainingRecipe().learning_rate(-1).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::TrainingRecipe().milestones({1.5}).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::TrainingRecipe().batch_size(0).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::TrainingRecipe().momentum(1.0).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::TrainingRecipe().weight_decay(INFINITY).validate(), InvalidArgument);
  // A recipe that would give NaN rates is refused where the rate is asked for.
  const auto no_rise = train::TrainingRecipe().schedule(train::Schedule::kOneCycle).one_cycle_rise(1);
  CATCH_CHECK_THROWS_AS(train::learning_rate_at(no_rise, 0.5), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::momentum_at(no_rise, 0.5), InvalidArgument);
}

CATCH_TEST_CASE("the loss follows the labels: cross-entropy for categories, smooth L1 otherwise", "[train]") {
  const labels::CategoryLabels category(labels::CategoryLabelsOptions(3));
  const labels::UniformLabels uniform(labels::UniformLabelsOptions(3).height(2).width(2).seed(3));
  CATCH_CHECK(train::default_loss(category) == train::LossKind::kCrossEntropy);
  CATCH_CHECK(train::default_loss(uniform) == train::LossKind::kSmoothL1);
  const auto logits = torch::tensor({{2.0f, 0.0f, -1.0f}, {0.0f, 0.5f, 0.0f}});
  const auto ids = torch::tensor({0, 2}, torch::kLong);
  CATCH_CHECK(train::label_loss(logits, ids, category).item<float>() ==
              labelrep_test::Approx(torch::nll_loss(torch::log_softmax(logits, 1), ids).item<float>()));
  // Smoothing: the loss is against the smoothed rows.
  const labels::CategoryLabels smooth(labels::CategoryLabelsOptions(3).smoothing(0.3));
  const auto expected = -(smooth.targets(ids) * torch::log_softmax(logits, 1)).sum(1).mean();
  CATCH_CHECK(train::label_loss(logits, ids, smooth).item<float>() == labelrep_test::Approx(expected.item<float>()));
  // Smooth L1 by hand: |d| < 1 → d²/2, else |d| − 1/2.
  const auto outputs = uniform.targets(ids) + torch::tensor({0.5f, -2.0f, 0.0f, 0.0f}).view({1, 2, 2});
  CATCH_CHECK(train::label_loss(outputs, ids, uniform).item<float>() == labelrep_test::Approx((0.125 + 1.5) / 4.0));
  CATCH_CHECK(train::label_loss(outputs, ids, uniform, train::LossKind::kMse).item<float>() == labelrep_test::Approx((0.25 + 4.0) / 4.0));
  CATCH_CHECK(train::parse_loss("smooth-l1") == train::LossKind::kSmoothL1);
  CATCH_CHECK_THROWS_AS(train::parse_loss("huber"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::label_loss(torch::zeros({2, 3, 3}), ids, uniform), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::label_loss(outputs, torch::tensor({0, 1, 2}, torch::kLong), uniform), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::label_loss(outputs, torch::tensor({0, 3}, torch::kLong), uniform), InvalidArgument);
  labelrep_test::check_throws_with<InvalidArgument>(  // the mean of no losses would be NaN
      [&] { train::label_loss(outputs.slice(0, 0, 0), torch::empty({0}, torch::kLong), uniform); }, "empty batch");
}

CATCH_TEST_CASE("per-image losses: each image's own, whose mean is the batch loss", "[train]") {
  const labels::CategoryLabels category(labels::CategoryLabelsOptions(3).smoothing(0.1));
  const labels::UniformLabels uniform(labels::UniformLabelsOptions(3).height(2).width(2).seed(3));
  const auto ids = torch::tensor({0, 2}, torch::kLong);
  // Smooth L1 by hand, image by image: image 0 is off by (0.5, -2, 0, 0), image 1 by (0, 0, 3, 0.2).
  const auto offsets = torch::tensor({0.5f, -2.0f, 0.0f, 0.0f, 0.0f, 0.0f, 3.0f, 0.2f}).view({2, 2, 2});
  const auto outputs = uniform.targets(ids) + offsets;
  const auto smooth_l1 = train::per_image_label_loss(outputs, ids, uniform);
  CATCH_REQUIRE(smooth_l1.sizes() == torch::IntArrayRef({2}));
  CATCH_CHECK(smooth_l1[0].item<float>() == labelrep_test::Approx((0.125 + 1.5) / 4.0));
  CATCH_CHECK(smooth_l1[1].item<float>() == labelrep_test::Approx((2.5 + 0.02) / 4.0));
  CATCH_CHECK(smooth_l1.mean().item<float>() == labelrep_test::Approx(train::label_loss(outputs, ids, uniform).item<float>()));
  const auto mse = train::per_image_label_loss(outputs, ids, uniform, train::LossKind::kMse);
  CATCH_CHECK(mse[1].item<float>() == labelrep_test::Approx((9.0 + 0.04) / 4.0));
  // A scale divides the differences before the loss (a standardized model's).
  const auto scaled = train::per_image_label_loss(outputs, ids, uniform, train::LossKind::kMse, torch::tensor(2.0f));
  CATCH_CHECK(scaled[1].item<float>() == labelrep_test::Approx((2.25 + 0.01) / 4.0));
  const auto logits = torch::tensor({{2.0f, 0.0f, -1.0f}, {0.0f, 0.5f, 0.0f}});
  const auto cross_entropy = train::per_image_label_loss(logits, ids, category);
  const auto by_hand = -(category.targets(ids) * torch::log_softmax(logits, 1)).sum(1);
  CATCH_CHECK(torch::allclose(cross_entropy, by_hand));
  CATCH_CHECK(cross_entropy.mean().item<float>() == labelrep_test::Approx(train::label_loss(logits, ids, category).item<float>()));
  // The checks are label_loss's, under this function's name.
  labelrep_test::check_throws_with<InvalidArgument>([&] { train::per_image_label_loss(outputs, torch::tensor({0, 3}, torch::kLong), uniform); },
                                                    "3");
  labelrep_test::check_throws_with<InvalidArgument>([&] { train::per_image_label_loss(torch::zeros({2, 3, 3}), ids, uniform); },
                                                    "per_image_label_loss");
  // No images: no mean loss, but an empty list of per-image losses, for every loss kind.
  const auto none = torch::zeros({0}, torch::kLong);
  CATCH_CHECK(train::per_image_label_loss(torch::zeros({0, 2, 2}), none, uniform).sizes() == torch::IntArrayRef({0}));
  CATCH_CHECK(train::per_image_label_loss(torch::zeros({0, 2, 2}), none, uniform, train::LossKind::kMse).sizes() == torch::IntArrayRef({0}));
  CATCH_CHECK(train::per_image_label_loss(torch::zeros({0, 3}), none, category).sizes() == torch::IntArrayRef({0}));
  labelrep_test::check_throws_with<InvalidArgument>([&] { train::label_loss(torch::zeros({0, 2, 2}), none, uniform); }, "empty batch");
}

namespace {
// Labels with a given class matrix (the constructor every label kind uses).
labels::LabelMetadata file_metadata() {
  labels::LabelMetadata metadata;
  metadata.kind = "file";
  return metadata;
}
struct MatrixLabels final : labels::LabelRepresentation {
  explicit MatrixLabels(torch::Tensor matrix) : LabelRepresentation(std::move(matrix), file_metadata()) {}
};
}  // namespace

CATCH_TEST_CASE("cross-entropy refuses labels whose rows are not probability vectors", "[train]") {
  const labels::LowDimLabels lowdim(labels::LowDimLabelsOptions(3).dimension(3).seed(1));
  const auto logits = torch::zeros({2, 3});
  const auto ids = torch::tensor({0, 2}, torch::kLong);
  CATCH_CHECK_THROWS_AS(train::label_loss(logits, ids, lowdim, train::LossKind::kCrossEntropy), InvalidArgument);
  CATCH_CHECK_NOTHROW(train::label_loss(logits, ids, lowdim, train::LossKind::kSmoothL1));
  // The same values as probability rows are accepted, and so are smoothed one-hot rows.
  const MatrixLabels rows(torch::tensor({{0.5f, 0.5f, 0.0f}, {0.0f, 1.0f, 0.0f}, {0.2f, 0.3f, 0.5f}}));
  CATCH_CHECK_NOTHROW(train::label_loss(logits, ids, rows, train::LossKind::kCrossEntropy));
  const labels::CategoryLabels smooth(labels::CategoryLabelsOptions(3).smoothing(0.2));
  CATCH_CHECK_NOTHROW(train::label_loss(logits, ids, smooth));
  const MatrixLabels negative(torch::tensor({{1.5f, -0.5f, 0.0f}, {0.0f, 1.0f, 0.0f}, {0.0f, 0.0f, 1.0f}}));
  CATCH_CHECK_THROWS_AS(train::label_loss(logits, ids, negative, train::LossKind::kCrossEntropy), InvalidArgument);
}
