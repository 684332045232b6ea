// AutoAttack's APGD-T (`apgd-t`, AttackOptions::target_classes): targeted searches over each image's
// most likely other classes inside an untargeted attack. What is refused, the ball, nesting in the number of
// classes, the clamp to C − 1, the misclassification criterion, and the sweep's bookkeeping.
#include "catch.hpp"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "labelrep/attack/attack.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/trainer.hpp"
#include "fixtures.hpp"
#include "tiny_models.hpp"

using namespace labelrep;
using labelrep_test::quadrants;

namespace {

const data::ChannelStatistics& kStats = labelrep_test::kTinyStats;

attack::AttackOptions apgd_t(const std::string& name, double epsilon, std::int64_t target_classes) {
  return labelrep_test::options_named(kStats, name).epsilon(epsilon).steps(6).seed(5).target_classes(target_classes);
}

torch::Tensor broken(labelrep_test::TinyModel& t, const torch::Tensor& adversarial, const torch::Tensor& truth) {
  torch::NoGradGuard no_grad;
  return eval::NearestNeighborEvaluator(t.labels).predict(t.model->forward(adversarial)).ne(truth);
}

}  // namespace

CATCH_TEST_CASE("APGD-T has its names, is untargeted, and alone takes target classes", "[attack]") {
  const auto refusal = [&](const attack::AttackOptions& options) { return labelrep_test::invalid_argument_message([&] { options.validate(); }); };
  for (const char* name : {"apgd-t", "apgd-t-margin", "apgd-t-dlr"}) {
    CATCH_INFO(name);
    const auto kind = attack::parse_attack(name);
    CATCH_CHECK(kind.method == attack::Method::kApgdTargets);
    CATCH_CHECK_FALSE(kind.targeted);
    CATCH_CHECK(attack::attack_name(kind) == name);
    CATCH_CHECK_NOTHROW(apgd_t(name, 0.1, 1).validate());
    CATCH_CHECK_NOTHROW(apgd_t(name, 0.1, 0).validate());  // AutoAttack's 9
    CATCH_CHECK(refusal(apgd_t(name, 0.1, -1)).find("target_classes must be >= 0 (0: AutoAttack's 9), got -1") != std::string::npos);
    CATCH_CHECK(refusal(apgd_t(name, 0.1, 3).targeted(true)).find("APGD-T cannot be targeted") != std::string::npos);
  }
  for (const char* name : {"apgd-t-targeted", "apgd-t-margin-targeted", "apgd-targets"}) CATCH_CHECK_THROWS_AS(attack::parse_attack(name), InvalidArgument);
  // A count for another attack is refused, not ignored: it once turned the untargeted APGD into APGD-T.
  for (const char* name : {"apgd", "apgd-margin", "apgd-margin-targeted", "bim", "square"}) {
    CATCH_INFO(name);
    CATCH_CHECK(refusal(apgd_t(name, 0.1, 9)).find("target_classes is for APGD-T") != std::string::npos);
    CATCH_CHECK_NOTHROW(apgd_t(name, 0.1, 0).validate());
  }
  const auto sweep_refusal = [&](const attack::SweepOptions& options) { return labelrep_test::invalid_argument_message([&] { options.validate(); }); };
  CATCH_CHECK(sweep_refusal(attack::SweepOptions(kStats).attacks({"apgd-margin", "bim"}).target_classes(9)).find("is for APGD-T") != std::string::npos);
  CATCH_CHECK(sweep_refusal(attack::SweepOptions(kStats).attacks({"apgd-t"}).target_classes(-1)).find("must be >= 0") != std::string::npos);
  CATCH_CHECK_NOTHROW(attack::SweepOptions(kStats).attacks({"apgd-margin", "apgd-t-margin"}).target_classes(3).validate());
  CATCH_CHECK(attack::AttackOptions(kStats).target_classes() == 0);
  CATCH_CHECK(attack::SweepOptions(kStats).target_classes() == 0);
  CATCH_CHECK(attack::kAutoAttackTargetClasses == 9);
}

CATCH_TEST_CASE("APGD-T stays in the ball, nests in the number of target classes, and clamps it to C - 1", "[attack]") {
  std::int64_t gained = 0;  // images the second and third target classes broke that the first did not
  for (const bool categorical : {true, false}) {
    CATCH_INFO((categorical ? "categorical" : "composite"));
    auto t = labelrep_test::train_tiny(categorical);
    const auto batch = labelrep_test::quadrant_batch(96);
    for (const attack::Norm norm : {attack::Norm::kLinf, attack::Norm::kL2}) {
      const double epsilon = norm == attack::Norm::kLinf ? (categorical ? 0.45 : 0.5) : (categorical ? 4.0 : 8.0);
      CATCH_INFO(attack::norm_name(norm));
      std::vector<torch::Tensor> broken_by;  // by k = 1, 2, 3 target classes
      for (std::int64_t k = 1; k <= 3; ++k) {
        const auto options = apgd_t("apgd-t-margin", epsilon, k).norm(norm);
        const auto adversarial = attack::perturb(t.model, *t.labels, batch.images, batch.targets, options);
        const auto delta = adversarial - batch.images;
        if (norm == attack::Norm::kLinf) CATCH_CHECK(delta.abs().max().item<double>() <= epsilon + 1e-5);
        else CATCH_CHECK(delta.flatten(1).pow(2).sum(1).sqrt().max().item<double>() <= epsilon * (1 + 1e-5));
        broken_by.push_back(broken(t, adversarial, batch.targets));
      }
      // The j-th search is the same whatever k (its own seed stream, the same images left), so every
      // image k classes break, k + 1 break too; the extra searches break more (checked over all cases).
      CATCH_CHECK((broken_by[0] & broken_by[1].logical_not()).sum().item<std::int64_t>() == 0);
      CATCH_CHECK((broken_by[1] & broken_by[2].logical_not()).sum().item<std::int64_t>() == 0);
      gained += broken_by[2].sum().item<std::int64_t>() - broken_by[0].sum().item<std::int64_t>();
      CATCH_CHECK(broken_by[0].sum().item<std::int64_t>() > 0);
      CATCH_CHECK(broken_by[0].sum().item<std::int64_t>() < batch.targets.size(0));
      // Four classes: at most three others, so 9 target classes are 3.
      const auto nine = attack::perturb(t.model, *t.labels, batch.images, batch.targets, apgd_t("apgd-t-margin", epsilon, 9).norm(norm));
      // 0 is AutoAttack's 9.
      CATCH_CHECK(torch::equal(nine, attack::perturb(t.model, *t.labels, batch.images, batch.targets, apgd_t("apgd-t-margin", epsilon, 0).norm(norm))));
      const auto three = attack::perturb(t.model, *t.labels, batch.images, batch.targets, apgd_t("apgd-t-margin", epsilon, 3).norm(norm));
      CATCH_CHECK(torch::equal(nine, three));
    }
  }
  CATCH_CHECK(gained > 10);  // these models: 5, 6, 0 and 21 more images
}

CATCH_TEST_CASE("APGD-T's first search aims at the runner-up class", "[attack]") {
  auto t = labelrep_test::train_tiny(true);
  const auto batch = labelrep_test::quadrant_batch(96);
  torch::Tensor runner_up, least_likely;
  {
    torch::NoGradGuard no_grad;
    const auto logits = t.model->forward(batch.images);
    runner_up = logits.scatter(1, batch.targets.unsqueeze(1), -1e30).argmax(1);
    least_likely = logits.argmin(1);
  }
  // With one target class the search pushes each image towards its runner-up. It stops at the first
  // misclassification, which on this model is often the third class, between the two (this model: 10
  // of 31 broken images land on the runner-up, none on the least likely class).
  const auto adversarial = attack::perturb(t.model, *t.labels, batch.images, batch.targets, apgd_t("apgd-t-margin", 0.5, 1));
  torch::Tensor predicted;
  {
    torch::NoGradGuard no_grad;
    predicted = eval::NearestNeighborEvaluator(t.labels).predict(t.model->forward(adversarial));
  }
  const auto moved = predicted.ne(batch.targets);
  CATCH_CHECK(moved.sum().item<std::int64_t>() > 10);
  CATCH_CHECK((moved & predicted.eq(runner_up)).sum().item<std::int64_t>() > 5);
  CATCH_CHECK((moved & predicted.eq(least_likely)).sum().item<std::int64_t>() == 0);
}

CATCH_TEST_CASE("a sweep holds APGD and APGD-T side by side, and records APGD-T's target classes", "[attack]") {
  auto t = labelrep_test::train_tiny(true);
  const auto set = quadrants(120, 99);
  const auto base = attack::SweepOptions(kStats)
                        .attacks({"apgd-margin", "apgd-t-margin", "apgd-margin-targeted", "bim"})
                        .epsilons({0.0, 0.45, 0.6})
                        .steps(6)
                        .seed(4)
                        .progress(false);
  const auto three = attack::run_sweep(t.model, t.labels, set, torch::arange(120), attack::SweepOptions(base).target_classes(3));
  const auto one = attack::run_sweep(t.model, t.labels, set, torch::arange(120), attack::SweepOptions(base).target_classes(1));
  const auto json = nlohmann::json::parse(three.to_json());
  CATCH_CHECK_FALSE(json.contains("target_classes"));  // per attack: a sweep-wide one marks an older file
  CATCH_CHECK(json["attacks"][1]["attack"] == "apgd-t-margin");
  CATCH_CHECK(json["attacks"][1]["method"] == "apgd-t");
  CATCH_CHECK(json["attacks"][1]["target_classes"] == 3);
  for (std::size_t a : {std::size_t{0}, std::size_t{2}, std::size_t{3}}) CATCH_CHECK_FALSE(json["attacks"][a].contains("target_classes"));
  CATCH_CHECK(three.curves[1].target_classes == 3);
  const auto by_default = attack::run_sweep(t.model, t.labels, set, torch::arange(120), attack::SweepOptions(base).attacks({"apgd-t-margin"}));
  CATCH_CHECK(by_default.curves[0].target_classes == 9);  // AutoAttack's
  CATCH_CHECK(three.curves[0].target_classes == 0);
  CATCH_REQUIRE(three.initially_correct > 50);
  // Only APGD-T changes with the count: the other attacks give the same counts.
  for (std::size_t a : {std::size_t{0}, std::size_t{2}, std::size_t{3}})
    for (std::size_t e = 0; e < 3; ++e) {
      CATCH_CHECK(three.curves[a].points[e].correct == one.curves[a].points[e].correct);
      CATCH_CHECK(three.curves[a].points[e].target_hits == one.curves[a].points[e].target_hits);
    }
  // More target classes only add broken images, and here some.
  std::int64_t gained = 0;
  for (std::size_t e = 1; e < 3; ++e) {
    CATCH_CHECK(three.curves[1].points[e].correct <= one.curves[1].points[e].correct);
    gained += one.curves[1].points[e].correct - three.curves[1].points[e].correct;
    // The worst case covers APGD and APGD-T: at most what either leaves correct.
    CATCH_CHECK(three.worst_case[e].correct <= std::min(three.curves[0].points[e].correct, three.curves[1].points[e].correct));
  }
  CATCH_CHECK(gained > 0);
}
