// The L2 threat model: the ball's bound in both units, agreement with a per-image reference written
// here, seeding, the effect on a trained model, the sweep's bookkeeping, and what is refused.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "labelrep/attack/attack.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/loss.hpp"
#include "labelrep/train/trainer.hpp"
#include "fixtures.hpp"
#include "tiny_models.hpp"

using namespace labelrep;
using labelrep_test::quadrants;

namespace {

// Three channels with different statistics, so that pixel units scale each channel differently.
const data::ChannelStatistics kStats{{0.4, 0.5, 0.6}, {0.2, 0.25, 0.3}};

struct Setup {
  std::shared_ptr<const labels::LabelRepresentation> labels;
  models::Model model{nullptr};
};

// An untrained three-channel CNN in float64: the geometry of the attacks needs gradients, not accuracy.
Setup untrained(bool categorical) {
  Setup s;
  if (categorical) s.labels = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(4));
  else s.labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(8).seed(2));
  torch::manual_seed(5);
  s.model = models::Model(models::SmallCnn(models::SmallCnnOptions().in_channels(3).width(8)).ptr(), models::make_decoder(32, *s.labels));
  s.model->to(torch::kFloat64);
  s.model->eval();
  return s;
}

// Normalised images whose pixels lie in [low_pixel, high_pixel] ⊂ [0, 1], float64 [N, 3, 10, 10].
torch::Tensor images(std::int64_t n, double low_pixel, double high_pixel, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto pixels = torch::rand({n, 3, 10, 10}, generator, torch::kFloat64) * (high_pixel - low_pixel) + low_pixel;
  const auto mean = torch::tensor(kStats.mean, torch::kFloat64).view({1, 3, 1, 1});
  const auto std = torch::tensor(kStats.std, torch::kFloat64).view({1, 3, 1, 1});
  return (pixels - mean) / std;
}

// Per channel [1, 3, 1, 1]: the length in ε's unit of one normalised unit, and the valid box.
torch::Tensor scale_of(bool pixel) {
  return pixel ? torch::tensor(kStats.std, torch::kFloat64).view({1, 3, 1, 1}) : torch::ones({1, 3, 1, 1}, torch::kFloat64);
}
torch::Tensor normalised_pixel(double pixel) {
  return ((pixel - torch::tensor(kStats.mean, torch::kFloat64)) / torch::tensor(kStats.std, torch::kFloat64)).view({1, 3, 1, 1});
}
torch::Tensor box_low() { return normalised_pixel(0.0); }
torch::Tensor box_high() { return normalised_pixel(1.0); }

// Each image's perturbation length in ε's unit.
torch::Tensor lengths(const torch::Tensor& adversarial, const torch::Tensor& x, bool pixel) {
  return ((adversarial - x) * scale_of(pixel)).flatten(1).pow(2).sum(1).sqrt();
}

bool inside_box(const torch::Tensor& t) {
  return (t >= box_low() - 1e-9).all().item<bool>() && (t <= box_high() + 1e-9).all().item<bool>();
}

attack::AttackOptions l2(const std::string& name, double epsilon, bool pixel) {
  return labelrep_test::options_named(kStats, name)
      .epsilon(epsilon)
      .unit(pixel ? attack::EpsilonUnit::kPixel : attack::EpsilonUnit::kNormalized)
      .norm(attack::Norm::kL2)
      .steps(4)
      .seed(7);
}

using labelrep_test::reference_objective;

// The L2 iterative method written out for one image: steps of length α (in ε's unit) along the
// gradient taken in ε's unit, the perturbation shrunk to length ε when longer, then clamped to the box.
torch::Tensor reference_l2(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& image, std::int64_t cls,
                           bool targeted, bool margin, std::int64_t steps, double epsilon, double alpha, bool pixel) {
  const auto x = image.unsqueeze(0);
  const auto scale = scale_of(pixel);
  auto adversarial = x.clone();
  for (std::int64_t s = 0; s < steps; ++s) {
    auto input = adversarial.detach().requires_grad_(true);
    const auto objective = reference_objective(labels, model->forward(input), cls, margin);
    const auto gradient_in_unit = torch::autograd::grad({objective}, {input})[0] / scale;  // chain rule: x_n = x_unit / scale
    const auto direction = gradient_in_unit / gradient_in_unit.norm();
    auto delta_in_unit = (input.detach() - x) * scale + (targeted ? -alpha : alpha) * direction;
    const double length = delta_in_unit.norm().item<double>();
    if (length > epsilon) delta_in_unit = delta_in_unit * (epsilon / length);
    adversarial = torch::min(torch::max(x + delta_in_unit / scale, box_low()), box_high());
  }
  return adversarial[0];
}

}  // namespace

CATCH_TEST_CASE("norm names parse, and every attack runs under both norms", "[attack]") {
  CATCH_CHECK(attack::parse_norm("l2") == attack::Norm::kL2);
  CATCH_CHECK(attack::parse_norm("linf") == attack::Norm::kLinf);
  CATCH_CHECK(std::string(attack::norm_name(attack::Norm::kL2)) == "l2");
  CATCH_CHECK(std::string(attack::norm_name(attack::Norm::kLinf)) == "linf");
  CATCH_CHECK_THROWS_AS(attack::parse_norm("L2"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::parse_norm("l1"), InvalidArgument);
  CATCH_CHECK(attack::AttackOptions(kStats).norm() == attack::Norm::kLinf);  // the paper's
  for (const char* name : {"apgd", "square", "square-targeted"}) CATCH_CHECK_NOTHROW(l2(name, 0.5, true).validate());
  CATCH_CHECK_NOTHROW(attack::SweepOptions(kStats).attacks({"bim", "square"}).norm(attack::Norm::kL2).validate());
  CATCH_CHECK_THROWS_AS(attack::SweepOptions(kStats).attacks({"bim", "cw"}).norm(attack::Norm::kL2).validate(), InvalidArgument);
}

CATCH_TEST_CASE("L2 attacks stay within the L2 ball in the unit given and inside the valid pixel box", "[attack]") {
  const auto ids = torch::tensor({0, 1, 2, 3, 0, 1}, torch::kLong);
  for (const bool categorical : {true, false}) {
    auto s = untrained(categorical);
    for (const char* name :
         {"fgsm", "fgsm-targeted", "bim", "bim-margin-targeted", "pgd", "pgd-targeted", "apgd", "apgd-margin", "noise", "square", "square-targeted"}) {
      for (const bool pixel : {false, true}) {
        CATCH_INFO(name << (categorical ? " categorical" : " composite") << (pixel ? " pixel" : " normalized"));
        // Away from the box's faces and with a small ε nothing is clamped: one step of ε (FGSM, noise)
        // lands on the sphere, and Square's search never leaves it.
        const auto x = images(6, 0.3, 0.7, 2);
        const double small = pixel ? 0.05 : 0.2;
        auto adversarial = attack::perturb(s.model, *s.labels, x, ids, l2(name, small, pixel));
        const auto length = lengths(adversarial, x, pixel);
        CATCH_CHECK(length.max().item<double>() <= small * (1 + 1e-9));
        CATCH_CHECK(length.min().item<double>() > 0);  // every image moved
        if (std::string(name).rfind("fgsm", 0) == 0 || std::string(name) == "noise" || std::string(name).rfind("square", 0) == 0)
          CATCH_CHECK((length - small).abs().max().item<double>() <= 1e-9);
        // An L2 step spreads over the image: no value moves by the whole ε (L∞ would move them all).
        CATCH_CHECK(((adversarial - x).abs() * scale_of(pixel)).max().item<double>() < 0.9 * small);
        CATCH_CHECK(inside_box(adversarial));
        // Images over the whole box and a large ε: clamped at the faces, still within the ball.
        const auto wide = images(6, 0.0, 1.0, 3);
        const double large = pixel ? 4.0 : 15.0;
        adversarial = attack::perturb(s.model, *s.labels, wide, ids, l2(name, large, pixel));
        CATCH_CHECK(lengths(adversarial, wide, pixel).max().item<double>() <= large * (1 + 1e-9));
        CATCH_CHECK(inside_box(adversarial));
        CATCH_CHECK(((adversarial - box_low()).abs() < 1e-12).any().item<bool>());  // it reached the box
        CATCH_CHECK(torch::equal(attack::perturb(s.model, *s.labels, x, ids, l2(name, 0.0, pixel)), x));
      }
    }
  }
}

CATCH_TEST_CASE("L2 FGSM and BIM agree with a per-image reference in both units", "[attack]") {
  const auto x = images(12, 0.0, 1.0, 4);
  const auto ids = torch::arange(12) % 4;
  const auto targets = attack::random_targets(ids, 4, 3);
  for (const bool categorical : {true, false}) {
    auto s = untrained(categorical);
    for (const char* name : {"fgsm", "fgsm-targeted", "bim", "bim-targeted", "bim-margin", "fgsm-margin-targeted"}) {
      for (const bool pixel : {false, true}) {
        CATCH_INFO(name << (categorical ? " categorical" : " composite") << (pixel ? " pixel" : " normalized"));
        const auto options = l2(name, pixel ? 0.8 : 3.0, pixel);
        const auto aim = options.targeted() ? targets : ids;
        const auto batched = attack::perturb(s.model, *s.labels, x, aim, options);
        const std::int64_t steps = options.method() == attack::Method::kFgsm ? 1 : options.steps();
        const double alpha = options.epsilon() / static_cast<double>(steps);  // BIM's α = ε/steps; FGSM steps by ε
        std::vector<torch::Tensor> one_by_one;
        for (std::int64_t i = 0; i < x.size(0); ++i)
          one_by_one.push_back(reference_l2(s.model, *s.labels, x[i], aim[i].item<std::int64_t>(), options.targeted(),
                                            options.objective() == attack::Objective::kMargin, steps, options.epsilon(), alpha, pixel));
        const auto reference = torch::stack(one_by_one);
        // The margin of nearest-label decoding is taken from the evaluator's float32 distances.
        const bool float32_margin = !categorical && options.objective() == attack::Objective::kMargin;
        CATCH_CHECK((batched - reference).abs().max().item<double>() <= (float32_margin ? 1e-6 : 1e-9));
        CATCH_CHECK((batched - x).abs().max().item<double>() > 1e-3);  // it did move
      }
    }
  }
}

CATCH_TEST_CASE("L2 PGD, APGD, noise and Square are seeded, and differ from their L-infinity forms", "[attack]") {
  auto s = untrained(false);
  const auto x = images(8, 0.0, 1.0, 5);
  const auto ids = torch::arange(8) % 4;
  for (const char* name : {"pgd", "apgd", "noise", "square"}) {
    CATCH_INFO(name);
    const auto once = attack::perturb(s.model, *s.labels, x, ids, l2(name, 1.0, true));
    CATCH_CHECK(torch::equal(once, attack::perturb(s.model, *s.labels, x, ids, l2(name, 1.0, true))));
    CATCH_CHECK_FALSE(torch::equal(once, attack::perturb(s.model, *s.labels, x, ids, l2(name, 1.0, true).seed(8))));
    const auto linf = attack::perturb(s.model, *s.labels, x, ids, l2(name, 1.0, true).norm(attack::Norm::kLinf));
    CATCH_CHECK((linf - x).abs().max().item<double>() > (once - x).abs().max().item<double>());
  }
}

CATCH_TEST_CASE("on a trained model L2 attacks raise the loss, and the iterative ones beat L2 noise", "[attack]") {
  // The tests' tiny categorical model (tiny_models.hpp).
  const auto& stats = labelrep_test::kTinyStats;
  auto tiny = labelrep_test::train_tiny(true);
  auto& model = tiny.model;
  const auto labels = tiny.labels;
  data::Batch batch;
  const auto test = quadrants(200, 99);
  // In pixel units moving the bright quadrant elsewhere is a change of length ≈ 150/255·√72 ≈ 5; at ε = 0.5
  // nothing breaks, at ε = 2 the iterative attacks break most images (this model: BIM leaves 45 of 200,
  // APGD none, FGSM 171, Square 80, noise all).
  const auto r = attack::run_sweep(model, labels, test, torch::arange(200),
                                   attack::SweepOptions(stats)
                                       .attacks({"fgsm", "bim", "apgd", "noise", "square"})
                                       .queries(300)
                                       .epsilons({0.0, 0.5, 2.0})
                                       .unit(attack::EpsilonUnit::kPixel)
                                       .norm(attack::Norm::kL2)
                                       .steps(10)
                                       .progress(false));
  CATCH_REQUIRE(r.initially_correct > 150);
  const auto& fgsm = r.curves[0].points, &bim = r.curves[1].points, &apgd = r.curves[2].points, &noise = r.curves[3].points,
              &square = r.curves[4].points;
  CATCH_CHECK(bim[2].correct < r.initially_correct / 2);
  CATCH_CHECK(apgd[2].correct < r.initially_correct / 2);
  CATCH_CHECK(bim[2].correct <= fgsm[2].correct);
  CATCH_CHECK(bim[2].correct + 20 < noise[2].correct);
  // Square's black-box L2 search (300 queries) breaks well over half of what noise leaves (this model:
  // 80 left of 200, noise none broken); the square-beats-attack check below holds for BIM and APGD.
  CATCH_CHECK(square[2].correct < noise[2].correct / 2);
  CATCH_CHECK(square[1].correct >= square[2].correct);
  CATCH_CHECK(bim[1].correct >= bim[2].correct);
  bool square_checked = false;
  for (const auto& check : r.masking_checks) {
    CATCH_INFO(check.check << " " << check.attack << ": " << check.detail);
    CATCH_CHECK(check.passed);
    square_checked = square_checked || check.check == "square-beats-attack";
  }
  CATCH_CHECK(square_checked);  // an L2 sweep with Square runs AutoAttack's check too
  // The loss rises under the untargeted attack.
  auto eval_batches = train::evaluation_batches(test, torch::arange(200), stats, 200);
  eval_batches.start_epoch(0);
  eval_batches.next(batch);
  const auto l2_bim = attack::AttackOptions(stats)
                       .method(attack::Method::kIterative)
                       .epsilon(2.0)
                       .unit(attack::EpsilonUnit::kPixel)
                       .norm(attack::Norm::kL2)
                       .steps(10);
  const auto adversarial = attack::perturb(model, *labels, batch.images, batch.targets, l2_bim);
  torch::NoGradGuard no_grad;
  CATCH_CHECK(train::label_loss(model->forward(adversarial), batch.targets, *labels).item<double>() >
              train::label_loss(model->forward(batch.images), batch.targets, *labels).item<double>() + 1.0);
}

CATCH_TEST_CASE("an L2 sweep records its norm, agrees with perturb, and keeps the unbounded check L-infinity", "[attack]") {
  const data::ChannelStatistics stats{{0.3}, {0.3}};
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(8).seed(2));
  torch::manual_seed(3);
  models::Model model(models::SmallCnn(models::SmallCnnOptions().in_channels(1).width(8)).ptr(), models::make_decoder(32, *labels));
  model->to(torch::kFloat64);
  model->eval();
  const auto set = quadrants(60, 7);
  const auto options =
      attack::SweepOptions(stats).attacks({"fgsm", "bim-targeted"}).epsilons({0.0, 1.0, 4.0}).seed(2).batch_size(60).per_image(true).progress(false);
  const auto r = attack::run_sweep(model, labels, set, torch::arange(60), attack::SweepOptions(options).norm(attack::Norm::kL2));
  CATCH_CHECK(r.norm == attack::Norm::kL2);
  const auto j = nlohmann::json::parse(r.to_json());
  CATCH_CHECK(j["norm"] == "l2");
  CATCH_CHECK(nlohmann::json::parse(attack::run_sweep(model, labels, set, torch::arange(60), options).to_json())["norm"] == "linf");
  CATCH_REQUIRE(r.initially_correct > 0);
  // The unbounded check is an L∞ BIM over the whole box whatever the sweep's norm.
  CATCH_REQUIRE(r.unbounded_correct.has_value());
  CATCH_CHECK(*r.unbounded_correct == *attack::run_sweep(model, labels, set, torch::arange(60), options).unbounded_correct);
  // The sweep's outcomes are those of perturb on the initially correct images (the sweep reuses the
  // clean pass's gradient for the first step; in float64 the two round alike).
  auto batches = train::evaluation_batches(set, torch::arange(60), stats, 60);
  data::Batch batch;
  batches.start_epoch(0);
  batches.next(batch);
  const eval::NearestNeighborEvaluator evaluator(labels);
  const auto x = batch.images.to(torch::kFloat64);
  torch::Tensor clean;
  {
    torch::NoGradGuard no_grad;
    clean = evaluator.predict(model->forward(x));
  }
  const auto keep = clean.eq(batch.targets).nonzero().squeeze(1);
  const auto targets = attack::random_targets(batch.targets, 4, 2);
  for (std::size_t a = 0; a < 2; ++a) {
    const auto kind = attack::parse_attack(options.attacks()[a]);
    for (std::int64_t e = 1; e < 3; ++e) {
      const auto aim = (kind.targeted ? targets : batch.targets).index_select(0, keep);
      const auto adversarial = attack::perturb(model, *labels, x.index_select(0, keep), aim,
                                               attack::AttackOptions(stats).method(kind.method).targeted(kind.targeted).epsilon(options.epsilons()[e])
                                                   .norm(attack::Norm::kL2));
      torch::NoGradGuard no_grad;
      const auto predicted = evaluator.predict(model->forward(adversarial));
      const auto expected = torch::zeros({60}, torch::kBool).index_put_({keep}, predicted.eq(batch.targets.index_select(0, keep)));
      CATCH_CHECK(torch::equal(r.per_image_correct[static_cast<std::int64_t>(a)][e], expected));
    }
  }
}

CATCH_TEST_CASE("L2 Square starts from a grid of the paper's centre-weighted tiles on the sphere", "[attack]") {
  auto s = untrained(false);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(11);
  // Pixels in [0.4, 0.6]: at this ε nothing reaches the box, so the start is unclamped.
  const auto pixels = torch::rand({4, 3, 15, 15}, generator, torch::kFloat64) * 0.2 + 0.4;
  const auto x = (pixels - torch::tensor(kStats.mean, torch::kFloat64).view({1, 3, 1, 1})) / torch::tensor(kStats.std, torch::kFloat64).view({1, 3, 1, 1});
  const double epsilon = 0.3;
  const auto start = attack::perturb(s.model, *s.labels, x, torch::arange(4) % 4, l2("square", epsilon, true).queries(1));
  const auto delta = (start - x) * scale_of(true);  // in pixel units
  CATCH_CHECK((lengths(start, x, true) - epsilon).abs().max().item<double>() <= 1e-9);
  // Tiles of side 3 (a fifth of 15). The pattern of side 3 by the paper's definition: the top row a
  // centred rectangle of 1 row (centre 1 + 1/4, ring 1/4), the bottom two rows minus one of 2 rows,
  // each half of length 1, the whole of length 1.
  const auto top = torch::tensor({0.25, 1.25, 0.25}, torch::kFloat64).view({1, 3});
  const auto bottom = torch::tensor({0.25, 0.25, 0.25, 0.25, 1.25, 0.25}, torch::kFloat64).view({2, 3});
  const auto unit = torch::cat({top / top.norm(), -bottom / bottom.norm()}) / std::sqrt(2.0);
  const double tile_length = epsilon / std::sqrt(25.0 * 3);  // 25 tiles × 3 channels, each of equal length
  std::int64_t transposed = 0, negative = 0;
  for (std::int64_t i = 0; i < 4; ++i)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t a = 0; a < 5; ++a)
        for (std::int64_t b = 0; b < 5; ++b) {
          const auto tile = delta[i][c].slice(0, 3 * a, 3 * a + 3).slice(1, 3 * b, 3 * b + 3) / tile_length;
          bool matched = false;
          for (const bool transpose : {false, true})
            for (const double sign : {1.0, -1.0})
              if ((tile - sign * (transpose ? unit.t() : unit)).abs().max().item<double>() <= 1e-9) {
                matched = true;
                transposed += transpose;
                negative += sign < 0;
              }
          CATCH_CHECK(matched);
        }
  // Both orientations and both signs are drawn (300 tiles).
  CATCH_CHECK(transposed > 50);
  CATCH_CHECK(transposed < 250);
  CATCH_CHECK(negative > 50);
  CATCH_CHECK(negative < 250);
}
