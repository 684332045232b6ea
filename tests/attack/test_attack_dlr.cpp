// The DLR objective (AutoAttack's difference-of-logits-ratio loss): its formula on hand-written scores,
// its invariance to a scale and shift of the scores, its names, the class counts it needs, and its
// attacks on the tiny models (in the ball, seeded, stronger than noise, APGD-T on it).
#include "catch.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "eval/margin.hpp"
#include "labelrep/attack/attack.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/trainer.hpp"
#include "fixtures.hpp"
#include "tiny_models.hpp"

using namespace labelrep;
using labelrep_test::Approx;
using labelrep_test::quadrants;

namespace {

const data::ChannelStatistics& kStats = labelrep_test::kTinyStats;

std::shared_ptr<const labels::LabelRepresentation> category_labels(std::int64_t classes) {
  return std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(classes));
}

torch::Tensor correct_after(labelrep_test::TinyModel& t, const torch::Tensor& images, const torch::Tensor& truth) {
  torch::NoGradGuard no_grad;
  return eval::NearestNeighborEvaluator(t.labels).predict(t.model->forward(images)).eq(truth);
}

}  // namespace

CATCH_TEST_CASE("the DLR loss is minus the margin over the spread of the top scores", "[attack]") {
  const eval::NearestNeighborEvaluator evaluator(category_labels(5));
  // Sorted, the logits are 3, 2, 1, 0, -1.
  const auto logits = torch::tensor({3.0, 1.0, 2.0, -1.0, 0.0}, torch::kFloat32).unsqueeze(0);
  const auto own = torch::tensor({0}, torch::kLong), target = torch::tensor({3}, torch::kLong);
  // Untargeted, class 0: −(3 − 2) / (3 − 1).
  CATCH_CHECK(labelrep::detail::dlr_losses(evaluator, logits, own, false).item<double>() == Approx(-0.5));
  // Targeted at class 3: −(−1 − 3) / (3 − (1 + 0)/2), AutoAttack's −(z_y − z_t)/(z₁ − (z₃ + z₄)/2)
  // with y = 0, the top class.
  CATCH_CHECK(labelrep::detail::dlr_losses(evaluator, logits, target, true).item<double>() == Approx(4.0 / 2.5));
  // Class 2, untargeted: its margin to the best other class, 3, is −1.
  CATCH_CHECK(labelrep::detail::dlr_losses(evaluator, logits, torch::tensor({2}, torch::kLong), false).item<double>() == Approx(0.5));

  // A scale and shift of the scores leaves it as it is; the margin scales with them.
  const auto moved = logits * 7.5 - 4.0;
  for (const bool targeted : {false, true}) {
    const auto& ids = targeted ? target : own;
    CATCH_CHECK(labelrep::detail::dlr_losses(evaluator, moved, ids, targeted).item<double>() ==
                Approx(labelrep::detail::dlr_losses(evaluator, logits, ids, targeted).item<double>()).epsilon(1e-6));
  }
  CATCH_CHECK(labelrep::detail::class_margins(evaluator, moved, own).item<double>() == Approx(7.5 * labelrep::detail::class_margins(evaluator, logits, own).item<double>()));
  // Tied top scores do not divide by zero.
  const auto tied = torch::zeros({1, 5});
  CATCH_CHECK(std::isfinite(labelrep::detail::dlr_losses(evaluator, tied, own, false).item<double>()));
  CATCH_CHECK(std::isfinite(labelrep::detail::dlr_losses(evaluator, tied, target, true).item<double>()));
}

CATCH_TEST_CASE("on nearest-label decoding the DLR loss divides the margin of the distances", "[attack]") {
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(6).size(8).seed(3));
  const eval::NearestNeighborEvaluator evaluator(labels);
  auto generator = torch::make_generator<at::CPUGeneratorImpl>(7);
  const auto outputs = (labels->matrix().index_select(0, torch::tensor({1, 4, 0}, torch::kLong)).to(torch::kFloat32) +
                        0.3 * torch::randn({3, 8, 8}, generator, torch::kFloat32))
                           .requires_grad_(true);
  const auto ids = torch::tensor({1, 4, 2}, torch::kLong);
  const auto loss = labelrep::detail::dlr_losses(evaluator, outputs, ids, false);
  for (std::int64_t i = 0; i < 3; ++i) {
    CATCH_INFO("output " << i);
    // Scores: minus the mean squared error to each label, written out.
    std::vector<double> scores;
    for (std::int64_t c = 0; c < 6; ++c)
      scores.push_back(-(outputs[i].detach() - labels->matrix()[c].to(torch::kFloat32)).pow(2).mean().item<double>());
    const double own = scores[static_cast<std::size_t>(ids[i].item<std::int64_t>())];
    double best_other = -1e300;
    for (std::int64_t c = 0; c < 6; ++c)
      if (c != ids[i].item<std::int64_t>()) best_other = std::max(best_other, scores[static_cast<std::size_t>(c)]);
    auto sorted = scores;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    CATCH_CHECK(loss[i].item<double>() == Approx((best_other - own) / (sorted[0] - sorted[2])).epsilon(1e-5));
  }
  // It has a gradient with respect to the outputs.
  loss.sum().backward();
  CATCH_CHECK(outputs.grad().abs().sum().item<double>() > 0);
}

CATCH_TEST_CASE("the -dlr attacks are named, parsed and refused where the DLR loss cannot apply", "[attack]") {
  for (const char* name : {"fgsm-dlr", "fgsm-dlr-targeted", "bim-dlr", "bim-dlr-targeted", "pgd-dlr", "pgd-dlr-targeted", "apgd-dlr",
                           "apgd-dlr-targeted"}) {
    CATCH_INFO(name);
    const auto kind = attack::parse_attack(name);
    CATCH_CHECK(kind.objective == attack::Objective::kDlr);
    CATCH_CHECK(attack::attack_name(kind) == name);
  }
  for (const char* name : {"square-dlr", "noise-dlr", "dlr", "apgd-dlr-margin", "apgd-margin-dlr"}) {
    CATCH_INFO(name);
    CATCH_CHECK_THROWS_AS(attack::parse_attack(name), InvalidArgument);
  }
  for (const auto method : {attack::Method::kSquare, attack::Method::kNoise})
    CATCH_CHECK(labelrep_test::invalid_argument_message([&] { attack::AttackOptions(kStats).method(method).objective(attack::Objective::kDlr).validate(); })
                    .find("the dlr objective is for fgsm, bim, pgd, apgd and apgd-t") != std::string::npos);
  CATCH_CHECK(attack::parse_attack("apgd-t-dlr").objective == attack::Objective::kDlr);
}

CATCH_TEST_CASE("the DLR objective needs 3 classes, and 4 when targeted", "[attack]") {
  const auto images = torch::zeros({2, 1, 12, 12});
  for (const std::int64_t classes : {2, 3, 4}) {
    CATCH_INFO(classes << " classes");
    const auto labels = category_labels(classes);
    torch::manual_seed(1);
    models::Model model(models::SmallCnn(models::SmallCnnOptions().in_channels(1).width(4)).ptr(), models::make_decoder(16, *labels));
    model->eval();
    const auto ids = torch::tensor({0, 1}, torch::kLong);
    const auto run = [&](const char* name) {
      return attack::perturb(model, *labels, images, ids, labelrep_test::options_named(kStats, name).epsilon(0.1).steps(2));
    };
    const auto refusal = [&](const char* name) { return labelrep_test::invalid_argument_message([&] { run(name); }); };
    if (classes < 3) CATCH_CHECK(refusal("bim-dlr").find("bim-dlr needs at least 3 classes (the DLR loss divides by the gap between the best and the "
                                                        "third best score), but the labels have 2") != std::string::npos);
    else CATCH_CHECK(run("bim-dlr").sizes() == images.sizes());
    if (classes < 4) CATCH_CHECK(refusal("apgd-dlr-targeted").find("apgd-dlr-targeted needs at least 4 classes") != std::string::npos);
    else CATCH_CHECK(run("apgd-dlr-targeted").sizes() == images.sizes());
    // APGD-T is untargeted, but each of its searches is targeted.
    if (classes < 4) CATCH_CHECK(refusal("apgd-t-dlr").find("apgd-t-dlr needs at least 4 classes") != std::string::npos);
    else CATCH_CHECK(run("apgd-t-dlr").sizes() == images.sizes());
    // The loss and margin objectives need no more than two classes.
    CATCH_CHECK_NOTHROW(run("bim-margin-targeted"));

    // The sweep refuses it before attacking anything.
    auto set_images = torch::zeros({6, 1, 12, 12}, torch::kUInt8);
    std::vector<std::string> names;
    for (std::int64_t c = 0; c < classes; ++c) names.push_back(std::string(1, static_cast<char>('a' + c)));
    const data::ImageDataset set(set_images, torch::arange(6) % classes, names, "tiny");
    const auto sweep = [&](const char* name) {
      return attack::run_sweep(model, labels, set, torch::arange(6), attack::SweepOptions(kStats).attacks({"fgsm", name}).epsilons({0.0, 0.1}).progress(false));
    };
    if (classes < 4)
      CATCH_CHECK(labelrep_test::invalid_argument_message([&] { sweep("pgd-dlr-targeted"); }).find("attack sweep: pgd-dlr-targeted needs at least 4 classes") !=
                  std::string::npos);
    else CATCH_CHECK_NOTHROW(sweep("pgd-dlr-targeted"));
  }
}

CATCH_TEST_CASE("FGSM on the DLR loss steps along the sign of its gradient", "[attack]") {
  auto t = labelrep_test::train_tiny(false);
  const auto batch = labelrep_test::quadrant_batch(32);
  const eval::NearestNeighborEvaluator evaluator(t.labels);
  for (const bool targeted : {false, true}) {
    CATCH_INFO((targeted ? "targeted" : "untargeted"));
    const auto ids = targeted ? (batch.targets + 1) % 4 : batch.targets;
    const auto input = batch.images.clone().requires_grad_(true);
    const auto loss = labelrep::detail::dlr_losses(evaluator, t.model->forward(input), ids, targeted).sum();
    const auto gradient = torch::autograd::grad({loss}, {input})[0];
    // Untargeted raises the loss, targeted lowers it; the statistics' box is [(0 − 0.3)/0.3, (1 − 0.3)/0.3].
    const double epsilon = 0.2;
    const auto expected = (batch.images + (targeted ? -epsilon : epsilon) * gradient.sign()).clamp(-1.0, 0.7 / 0.3);
    const auto name = std::string("fgsm-dlr") + (targeted ? "-targeted" : "");
    const auto adversarial = attack::perturb(t.model, *t.labels, batch.images, ids, labelrep_test::options_named(kStats, name).epsilon(epsilon));
    CATCH_CHECK(torch::allclose(adversarial, expected, 0, 1e-5));
    // Not the margin's step: the division by the spread turns the gradient.
    const auto by_margin =
        attack::perturb(t.model, *t.labels, batch.images, ids, labelrep_test::options_named(kStats, targeted ? "fgsm-margin-targeted" : "fgsm-margin").epsilon(epsilon));
    CATCH_CHECK_FALSE(torch::allclose(adversarial, by_margin, 0, 1e-5));
  }
}

CATCH_TEST_CASE("attacks on the DLR loss stay in the ball, are seeded, and beat noise", "[attack]") {
  std::int64_t gained = 0;  // images the attacks broke that the noise left, over all cases
  for (const bool categorical : {true, false}) {
    CATCH_INFO((categorical ? "categorical" : "composite"));
    auto t = labelrep_test::train_tiny(categorical);
    const auto batch = labelrep_test::quadrant_batch(96);
    const auto clean = correct_after(t, batch.images, batch.targets);
    CATCH_REQUIRE(clean.sum().item<std::int64_t>() > 80);
    for (const attack::Norm norm : {attack::Norm::kLinf, attack::Norm::kL2}) {
      CATCH_INFO(attack::norm_name(norm));
      const double epsilon = norm == attack::Norm::kLinf ? 0.5 : 6.0;
      const auto noise = attack::perturb(t.model, *t.labels, batch.images, batch.targets,
                                         labelrep_test::options_named(kStats, "noise").epsilon(epsilon).norm(norm).seed(3));
      const auto left_by_noise = (correct_after(t, noise, batch.targets) & clean).sum().item<std::int64_t>();
      for (const char* name : {"bim-dlr", "apgd-dlr"}) {
        CATCH_INFO(name);
        const auto options = labelrep_test::options_named(kStats, name).epsilon(epsilon).norm(norm).steps(10).seed(3);
        const auto adversarial = attack::perturb(t.model, *t.labels, batch.images, batch.targets, options);
        const auto delta = (adversarial - batch.images).flatten(1);
        if (norm == attack::Norm::kLinf) CATCH_CHECK(delta.abs().max().item<double>() <= epsilon + 1e-5);
        else CATCH_CHECK(delta.pow(2).sum(1).sqrt().max().item<double>() <= epsilon * (1 + 1e-5));
        CATCH_CHECK(torch::equal(adversarial, attack::perturb(t.model, *t.labels, batch.images, batch.targets, options)));
        const auto left = (correct_after(t, adversarial, batch.targets) & clean).sum().item<std::int64_t>();
        CATCH_CHECK(left <= left_by_noise);
        gained += left_by_noise - left;
      }
    }
  }
  // These models: BIM and APGD break 2 and 28 (categorical, L∞), 28 and 96 (categorical, L2), 0 and 4
  // (composite, L∞), 33 and 48 (composite, L2) more images than the noise.
  CATCH_CHECK(gained > 150);
}

CATCH_TEST_CASE("AutoAttack's APGD-T on the DLR loss breaks images the untargeted search leaves, and sweeps name it", "[attack]") {
  auto t = labelrep_test::train_tiny(true);
  const auto set = quadrants(120, 99);
  const auto options =
      attack::SweepOptions(kStats).attacks({"apgd-dlr", "apgd-t-dlr", "bim"}).epsilons({0.0, 0.3, 0.5}).steps(8).seed(4).target_classes(3).progress(false);
  const auto sweep = attack::run_sweep(t.model, t.labels, set, torch::arange(120), options);
  const auto json = nlohmann::json::parse(sweep.to_json());
  CATCH_CHECK(json["attacks"][0]["attack"] == "apgd-dlr");
  CATCH_CHECK(json["attacks"][0]["objective"] == "dlr");
  CATCH_CHECK(json["attacks"][1]["attack"] == "apgd-t-dlr");
  CATCH_CHECK(json["attacks"][1]["objective"] == "dlr");
  CATCH_CHECK(json["attacks"][1]["target_classes"] == 3);
  CATCH_REQUIRE(sweep.initially_correct > 60);
  std::int64_t fewer = 0;
  for (std::size_t e = 1; e < 3; ++e) fewer += sweep.curves[0].points[e].correct - sweep.curves[1].points[e].correct;
  CATCH_CHECK(fewer > 0);
}
