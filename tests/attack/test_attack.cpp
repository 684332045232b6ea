// Attacks on tiny models trained inside the test: bounds, effect, agreement with a per-image
// reference written here, mode and gradient hygiene, targets, the sweep's bookkeeping, bad input.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "labelrep/attack/attack.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/eval/interval.hpp"
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

const data::ChannelStatistics& kStats = labelrep_test::kTinyStats;
constexpr double kLow = (0.0 - 0.3) / 0.3, kHigh = (1.0 - 0.3) / 0.3;  // the valid box of normalised pixels

using Tiny = labelrep_test::TinyModel;

Tiny& tiny(bool categorical) {
  static Tiny category = labelrep_test::train_tiny(true), composite = labelrep_test::train_tiny(false);
  return categorical ? category : composite;
}

// Normalised test images and their classes.
data::Batch test_batch(std::int64_t n = 48) { return labelrep_test::quadrant_batch(n); }

std::vector<attack::AttackKind> all_kinds() {
  std::vector<attack::AttackKind> kinds;
  for (const char* name : {"fgsm", "fgsm-targeted", "bim", "bim-targeted", "pgd", "pgd-targeted"}) kinds.push_back(attack::parse_attack(name));
  return kinds;
}

// The gradient attacks on the decision margin.
std::vector<attack::AttackKind> margin_kinds() {
  std::vector<attack::AttackKind> kinds;
  for (const char* name : {"fgsm-margin", "fgsm-margin-targeted", "bim-margin", "bim-margin-targeted", "pgd-margin", "pgd-margin-targeted"})
    kinds.push_back(attack::parse_attack(name));
  return kinds;
}

// The gradient attacks on the DLR loss.
std::vector<attack::AttackKind> dlr_kinds() {
  std::vector<attack::AttackKind> kinds;
  for (const char* name : {"fgsm-dlr", "fgsm-dlr-targeted", "bim-dlr", "bim-dlr-targeted", "pgd-dlr", "pgd-dlr-targeted"})
    kinds.push_back(attack::parse_attack(name));
  return kinds;
}

attack::AttackOptions options_for(const attack::AttackKind& kind, double epsilon) {
  return attack::AttackOptions(kStats).method(kind.method).targeted(kind.targeted).objective(kind.objective).epsilon(epsilon).seed(4).queries(50);
}

torch::Tensor predict(Tiny& t, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  return eval::NearestNeighborEvaluator(t.labels).predict(t.model->forward(images));
}

double loss_to(Tiny& t, const torch::Tensor& images, const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  return train::label_loss(t.model->forward(images), ids, *t.labels).item<double>();
}

// One image's objective to class `cls` (tiny_models.hpp); `targeted`: `cls` is the target.
torch::Tensor reference_objective(const labels::LabelRepresentation& labels, const torch::Tensor& out, std::int64_t cls,
                                  attack::Objective objective, bool targeted) {
  if (objective == attack::Objective::kDlr) return labelrep_test::reference_dlr(labels, out, cls, targeted);
  return labelrep_test::reference_objective(labels, out, cls, objective == attack::Objective::kMargin);
}

// The straightforward version: one image at a time, the loss written out, clip to the ε-ball, then
// to the box. `epsilon` and `alpha` are in normalised units; `start` (PGD) is U(−1, 1) noise [C, H, W].
torch::Tensor reference_attack(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& image,
                               std::int64_t cls, bool targeted, std::int64_t steps, double epsilon, double alpha,
                               const torch::Tensor& start, attack::Objective objective = attack::Objective::kLoss) {
  const auto x = image.unsqueeze(0);
  auto adversarial = x.clone();
  if (start.defined()) adversarial = (x + epsilon * start.unsqueeze(0).to(x.dtype())).clamp(kLow, kHigh);
  for (std::int64_t s = 0; s < steps; ++s) {
    auto input = adversarial.detach().requires_grad_(true);
    const auto loss = reference_objective(labels, model->forward(input), cls, objective, targeted);
    const auto gradient = torch::autograd::grad({loss}, {input})[0];
    adversarial = input.detach() + (targeted ? -alpha : alpha) * gradient.sign();
    adversarial = torch::min(torch::max(adversarial, x - epsilon), x + epsilon).clamp(kLow, kHigh);
  }
  return adversarial[0];
}

// APGD written out for one image (Croce & Hein 2020, as docs/robustness.md states it): from the start,
// each step to z = P(x + η·sign ∇) and then with momentum P(x + 0.75(z − x) + 0.25(x − x_previous));
// checkpoints after 22% of the steps, then intervals 3% shorter down to 6%; at a checkpoint η halves and
// the search goes back to the best point if the objective rose in at most 75% of the interval's steps,
// or if the best did not improve and η did not halve at the last checkpoint. Stops at the first
// broken point; else returns the best point.
torch::Tensor reference_apgd(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& image, std::int64_t cls,
                             bool targeted, std::int64_t steps, double epsilon, const torch::Tensor& start, attack::Objective objective) {
  const auto x = image.unsqueeze(0);
  const auto lower = (x - epsilon).clamp(kLow, kHigh), upper = (x + epsilon).clamp(kLow, kHigh);
  const auto project = [&](const torch::Tensor& p) { return torch::min(torch::max(p, lower), upper); };
  const double direction = targeted ? -1.0 : 1.0;
  const eval::NearestNeighborEvaluator evaluator(std::shared_ptr<const labels::LabelRepresentation>(std::shared_ptr<void>(), &labels));
  double value = 0;
  torch::Tensor sign;
  // Sets value and sign at p; true if p is broken.
  const auto probe = [&](const torch::Tensor& p) {
    auto input = p.detach().requires_grad_(true);
    const auto out = model->forward(input);
    const auto objective_value = reference_objective(labels, out, cls, objective, targeted) * direction;
    value = objective_value.item<double>();
    sign = torch::autograd::grad({objective_value}, {input})[0].sign();
    const auto predicted = evaluator.predict(out.detach())[0].item<std::int64_t>();
    return targeted ? predicted == cls : predicted != cls;
  };
  auto current = (x + epsilon * start.unsqueeze(0).to(x.dtype())).clamp(kLow, kHigh);
  if (probe(current)) return current[0];
  auto previous = current, best = current, best_sign = sign;
  double best_value = value, best_at_checkpoint = value, eta = 2.0;
  bool halved_last = false;
  std::int64_t rises = 0;
  const auto at_least_one = [&](double share) { return std::max<std::int64_t>(1, static_cast<std::int64_t>(share * static_cast<double>(steps))); };
  std::int64_t interval = at_least_one(0.22), checkpoint = interval;
  for (std::int64_t step = 1; step <= steps; ++step) {
    const auto z = project(current + eta * epsilon * sign);
    const auto next = step == 1 ? z : project(current + 0.75 * (z - current) + 0.25 * (current - previous));
    previous = current;
    current = next;
    const double last_value = value;
    const bool broken = probe(current);
    if (broken) return current[0];
    if (value > last_value) ++rises;
    if (value > best_value) {
      best_value = value;
      best = current;
      best_sign = sign;
    }
    if (step == checkpoint) {
      const bool halve = static_cast<double>(rises) <= 0.75 * static_cast<double>(interval) || (!halved_last && best_value <= best_at_checkpoint);
      if (halve) {
        eta /= 2;
        current = best;
        sign = best_sign;
      }
      halved_last = halve;
      best_at_checkpoint = best_value;
      rises = 0;
      interval = std::max(interval - at_least_one(0.03), at_least_one(0.06));
      checkpoint += interval;
    }
  }
  return best[0];
}
}  // namespace

CATCH_TEST_CASE("attacks stay within epsilon in the unit given and inside the valid pixel box", "[attack]") {
  const auto batch = test_batch();
  const auto targets = attack::random_targets(batch.targets, 4, 1);
  for (const bool categorical : {true, false}) {
    auto& t = tiny(categorical);
    auto kinds = all_kinds();
    for (const char* name : {"square", "square-targeted", "apgd", "apgd-margin-targeted"}) kinds.push_back(attack::parse_attack(name));
    for (const auto& kind : kinds) {
      const auto ids = kind.targeted ? targets : batch.targets;
      CATCH_INFO("attack " << attack::attack_name(kind) << (categorical ? " categorical" : " composite"));
      // Normalised units; a step of ε moves some pixels by exactly ε.
      auto adversarial = attack::perturb(t.model, *t.labels, batch.images, ids, options_for(kind, 0.1));
      CATCH_CHECK(adversarial.sizes() == batch.images.sizes());
      CATCH_CHECK(adversarial.scalar_type() == torch::kFloat32);
      auto delta = (adversarial - batch.images).abs().max().item<double>();
      CATCH_CHECK(delta <= 0.1 + 1e-6);
      CATCH_CHECK(delta >= 0.1 - 1e-6);
      // Pixel units: ε/std on the normalised image.
      adversarial = attack::perturb(t.model, *t.labels, batch.images, ids, options_for(kind, 0.03).unit(attack::EpsilonUnit::kPixel));
      delta = ((adversarial - batch.images).abs() * kStats.std[0]).max().item<double>();
      CATCH_CHECK(delta <= 0.03 + 1e-6);
      CATCH_CHECK(delta >= 0.03 - 1e-6);
      CATCH_CHECK(adversarial.min().item<double>() >= kLow - 1e-6);
      CATCH_CHECK(adversarial.max().item<double>() <= kHigh + 1e-6);
      // A large ε runs into the box on both sides.
      adversarial = attack::perturb(t.model, *t.labels, batch.images, ids, options_for(kind, 3.0));
      CATCH_CHECK((adversarial - batch.images).abs().max().item<double>() <= 3.0 + 1e-6);
      CATCH_CHECK(adversarial.min().item<double>() >= kLow - 1e-6);
      CATCH_CHECK(adversarial.max().item<double>() <= kHigh + 1e-6);
      CATCH_CHECK(adversarial.min().item<double>() <= kLow + 1e-6);
      CATCH_CHECK(adversarial.max().item<double>() >= kHigh - 1e-6);
      // ε = 0: the images themselves.
      CATCH_CHECK(torch::equal(attack::perturb(t.model, *t.labels, batch.images, ids, options_for(kind, 0.0)), batch.images));
    }
  }
}

CATCH_TEST_CASE("on a trained tiny model untargeted attacks raise the loss and targeted ones approach the target label", "[attack]") {
  const auto batch = test_batch();
  for (const bool categorical : {true, false}) {
    auto& t = tiny(categorical);
    CATCH_INFO((categorical ? "categorical" : "composite"));
    const auto clean = predict(t, batch.images);
    const auto keep = clean.eq(batch.targets).nonzero().squeeze(1);
    CATCH_REQUIRE(keep.numel() >= 40);  // the tiny model has learnt the quadrants
    const auto x = batch.images.index_select(0, keep), y = batch.targets.index_select(0, keep);
    const auto target = attack::random_targets(y, 4, 7);
    const eval::NearestNeighborEvaluator evaluator(t.labels);
    for (const auto& kind : all_kinds()) {
      CATCH_INFO("attack " << attack::attack_name(kind));
      const auto adversarial = attack::perturb(t.model, *t.labels, x, kind.targeted ? target : y, options_for(kind, 0.3));
      if (!kind.targeted) {
        CATCH_CHECK(loss_to(t, adversarial, y) > loss_to(t, x, y));
      } else {
        CATCH_CHECK(loss_to(t, adversarial, target) < loss_to(t, x, target));
        if (!categorical) {  // the evaluator's (squared-error) distance to the target label shrinks too
          torch::NoGradGuard no_grad;
          const auto before = evaluator.distances(t.model->forward(x)).gather(1, target.unsqueeze(1)).mean().item<double>();
          const auto after = evaluator.distances(t.model->forward(adversarial)).gather(1, target.unsqueeze(1)).mean().item<double>();
          CATCH_CHECK(after < before);
        }
      }
    }
    // Strong iterative attacks succeed: accuracy falls, targets are reached. (Untargeted, the composite
    // model keeps 75% at ε = 2: raising the loss to the true label need not lead to another label.)
    auto strong = options_for(attack::parse_attack("bim"), 2.0).steps(10);
    const auto fooled = predict(t, attack::perturb(t.model, *t.labels, x, y, strong));
    CATCH_CHECK(fooled.eq(y).to(torch::kFloat).mean().item<double>() < (categorical ? 0.5 : 0.9));
    const auto reached = predict(t, attack::perturb(t.model, *t.labels, x, target, strong.targeted(true)));
    CATCH_CHECK(reached.eq(target).to(torch::kFloat).mean().item<double>() > 0.5);
  }
}

CATCH_TEST_CASE("batched attacks agree with a per-image reference implementation", "[attack]") {
  // In float64, so that batched and single-image kernels round alike and sign(∇) cannot flip.
  const auto batch = test_batch(24);
  const auto x = batch.images.to(torch::kFloat64);
  const auto targets = attack::random_targets(batch.targets, 4, 9);
  for (const bool categorical : {true, false}) {
    auto model = models::deep_copy(tiny(categorical).model);
    model->to(torch::kFloat64);
    model->eval();
    const auto& labels = *tiny(categorical).labels;
    auto kinds = all_kinds();
    for (const auto& kind : margin_kinds()) kinds.push_back(kind);
    for (const auto& kind : dlr_kinds()) kinds.push_back(kind);
    for (const auto& kind : kinds) {
      for (const bool pixel : {false, true}) {
        CATCH_INFO("attack " << attack::attack_name(kind) << (categorical ? " categorical" : " composite") << (pixel ? " pixel" : ""));
        const double epsilon = pixel ? 0.05 : 0.15, normalised = pixel ? epsilon / kStats.std[0] : epsilon;
        const std::int64_t steps = kind.method == attack::Method::kFgsm ? 1 : 4;
        const double alpha = kind.method == attack::Method::kFgsm ? normalised
                             : kind.method == attack::Method::kPgd ? 2.5 * normalised / static_cast<double>(steps)
                                                                  : normalised / static_cast<double>(steps);
        auto options = options_for(kind, epsilon).steps(steps).seed(21);
        if (pixel) options.unit(attack::EpsilonUnit::kPixel);
        const auto ids = kind.targeted ? targets : batch.targets;
        const auto batched = attack::perturb(model, labels, x, ids, options);
        CATCH_CHECK(batched.scalar_type() == torch::kFloat64);
        const auto start = kind.method == attack::Method::kPgd ? attack::pgd_random_start(x.sizes(), 21) : torch::Tensor();
        std::vector<torch::Tensor> one_by_one;
        for (std::int64_t i = 0; i < x.size(0); ++i)
          one_by_one.push_back(reference_attack(model, labels, x[i], ids[i].item<std::int64_t>(), kind.targeted, steps, normalised, alpha,
                                                start.defined() ? start[i] : torch::Tensor(), kind.objective));
        const auto reference = torch::stack(one_by_one);
        CATCH_CHECK((batched - reference).abs().max().item<double>() <= 1e-5);
        CATCH_CHECK((batched - x).abs().max().item<double>() > 0.5 * normalised);  // it did move
      }
    }
  }
}

CATCH_TEST_CASE("attacks restore the model's mode, leave weights, statistics and .grad alone, and work under NoGradGuard", "[attack]") {
  const auto batch = test_batch(16);
  auto model = models::deep_copy(tiny(false).model);
  const auto& labels = *tiny(false).labels;
  std::vector<torch::Tensor> before;
  for (const auto& p : model->parameters()) before.push_back(p.detach().clone());
  for (const auto& b : model->buffers()) before.push_back(b.detach().clone());
  const auto options = options_for(attack::parse_attack("bim"), 0.2);

  model->eval();
  const auto in_eval = attack::perturb(model, labels, batch.images, batch.targets, options);
  CATCH_CHECK_FALSE(model->is_training());
  model->train();
  const auto in_train = attack::perturb(model, labels, batch.images, batch.targets, options);
  CATCH_CHECK(model->is_training());
  CATCH_CHECK(torch::equal(in_train, in_eval));  // attacked in eval mode either way
  std::size_t i = 0;
  for (const auto& p : model->parameters()) {
    CATCH_CHECK(torch::equal(p, before[i++]));
    CATCH_CHECK_FALSE(p.grad().defined());
  }
  for (const auto& b : model->buffers()) CATCH_CHECK(torch::equal(b, before[i++]));  // BatchNorm statistics unchanged

  {
    torch::NoGradGuard no_grad;
    const auto guarded = attack::perturb(model, labels, batch.images, batch.targets, options);
    CATCH_CHECK_FALSE(torch::GradMode::is_enabled());
    CATCH_CHECK(torch::equal(guarded, in_eval));
    CATCH_CHECK_FALSE(guarded.requires_grad());
  }

  const auto sweep = attack::run_sweep(model, tiny(false).labels, quadrants(16, 5), torch::arange(16),
                                       attack::SweepOptions(kStats).attacks({"bim"}).epsilons({0.2}).progress(false));
  CATCH_CHECK(sweep.images == 16);
  CATCH_CHECK(model->is_training());
}

CATCH_TEST_CASE("targets for targeted attacks are seeded, never the true class, and depend only on seed, classes and labels", "[attack]") {
  const auto y = torch::arange(1000) % 10;
  const auto t = attack::random_targets(y, 10, 5);
  CATCH_REQUIRE(t.sizes() == torch::IntArrayRef({1000}));
  CATCH_CHECK(t.scalar_type() == torch::kLong);
  CATCH_CHECK(t.ne(y).all().item<bool>());
  CATCH_CHECK(t.min().item<std::int64_t>() >= 0);
  CATCH_CHECK(t.max().item<std::int64_t>() <= 9);
  CATCH_CHECK(torch::equal(t, attack::random_targets(y.to(torch::kInt), 10, 5)));
  CATCH_CHECK_FALSE(torch::equal(t, attack::random_targets(y, 10, 6)));
  CATCH_CHECK(torch::equal(t.slice(0, 0, 100), attack::random_targets(y.slice(0, 0, 100), 10, 5)));
  // Every other class is drawn, about equally often (900 draws per offset class: 100 ± a few sd).
  const auto offsets = (t - y + 10) % 10;
  const auto counts = torch::bincount(offsets, {}, 10);
  CATCH_CHECK(counts[0].item<std::int64_t>() == 0);
  CATCH_CHECK(counts.slice(0, 1).min().item<std::int64_t>() > 70);
  CATCH_CHECK(torch::equal(attack::random_targets(torch::tensor({0L, 1L, 1L, 0L}), 2, 3), torch::tensor({1L, 0L, 0L, 1L})));
  CATCH_CHECK_THROWS_AS(attack::random_targets(y, 1, 5), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::random_targets(y, 5, 5), InvalidArgument);  // ids up to 9
  CATCH_CHECK_THROWS_AS(attack::random_targets(y, 10, 1ULL << 32), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::random_targets(y.to(torch::kFloat), 10, 5), InvalidArgument);
}

CATCH_TEST_CASE("the sweep counts accuracy over all images, over the initially correct ones, and target hits", "[attack]") {
  const auto set = quadrants(100, 99);
  // Clean accuracy is evaluation's accuracy.
  {
    auto& t = tiny(true);
    const auto r = attack::run_sweep(t.model, t.labels, set, torch::arange(100),
                                     attack::SweepOptions(kStats).attacks({"fgsm"}).epsilons({0.0}).progress(false));
    CATCH_CHECK_FALSE(r.per_image_correct.defined());  // only when asked for
    auto batches = train::evaluation_batches(set, torch::arange(100), kStats);
    const auto clean = train::evaluate(t.model, eval::NearestNeighborEvaluator(t.labels), batches);
    CATCH_CHECK(r.clean_accuracy == clean.accuracy);
    CATCH_CHECK(r.curves[0].points[0].accuracy == clean.accuracy);
  }
  // In float64 from here: the sweep takes FGSM's and BIM's first gradient on the whole batch once for
  // every ε, perturb on the initially correct images alone; in float64 the two round alike.
  auto model = models::deep_copy(tiny(true).model);
  model->to(torch::kFloat64);
  model->eval();
  const auto labels = tiny(true).labels;
  const eval::NearestNeighborEvaluator evaluator(labels);
  const auto options =
      attack::SweepOptions(kStats).attacks({"fgsm", "bim-targeted", "pgd"}).epsilons({0.0, 0.5, 2.0}).seed(3).batch_size(100).progress(false).per_image(true);
  const auto r = attack::run_sweep(model, labels, set, torch::arange(100), options);
  CATCH_REQUIRE(r.curves.size() == 3);
  CATCH_CHECK(r.images == 100);
  const auto batch = test_batch(100);
  const auto x64 = batch.images.to(torch::kFloat64);
  torch::Tensor clean;
  {
    torch::NoGradGuard no_grad;
    clean = evaluator.predict(model->forward(x64));
  }
  CATCH_CHECK(r.initially_correct == clean.eq(batch.targets).sum().item<std::int64_t>());
  CATCH_CHECK(r.clean_accuracy == static_cast<double>(r.initially_correct) / 100.0);
  CATCH_REQUIRE(r.initially_correct > 50);
  for (const auto& curve : r.curves) {
    CATCH_REQUIRE(curve.points.size() == 3);
    CATCH_CHECK(curve.points[0].correct == r.initially_correct);
    CATCH_CHECK(curve.points[0].subset_accuracy == 1.0);
    CATCH_CHECK(curve.points[0].accuracy == r.clean_accuracy);
    for (const auto& p : curve.points) {
      CATCH_CHECK(p.accuracy == static_cast<double>(p.correct) / 100.0);
      CATCH_CHECK(p.subset_accuracy == static_cast<double>(p.correct) / static_cast<double>(r.initially_correct));
      if (curve.kind.targeted) {
        CATCH_CHECK(p.target_hit_rate == static_cast<double>(p.target_hits) / static_cast<double>(r.initially_correct));
        CATCH_CHECK(p.correct + p.target_hits <= r.initially_correct);
      }
    }
  }
  CATCH_CHECK(r.curves[1].points[0].target_hits == 0);
  CATCH_CHECK(r.curves[2].points[2].subset_accuracy < 0.5);  // PGD at ε = 2 breaks the tiny model
  CATCH_CHECK(r.curves[1].points[2].target_hit_rate > 0.5);

  // The same numbers by hand from perturb on the initially correct images.
  const auto correct = clean.eq(batch.targets).nonzero().squeeze(1);
  const auto x = x64.index_select(0, correct), y = batch.targets.index_select(0, correct);
  const auto target = attack::random_targets(batch.targets, 4, 3).index_select(0, correct);
  auto predict64 = [&](const torch::Tensor& images) {
    torch::NoGradGuard no_grad;
    return evaluator.predict(model->forward(images));
  };
  const auto fgsm = predict64(attack::perturb(model, *labels, x, y, options_for(attack::parse_attack("fgsm"), 0.5)));
  CATCH_CHECK(fgsm.eq(y).sum().item<std::int64_t>() == r.curves[0].points[1].correct);
  // Per image: the same outcomes, image by image, in the order of the indices.
  const auto& per_image = r.per_image_correct;
  CATCH_REQUIRE(per_image.sizes() == torch::IntArrayRef({3, 3, 100}));
  CATCH_REQUIRE(r.per_image_target_hit.sizes() == torch::IntArrayRef({3, 3, 100}));
  for (std::int64_t a = 0; a < 3; ++a)
    for (std::int64_t e = 0; e < 3; ++e) {
      CATCH_CHECK(per_image[a][e].sum().item<std::int64_t>() == r.curves[a].points[e].correct);
      CATCH_CHECK(r.per_image_target_hit[a][e].sum().item<std::int64_t>() == r.curves[a].points[e].target_hits);
    }
  CATCH_CHECK(torch::equal(per_image[0][0], clean.eq(batch.targets)));
  CATCH_CHECK(torch::equal(per_image[0][1].index_select(0, correct), fgsm.eq(y)));
  CATCH_CHECK_FALSE(per_image[0][1].masked_select(clean.ne(batch.targets)).any().item<bool>());
  for (const double epsilon : {0.5, 2.0}) {
    const auto bim = predict64(attack::perturb(model, *labels, x, target, options_for(attack::parse_attack("bim-targeted"), epsilon)));
    const auto& point = r.curves[1].points[epsilon == 0.5 ? 1 : 2];
    CATCH_CHECK(bim.eq(target).sum().item<std::int64_t>() == point.target_hits);
    CATCH_CHECK(bim.eq(y).sum().item<std::int64_t>() == point.correct);
  }

  const auto j = nlohmann::json::parse(r.to_json());
  CATCH_CHECK(j["images"] == 100);
  CATCH_CHECK(j["epsilon_unit"] == "normalized");
  CATCH_CHECK(j["labels"] == "category");
  CATCH_REQUIRE(j["attacks"].size() == 3);
  CATCH_CHECK(j["attacks"][1]["attack"] == "bim-targeted");
  CATCH_CHECK(j["attacks"][1]["method"] == "iterative");
  CATCH_CHECK(j["attacks"][1]["targeted"] == true);
  CATCH_CHECK(j["attacks"][1]["points"][2]["epsilon"] == 2.0);
  CATCH_CHECK(j["attacks"][1]["points"][2]["target_hits"] == r.curves[1].points[2].target_hits);
  CATCH_CHECK(j["attacks"][0]["points"][1]["accuracy"].get<double>() == r.curves[0].points[1].accuracy);
  CATCH_CHECK_FALSE(j["attacks"][0]["points"][1].contains("target_hit_rate"));
}

CATCH_TEST_CASE("the sweep's threshold accuracy: attacked outputs within the threshold of the true label", "[attack]") {
  const auto set = quadrants(100, 99);  // the images of test_batch(100)
  auto model = models::deep_copy(tiny(false).model);
  model->to(torch::kFloat64);  // as above: the sweep's batched first step and perturb round alike in float64
  model->eval();
  const auto labels = tiny(false).labels;
  const auto batch = test_batch(100);
  const auto x64 = batch.images.to(torch::kFloat64);
  torch::Tensor clean_outputs;
  {
    torch::NoGradGuard no_grad;
    clean_outputs = model->forward(x64);
  }
  // A threshold that splits the clean outputs (the composite labels' scale is not the paper's 3.5).
  const auto diff = (clean_outputs - labels->targets(batch.targets).to(torch::kFloat64)).abs();
  const auto huber = torch::where(diff < 1.0, 0.5 * diff * diff, diff - 0.5).flatten(1).mean(1);
  const double threshold = huber.median().item<double>() * 1.5;
  const eval::NearestNeighborEvaluator evaluator(labels, eval::NearestNeighborOptions().threshold(threshold));
  const auto r = attack::run_sweep(model, labels, set, torch::arange(100),
                                   attack::SweepOptions(kStats).attacks({"fgsm", "bim"}).epsilons({0.0, 0.5}).threshold(threshold).progress(false));
  CATCH_REQUIRE(r.has_threshold);
  CATCH_CHECK(r.threshold == threshold);
  const auto clean = evaluator.predict(clean_outputs);
  const auto within = evaluator.within_threshold(clean_outputs, batch.targets);
  CATCH_CHECK(r.clean_threshold_accuracy == within.to(torch::kFloat64).mean().item<double>());
  CATCH_REQUIRE(r.clean_threshold_accuracy > 0.2);
  CATCH_REQUIRE(r.clean_threshold_accuracy < 0.99);
  const auto correct = clean.eq(batch.targets);
  const auto keep = correct.nonzero().squeeze(1);
  const auto x = x64.index_select(0, keep), y = batch.targets.index_select(0, keep);
  for (std::size_t a = 0; a < 2; ++a) {
    const auto& points = r.curves[a].points;
    CATCH_CHECK(points[0].threshold_correct == (within & correct).sum().item<std::int64_t>());
    CATCH_CHECK(points[0].threshold_accuracy == static_cast<double>(points[0].threshold_correct) / 100.0);
    const auto adversarial = attack::perturb(model, *labels, x, y, options_for(attack::parse_attack(a == 0 ? "fgsm" : "bim"), 0.5));
    torch::NoGradGuard no_grad;
    const auto hits = evaluator.within_threshold(model->forward(adversarial), y).sum().item<std::int64_t>();
    CATCH_CHECK(points[1].threshold_correct == hits);
    CATCH_CHECK(points[1].threshold_accuracy == static_cast<double>(hits) / 100.0);
    CATCH_CHECK(points[1].threshold_accuracy < points[0].threshold_accuracy);  // the attack moves outputs away
  }
  const auto j = nlohmann::json::parse(r.to_json());
  CATCH_CHECK(j["threshold"].get<double>() == threshold);
  CATCH_CHECK(j["attacks"][1]["points"][1]["threshold_accuracy"].get<double>() == r.curves[1].points[1].threshold_accuracy);

  // Categorical labels have no threshold rule: NaN in the result, absent from the JSON.
  auto& category = tiny(true);
  const auto c = attack::run_sweep(category.model, category.labels, set, torch::arange(20),
                                   attack::SweepOptions(kStats).attacks({"fgsm"}).epsilons({0.0, 0.5}).progress(false));
  CATCH_CHECK_FALSE(c.has_threshold);
  CATCH_CHECK(std::isnan(c.curves[0].points[1].threshold_accuracy));
  CATCH_CHECK_FALSE(nlohmann::json::parse(c.to_json())["attacks"][0]["points"][1].contains("threshold_accuracy"));
  CATCH_CHECK_THROWS_AS(attack::run_sweep(category.model, category.labels, set, torch::arange(20),
                                          attack::SweepOptions(kStats).threshold(0.0).progress(false)),
                        InvalidArgument);
}

CATCH_TEST_CASE("noise moves every pixel by epsilon with a seeded random sign, and cannot be targeted", "[attack]") {
  auto& t = tiny(false);
  const auto batch = test_batch();
  const auto noise = attack::parse_attack("noise");
  CATCH_CHECK(noise.method == attack::Method::kNoise);
  CATCH_CHECK_FALSE(noise.targeted);
  CATCH_CHECK(attack::attack_name(noise) == "noise");
  CATCH_CHECK_THROWS_AS(attack::parse_attack("noise-targeted"), InvalidArgument);
  const auto options = attack::AttackOptions(kStats).method(attack::Method::kNoise).epsilon(0.1).seed(5);
  auto targeted = options;
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch.images, batch.targets, targeted.targeted(true)), InvalidArgument);

  const auto noisy = attack::perturb(t.model, *t.labels, batch.images, batch.targets, options);
  const auto delta = noisy - batch.images;
  CATCH_CHECK(noisy.min().item<double>() >= kLow - 1e-6);
  CATCH_CHECK(noisy.max().item<double>() <= kHigh + 1e-6);
  // Away from the box's edges every pixel moves by exactly ε, up or down about equally often.
  const auto inside = batch.images.gt(kLow + 0.1) & batch.images.lt(kHigh - 0.1);
  CATCH_REQUIRE(inside.sum().item<std::int64_t>() > 1000);
  CATCH_CHECK(((delta.abs() - 0.1).abs().masked_select(inside)).max().item<double>() < 1e-6);
  const double up = delta.gt(0).masked_select(inside).to(torch::kDouble).mean().item<double>();
  CATCH_CHECK(up > 0.45);
  CATCH_CHECK(up < 0.55);
  // Seeded: the same seed gives the same noise, another seed other noise, and the signs are not those
  // of PGD's random start with the same seed.
  CATCH_CHECK(torch::equal(attack::perturb(t.model, *t.labels, batch.images, batch.targets, options), noisy));
  auto reseeded = options;
  CATCH_CHECK_FALSE(torch::equal(attack::perturb(t.model, *t.labels, batch.images, batch.targets, reseeded.seed(6)), noisy));
  const auto pgd_sign = attack::pgd_random_start(batch.images.sizes(), 5).gt(0);
  const double same = pgd_sign.eq(delta.gt(0)).masked_select(inside).to(torch::kDouble).mean().item<double>();
  CATCH_CHECK(same > 0.45);
  CATCH_CHECK(same < 0.55);
}

namespace {

// A hand-made sweep over ε ∈ {0, 0.1, 0.2} with 200 initially correct images (tolerance 2 images).
attack::SweepCurve curve(const std::string& name, std::vector<std::int64_t> correct, std::vector<std::int64_t> hits = {0, 0, 0}) {
  attack::SweepCurve c;
  c.attack = name;
  c.kind = attack::parse_attack(name);
  const double epsilons[] = {0.0, 0.1, 0.2};
  for (std::size_t i = 0; i < 3; ++i) {
    attack::SweepPoint p;
    p.epsilon = epsilons[i];
    p.correct = correct[i];
    p.target_hits = hits[i];
    c.points.push_back(p);
  }
  return c;
}

attack::SweepResult healthy_sweep() {
  attack::SweepResult r;
  r.images = 250;
  r.initially_correct = 200;
  r.zero_gradient_images = 0;
  r.curves = {curve("fgsm", {200, 120, 80}), curve("fgsm-targeted", {200, 150, 140}, {0, 30, 25}), curve("bim", {200, 60, 20}),
              curve("bim-targeted", {200, 100, 50}, {0, 50, 90}), curve("noise", {200, 195, 190})};
  return r;
}

const attack::MaskingCheck* find_check(const std::vector<attack::MaskingCheck>& checks, const std::string& check, const std::string& name) {
  for (const auto& c : checks)
    if (c.check == check && c.attack == name) return &c;
  return nullptr;
}

bool passes(const attack::SweepResult& r, const std::string& check, const std::string& name) {
  const auto checks = attack::check_gradient_masking(r);
  const auto* c = find_check(checks, check, name);
  if (!c) throw std::runtime_error("no " + check + " check for '" + name + "'");
  return c->passed;
}

}  // namespace

CATCH_TEST_CASE("check_gradient_masking flags noise beating an attack, iterative weaker than FGSM, non-monotone curves and zero gradients",
                "[attack]") {
  const auto healthy = healthy_sweep();
  const auto checks = attack::check_gradient_masking(healthy);
  // zero-gradient; fgsm: noise, monotone; bim: noise, iterative, monotone; bim-targeted: iterative, monotone.
  // Targeted FGSM (which may overshoot) and the noise itself are not checked.
  CATCH_CHECK(checks.size() == 8);
  for (const auto& c : checks) {
    CATCH_INFO(c.check << " " << c.attack << ": " << c.detail);
    CATCH_CHECK(c.passed);
  }
  CATCH_CHECK(find_check(checks, "not-monotone", "fgsm-targeted") == nullptr);
  CATCH_CHECK(find_check(checks, "noise-beats-attack", "bim-targeted") == nullptr);

  auto r = healthy;
  r.zero_gradient_images = 3;
  CATCH_CHECK_FALSE(passes(r, "zero-gradient", ""));
  r.zero_gradient_images.reset();
  CATCH_CHECK(find_check(attack::check_gradient_masking(r), "zero-gradient", "") == nullptr);

  r = healthy;
  r.curves[4] = curve("noise", {200, 100, 190});  // noise leaves 100 correct at ε 0.1, FGSM 120
  CATCH_CHECK_FALSE(passes(r, "noise-beats-attack", "fgsm"));
  CATCH_CHECK(passes(r, "noise-beats-attack", "bim"));
  const auto flagged = attack::check_gradient_masking(r);
  CATCH_CHECK(find_check(flagged, "noise-beats-attack", "fgsm")->detail.find("eps 0.1") != std::string::npos);
  r.curves[4] = curve("noise", {200, 118, 190});  // within the tolerance of 2 images
  CATCH_CHECK(passes(r, "noise-beats-attack", "fgsm"));
  r.curves.pop_back();
  CATCH_CHECK(find_check(attack::check_gradient_masking(r), "noise-beats-attack", "fgsm") == nullptr);

  r = healthy;
  r.unbounded_correct = 2;  // within the tolerance
  CATCH_CHECK(passes(r, "unbounded-attack", ""));
  r.unbounded_correct = 3;
  CATCH_CHECK_FALSE(passes(r, "unbounded-attack", ""));
  CATCH_CHECK(find_check(attack::check_gradient_masking(r), "unbounded-attack", "")->detail.find("3 of 200") != std::string::npos);

  // Square, the black-box attack, is compared with every gradient attack of its kind.
  r = healthy;
  r.curves.push_back(curve("square", {200, 90, 30}));
  r.curves.push_back(curve("square-targeted", {200, 120, 60}, {0, 40, 80}));
  CATCH_CHECK(attack::check_gradient_masking(r).size() == 8 + 2);  // BIM and targeted BIM; one FGSM step need not beat a search
  CATCH_CHECK(find_check(attack::check_gradient_masking(r), "square-beats-attack", "fgsm") == nullptr);
  CATCH_CHECK(passes(r, "square-beats-attack", "bim"));
  CATCH_CHECK(passes(r, "square-beats-attack", "bim-targeted"));
  CATCH_CHECK(find_check(attack::check_gradient_masking(r), "not-monotone", "square") == nullptr);  // not a gradient attack
  r.curves[5] = curve("square", {200, 50, 30});  // Square leaves 50 correct at ε 0.1, BIM 60
  CATCH_CHECK_FALSE(passes(r, "square-beats-attack", "bim"));
  CATCH_CHECK(find_check(attack::check_gradient_masking(r), "square-beats-attack", "bim")->detail.find("Square leaves 50") != std::string::npos);
  r.curves[3] = curve("bim-targeted", {200, 100, 50}, {0, 50, 77});  // 77 targets at ε 0.2, Square 80
  CATCH_CHECK_FALSE(passes(r, "square-beats-attack", "bim-targeted"));

  r = healthy;
  r.curves[2] = curve("bim", {200, 130, 20});  // BIM leaves 130 correct at ε 0.1, FGSM 120
  CATCH_CHECK_FALSE(passes(r, "iterative-weaker-than-fgsm", "bim"));
  CATCH_CHECK(passes(r, "not-monotone", "bim"));
  r.curves[3] = curve("bim-targeted", {200, 100, 50}, {0, 20, 90});  // 20 targets at ε 0.1, targeted FGSM 30
  CATCH_CHECK_FALSE(passes(r, "iterative-weaker-than-fgsm", "bim-targeted"));

  r = healthy;
  r.curves[0] = curve("fgsm", {200, 80, 120});  // more correct at ε 0.2 than at 0.1
  CATCH_CHECK_FALSE(passes(r, "not-monotone", "fgsm"));
  r.curves[0] = curve("fgsm", {200, 80, 82});  // within the tolerance
  CATCH_CHECK(passes(r, "not-monotone", "fgsm"));
  r.curves[3] = curve("bim-targeted", {200, 100, 50}, {0, 90, 50});  // fewer targets at the larger ε
  CATCH_CHECK_FALSE(passes(r, "not-monotone", "bim-targeted"));

  const auto j = nlohmann::json::parse([&] {
    auto with_checks = healthy;
    with_checks.masking_checks = checks;
    return with_checks.to_json();
  }());
  CATCH_CHECK(j["zero_gradient_images"] == 0);
  CATCH_REQUIRE(j["masking_checks"].size() == 8);
  CATCH_CHECK(j["masking_checks"][0]["check"] == "zero-gradient");
  CATCH_CHECK(j["masking_checks"][0]["passed"] == true);
  CATCH_CHECK(j["attacks"][4]["method"] == "noise");
  CATCH_CHECK_FALSE(j.contains("unbounded_correct"));
}

CATCH_TEST_CASE("the sweep runs the noise baseline, counts zero gradients and checks for gradient masking", "[attack]") {
  const auto set = quadrants(100, 99);
  auto& t = tiny(true);
  const auto options = attack::SweepOptions(kStats).attacks({"fgsm", "bim", "noise"}).epsilons({0.0, 0.3, 1.0}).batch_size(40).progress(false);
  const auto r = attack::run_sweep(t.model, t.labels, set, torch::arange(100), options);
  CATCH_REQUIRE(r.curves.size() == 3);
  const auto& noise = r.curves[2];
  CATCH_CHECK(noise.kind.method == attack::Method::kNoise);
  CATCH_CHECK(noise.points[0].correct == r.initially_correct);
  for (const auto& p : noise.points) CATCH_CHECK(p.correct <= r.initially_correct);
  CATCH_REQUIRE(r.zero_gradient_images.has_value());
  CATCH_CHECK(*r.zero_gradient_images == 0);
  // The trained tiny model masks nothing: its checks pass (BIM at ε = 1 breaks it, noise does not).
  CATCH_CHECK(r.curves[1].points[2].correct < noise.points[2].correct);
  // The unbounded BIM breaks every image of the trained model.
  CATCH_REQUIRE(r.unbounded_correct.has_value());
  CATCH_CHECK(*r.unbounded_correct == 0);
  CATCH_CHECK(find_check(r.masking_checks, "unbounded-attack", "") != nullptr);
  CATCH_CHECK(r.masking_checks.size() == 7);
  for (const auto& c : r.masking_checks) {
    CATCH_INFO(c.check << " " << c.attack << ": " << c.detail);
    CATCH_CHECK(c.passed);
  }
  // Without an untargeted FGSM or BIM the gradient at x is not taken, and zero gradients are not counted.
  const auto noise_only = attack::run_sweep(t.model, t.labels, set, torch::arange(100), attack::SweepOptions(options).attacks({"noise"}));
  CATCH_CHECK_FALSE(noise_only.zero_gradient_images.has_value());
  CATCH_CHECK_FALSE(noise_only.unbounded_correct.has_value());
  const auto unchecked = attack::run_sweep(t.model, t.labels, set, torch::arange(100), attack::SweepOptions(options).unbounded_check(false));
  CATCH_CHECK_FALSE(unchecked.unbounded_correct.has_value());
  CATCH_CHECK(unchecked.masking_checks.size() == 6);
  CATCH_CHECK(unchecked.curves[1].points[2].correct == r.curves[1].points[2].correct);  // the check changes no curve
  CATCH_CHECK(noise_only.masking_checks.empty());
  CATCH_CHECK(noise_only.curves[0].points[2].correct == noise.points[2].correct);  // the same seeded noise

  // A model whose output does not depend on its input: every attacked image has a zero gradient.
  auto flat = models::deep_copy(t.model);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : flat->parameters()) p.zero_();
  }
  flat->eval();
  const auto masked = attack::run_sweep(flat, t.labels, set, torch::arange(100), options);
  CATCH_REQUIRE(masked.initially_correct > 0);
  CATCH_CHECK(*masked.zero_gradient_images == masked.initially_correct);
  CATCH_CHECK_FALSE(find_check(masked.masking_checks, "zero-gradient", "")->passed);
  // Nothing changes its output, so the unbounded attack leaves every image correct.
  CATCH_CHECK(*masked.unbounded_correct == masked.initially_correct);
  CATCH_CHECK_FALSE(find_check(masked.masking_checks, "unbounded-attack", "")->passed);
  const auto j = nlohmann::json::parse(masked.to_json());
  CATCH_CHECK(j["zero_gradient_images"] == masked.initially_correct);
  CATCH_CHECK(j["unbounded_correct"] == masked.initially_correct);
  CATCH_CHECK(j["masking_checks"][0]["passed"] == false);
}

CATCH_TEST_CASE("Square breaks images from the model's outputs alone, seeded, keeping what the stripes broke", "[attack]") {
  const auto square = attack::parse_attack("square");
  CATCH_CHECK(square.method == attack::Method::kSquare);
  CATCH_CHECK(attack::attack_name(attack::parse_attack("square-targeted")) == "square-targeted");
  const auto batch = test_batch();
  for (const bool categorical : {true, false}) {
    CATCH_INFO((categorical ? "categorical" : "composite"));
    auto& t = tiny(categorical);
    const auto clean = predict(t, batch.images);
    const auto keep = clean.eq(batch.targets).nonzero().squeeze(1);
    const auto x = batch.images.index_select(0, keep), y = batch.targets.index_select(0, keep);
    // At ε = 1 BIM breaks 43 of 48 (categorical) and 12 of 48 (composite) images, Square all but a few.
    const auto options = attack::AttackOptions(kStats).method(attack::Method::kSquare).epsilon(1.0).seed(3).queries(200);
    const auto adversarial = attack::perturb(t.model, *t.labels, x, y, options);
    const auto broken = predict(t, adversarial).ne(y);
    CATCH_CHECK(broken.sum().item<std::int64_t>() >= x.size(0) * 3 / 4);
    // The first query's stripes are drawn first, whatever the budget: what they break stays broken.
    auto stripes_only = options;
    const auto stripes = attack::perturb(t.model, *t.labels, x, y, stripes_only.queries(1));
    const auto broken_by_stripes = predict(t, stripes).ne(y);
    CATCH_CHECK_FALSE((broken_by_stripes & broken.logical_not()).any().item<bool>());
    CATCH_CHECK(broken.sum().item<std::int64_t>() > broken_by_stripes.sum().item<std::int64_t>());  // the search adds to them
    // The stripes: one sign per channel and column, so rows away from the box's edges are equal.
    const auto delta = attack::perturb(t.model, *t.labels, x, y, stripes_only.epsilon(0.6)) - x;
    const auto inside = x.gt(kLow + 0.6) & x.lt(kHigh - 0.6);
    const auto column_signs = delta.gt(0);
    CATCH_REQUIRE(inside.any().item<bool>());
    CATCH_CHECK(((delta.abs() - 0.6).abs().masked_select(inside)).max().item<double>() < 1e-6);
    const auto first_row = column_signs.select(2, 0).unsqueeze(2).expand_as(column_signs);
    const auto edge_free_column = inside.all(2, true).expand_as(column_signs);
    CATCH_CHECK(torch::equal(column_signs.masked_select(edge_free_column), first_row.masked_select(edge_free_column)));
    // Seeded.
    CATCH_CHECK(torch::equal(attack::perturb(t.model, *t.labels, x, y, options), adversarial));
    auto reseeded = options;
    CATCH_CHECK_FALSE(torch::equal(attack::perturb(t.model, *t.labels, x, y, reseeded.seed(4)), adversarial));
    // Targeted: aims at the target and reaches some.
    const auto target = attack::random_targets(y, 4, 7);
    auto targeted = options;
    const auto reached = predict(t, attack::perturb(t.model, *t.labels, x, target, targeted.targeted(true))).eq(target);
    CATCH_CHECK(reached.sum().item<std::int64_t>() >= x.size(0) / 2);
  }
  // In a sweep: a curve like any other, its budget recorded, and checks against it.
  const auto set = quadrants(60, 99);
  auto& t = tiny(true);
  const auto r = attack::run_sweep(t.model, t.labels, set, torch::arange(60),
                                   attack::SweepOptions(kStats).attacks({"bim", "square"}).epsilons({0.0, 0.6}).queries(100).progress(false));
  CATCH_CHECK(r.queries == 100);
  CATCH_CHECK(r.curves[1].points[1].correct < r.initially_correct);
  CATCH_CHECK(find_check(r.masking_checks, "square-beats-attack", "bim") != nullptr);
  CATCH_CHECK(nlohmann::json::parse(r.to_json())["queries"] == 100);
  CATCH_CHECK(nlohmann::json::parse(r.to_json())["attacks"][1]["method"] == "square");
  // Bad budgets.
  const auto batch8 = test_batch(8);
  auto bad = attack::AttackOptions(kStats).method(attack::Method::kSquare).epsilon(0.1);
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch8.images, batch8.targets, bad.queries(0)), InvalidArgument);
  bad = attack::AttackOptions(kStats).method(attack::Method::kSquare).epsilon(0.1);
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch8.images, batch8.targets, bad.square_fraction(0.0)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch8.images, batch8.targets, bad.square_fraction(1.5)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::run_sweep(t.model, t.labels, set, torch::arange(8), attack::SweepOptions(kStats).queries(0)), InvalidArgument);
  // The margin is an objective of the gradient attacks only.
  bad = attack::AttackOptions(kStats).method(attack::Method::kSquare).epsilon(0.1);
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch8.images, batch8.targets, bad.objective(attack::Objective::kMargin)), InvalidArgument);
  bad = attack::AttackOptions(kStats).method(attack::Method::kNoise).epsilon(0.1);
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch8.images, batch8.targets, bad.objective(attack::Objective::kMargin)), InvalidArgument);
}

CATCH_TEST_CASE("the margin objective breaks the nearest-label model that the training loss's gradient does not", "[attack]") {
  const auto batch = test_batch();
  for (const bool categorical : {true, false}) {
    CATCH_INFO((categorical ? "categorical" : "composite"));
    auto& t = tiny(categorical);
    const auto keep = predict(t, batch.images).eq(batch.targets).nonzero().squeeze(1);
    const auto x = batch.images.index_select(0, keep), y = batch.targets.index_select(0, keep);
    const auto target = attack::random_targets(y, 4, 7);
    auto broken = [&](const char* name, double epsilon) {
      const auto kind = attack::parse_attack(name);
      const auto& ids = kind.targeted ? target : y;
      const auto p = predict(t, attack::perturb(t.model, *t.labels, x, ids, options_for(kind, epsilon).steps(10)));
      return (kind.targeted ? p.eq(ids) : p.ne(ids)).sum().item<std::int64_t>();
    };
    // At ε = 1 the training loss's BIM breaks 12 of 48 composite images: raising the loss to the
    // true label need not lead to another label. The margin leads there.
    const auto by_margin = broken("bim-margin", 1.0), by_loss = broken("bim", 1.0);
    CATCH_CHECK(by_margin >= x.size(0) * 3 / 4);
    if (!categorical) CATCH_CHECK(by_margin > by_loss + x.size(0) / 4);
    CATCH_CHECK(broken("bim-margin-targeted", 1.0) >= x.size(0) / 3);
  }
  // In a sweep: its own curve, "objective" in the JSON, compared with FGSM on the margin.
  auto& t = tiny(false);
  const auto set = quadrants(60, 99);
  const auto r = attack::run_sweep(t.model, t.labels, set, torch::arange(60),
                                   attack::SweepOptions(kStats).attacks({"fgsm", "fgsm-margin", "bim-margin"}).epsilons({0.0, 1.0}).progress(false));
  CATCH_CHECK(r.curves[2].kind.objective == attack::Objective::kMargin);
  CATCH_CHECK(r.curves[2].points[1].correct < r.curves[0].points[1].correct);
  const auto* iterative = find_check(r.masking_checks, "iterative-weaker-than-fgsm", "bim-margin");
  CATCH_REQUIRE(iterative != nullptr);
  CATCH_CHECK(iterative->detail.find("fgsm-margin") != std::string::npos);
  const auto j = nlohmann::json::parse(r.to_json());
  CATCH_CHECK(j["attacks"][0]["objective"] == "loss");
  CATCH_CHECK(j["attacks"][2]["objective"] == "margin");
  CATCH_CHECK(j["attacks"][2]["attack"] == "bim-margin");
}

CATCH_TEST_CASE("APGD agrees with a per-image reference and keeps each image's first broken point or its best one", "[attack]") {
  // In float64, so that batched and single-image kernels round alike and no comparison can flip.
  struct Case {
    bool categorical;
    const char* name;
    double epsilon;
    std::int64_t steps, seed, images;
  };
  std::vector<Case> cases;
  for (const bool categorical : {true, false})
    for (const char* name : {"apgd", "apgd-targeted", "apgd-margin", "apgd-margin-targeted", "apgd-dlr", "apgd-dlr-targeted"})
      for (const double epsilon : {0.15, 0.6}) cases.push_back({categorical, name, epsilon, 12, 21, 24});  // checkpoints after 2, 3, 4, … steps
  // Images broken at a step that is also a checkpoint where η halves (the loss objective; found by a
  // review): they must keep the point that broke them, not go back to their best one.
  cases.push_back({false, "apgd", 0.6, 12, 21, 200});
  cases.push_back({false, "apgd-targeted", 0.6, 5, 3, 200});
  std::int64_t partly_broken = 0;  // runs where some images broke and some did not: both ends of the search
  for (const auto& c : cases) {
    CATCH_INFO("attack " << c.name << (c.categorical ? " categorical" : " composite") << " eps " << c.epsilon << " on " << c.images
                         << " images, " << c.steps << " steps");
    const auto batch = test_batch(c.images);
    const auto x = batch.images.to(torch::kFloat64);
    auto model = models::deep_copy(tiny(c.categorical).model);
    model->to(torch::kFloat64);
    model->eval();
    const auto& labels = *tiny(c.categorical).labels;
    const eval::NearestNeighborEvaluator evaluator(tiny(c.categorical).labels);
    const auto kind = attack::parse_attack(c.name);
    CATCH_CHECK(kind.method == attack::Method::kApgd);
    CATCH_CHECK(attack::attack_name(kind) == c.name);
    const auto ids = kind.targeted ? attack::random_targets(batch.targets, 4, 9) : batch.targets;
    const auto batched = attack::perturb(model, labels, x, ids, options_for(kind, c.epsilon).steps(c.steps).seed(static_cast<std::uint64_t>(c.seed)));
    const auto start = attack::pgd_random_start(x.sizes(), static_cast<std::uint64_t>(c.seed));
    std::vector<torch::Tensor> one_by_one;
    for (std::int64_t i = 0; i < x.size(0); ++i)
      one_by_one.push_back(reference_apgd(model, labels, x[i], ids[i].item<std::int64_t>(), kind.targeted, c.steps, c.epsilon, start[i],
                                          kind.objective));
    const auto reference = torch::stack(one_by_one);
    torch::NoGradGuard no_grad;
    const auto broken_count = [&](const torch::Tensor& images) {
      const auto predicted = evaluator.predict(model->forward(images));
      return (kind.targeted ? predicted.eq(ids) : predicted.ne(ids)).sum().item<std::int64_t>();
    };
    const auto broken = broken_count(batched);
    if (!c.categorical && kind.objective != attack::Objective::kLoss) {
      // The evaluator measures distances to labels in float32, the reference in float64: a rare
      // comparison of two nearly equal values may go the other way.
      const auto differing = (batched - reference).abs().flatten(1).amax(1).gt(1e-9).sum().item<std::int64_t>();
      CATCH_CHECK(differing <= c.images / 20);
      CATCH_CHECK(std::abs(broken - broken_count(reference)) <= 1);
    } else {
      CATCH_CHECK((batched - reference).abs().max().item<double>() <= 1e-9);
    }
    if (broken > 0 && broken < x.size(0)) ++partly_broken;
  }
  CATCH_CHECK(partly_broken >= 4);

  // Float32, as users run it: an image the search did not break ends no lower than where it started.
  const auto batch = test_batch(24);
  auto& t = tiny(false);
  const auto kind = attack::parse_attack("apgd");
  const auto clean = predict(t, batch.images);
  const auto keep = clean.eq(batch.targets).nonzero().squeeze(1);
  const auto xs = batch.images.index_select(0, keep), ys = batch.targets.index_select(0, keep);
  const auto adversarial = attack::perturb(t.model, *t.labels, xs, ys, options_for(kind, 0.3).steps(10).seed(5));
  const auto start = torch::clamp(xs + 0.3 * attack::pgd_random_start(xs.sizes(), 5), kLow, kHigh);
  torch::NoGradGuard no_grad;
  const auto loss_at = [&](const torch::Tensor& images) {
    return train::per_image_label_loss(t.model->forward(images), ys, *t.labels);
  };
  const auto unbroken = predict(t, adversarial).eq(ys);
  CATCH_REQUIRE(unbroken.any().item<bool>());
  CATCH_CHECK((loss_at(adversarial) - loss_at(start)).masked_select(unbroken).min().item<double>() >= -1e-6);
  // Seeded; and on the margin it breaks the composite model as BIM on the margin does (the margin test).
  CATCH_CHECK(torch::equal(attack::perturb(t.model, *t.labels, xs, ys, options_for(kind, 0.3).steps(10).seed(5)), adversarial));
  const auto by_margin = predict(t, attack::perturb(t.model, *t.labels, xs, ys, options_for(attack::parse_attack("apgd-margin"), 1.0).steps(10)));
  CATCH_CHECK(by_margin.ne(ys).sum().item<std::int64_t>() >= xs.size(0) * 3 / 4);

  // In a sweep, APGD takes apgd_steps where given, and the other attacks keep `steps`: the curves are
  // those of sweeps that give every attack those steps.
  const auto set = quadrants(60, 99);
  const auto base =
      attack::SweepOptions(kStats).attacks({"fgsm", "bim", "apgd-margin", "noise"}).epsilons({0.0, 0.3}).per_image(true).progress(false);
  const auto mixed = attack::run_sweep(t.model, t.labels, set, torch::arange(60), attack::SweepOptions(base).steps(3).apgd_steps(7));
  const auto three = attack::run_sweep(t.model, t.labels, set, torch::arange(60), attack::SweepOptions(base).steps(3));
  const auto seven = attack::run_sweep(t.model, t.labels, set, torch::arange(60), attack::SweepOptions(base).steps(7));
  CATCH_CHECK(mixed.curves[0].steps == 1);
  CATCH_CHECK(mixed.curves[1].steps == 3);
  CATCH_CHECK(mixed.curves[2].steps == 7);
  CATCH_CHECK(mixed.curves[3].steps == 0);
  CATCH_CHECK(three.curves[2].steps == 3);
  CATCH_CHECK(torch::equal(mixed.per_image_correct[1], three.per_image_correct[1]));
  CATCH_CHECK(torch::equal(mixed.per_image_correct[2], seven.per_image_correct[2]));
  const auto j = nlohmann::json::parse(mixed.to_json());
  CATCH_CHECK(j["steps"] == 3);
  CATCH_CHECK(j["attacks"][2]["steps"] == 7);
  CATCH_CHECK_FALSE(j["attacks"][3].contains("steps"));  // noise takes no gradient step
  CATCH_CHECK_THROWS_AS(attack::run_sweep(t.model, t.labels, set, torch::arange(8), attack::SweepOptions(base).apgd_steps(-1)), InvalidArgument);
}

CATCH_TEST_CASE("PGD and APGD restarts only ever break more images, deterministically", "[attack]") {
  const auto set = quadrants(100, 99);
  const std::pair<bool, const char*> runs[] = {{true, "pgd"}, {false, "pgd"}, {true, "apgd"}, {false, "apgd"}};
  for (const auto& [categorical, family] : runs) {
    CATCH_INFO((categorical ? "categorical " : "composite ") << family);
    auto& t = tiny(categorical);
    const std::string untargeted = family;
    const auto options = attack::SweepOptions(kStats)
                             .attacks({untargeted, untargeted + "-targeted"})
                             .epsilons({0.0, 0.3, 0.6})
                             .seed(2)
                             .batch_size(50)
                             .progress(false)
                             .per_image(true);
    const auto once = attack::run_sweep(t.model, t.labels, set, torch::arange(100), options);
    const auto thrice = attack::run_sweep(t.model, t.labels, set, torch::arange(100), attack::SweepOptions(options).restarts(3));
    const auto again = attack::run_sweep(t.model, t.labels, set, torch::arange(100), attack::SweepOptions(options).restarts(3));
    CATCH_CHECK(once.restarts == 1);
    CATCH_CHECK(thrice.restarts == 3);
    std::int64_t gained = 0;
    for (std::size_t a = 0; a < 2; ++a)
      for (std::size_t e = 0; e < 3; ++e) {
        const auto &p1 = once.curves[a].points[e], &p3 = thrice.curves[a].points[e];
        CATCH_INFO(once.curves[a].attack << " at eps " << p1.epsilon);
        // A restart can only add broken images and reached targets.
        CATCH_CHECK(p3.correct <= p1.correct);
        CATCH_CHECK(p3.target_hits >= p1.target_hits);
        CATCH_CHECK(p3.correct == again.curves[a].points[e].correct);
        CATCH_CHECK(p3.target_hits == again.curves[a].points[e].target_hits);
        // Per image over two batches of 50: each image's flags at its own position.
        const auto ai = static_cast<std::int64_t>(a), ei = static_cast<std::int64_t>(e);
        CATCH_CHECK(thrice.per_image_correct[ai][ei].sum().item<std::int64_t>() == p3.correct);
        CATCH_CHECK(thrice.per_image_target_hit[ai][ei].sum().item<std::int64_t>() == p3.target_hits);
        // Image by image: broken once, broken with three restarts; a target reached stays reached; an
        // image no restart broke keeps the first restart's outcome.
        const auto& c1 = once.per_image_correct[ai][ei];
        const auto& c3 = thrice.per_image_correct[ai][ei];
        const auto& h1 = once.per_image_target_hit[ai][ei];
        const auto& h3 = thrice.per_image_target_hit[ai][ei];
        CATCH_CHECK_FALSE((c3 & c1.logical_not()).any().item<bool>());
        CATCH_CHECK_FALSE((h1 & h3.logical_not()).any().item<bool>());
        if (once.curves[a].kind.targeted) CATCH_CHECK(torch::equal(c1.masked_select(h3.logical_not()), c3.masked_select(h3.logical_not())));
        gained += once.curves[a].kind.targeted ? p3.target_hits - p1.target_hits : p1.correct - p3.correct;
      }
    CATCH_CHECK(gained > 0);  // on these models the extra starts find images the first one missed
    // The worst case: images that every attack left correct, image by image.
    CATCH_REQUIRE(thrice.worst_case.size() == 3);
    for (std::int64_t e = 0; e < 3; ++e) {
      const auto& w = thrice.worst_case[static_cast<std::size_t>(e)];
      CATCH_CHECK(w.epsilon == thrice.curves[0].points[static_cast<std::size_t>(e)].epsilon);
      CATCH_CHECK(w.correct == thrice.per_image_correct.select(1, e).all(0).sum().item<std::int64_t>());
      for (const auto& c : thrice.curves) CATCH_CHECK(w.correct <= c.points[static_cast<std::size_t>(e)].correct);
      CATCH_CHECK(w.accuracy == static_cast<double>(w.correct) / 100.0);
      // Its 95% Wilson interval over the 100 images, as for every point.
      const auto interval = eval::wilson_interval(w.correct, 100);
      CATCH_CHECK(w.accuracy_low == interval.low);
      CATCH_CHECK(w.accuracy_high == interval.high);
      CATCH_CHECK(w.accuracy_low <= w.accuracy);
      CATCH_CHECK(w.accuracy_high >= w.accuracy);
      const auto& point = thrice.curves[0].points[static_cast<std::size_t>(e)];
      CATCH_CHECK(point.accuracy_low == eval::wilson_interval(point.correct, 100).low);
      CATCH_CHECK(point.accuracy_high == eval::wilson_interval(point.correct, 100).high);
    }
    CATCH_CHECK(thrice.worst_case[0].correct == thrice.initially_correct);
    CATCH_CHECK(nlohmann::json::parse(thrice.to_json())["worst_case"][2]["correct"] == thrice.worst_case[2].correct);
    CATCH_CHECK(nlohmann::json::parse(thrice.to_json())["worst_case"][2]["accuracy_ci95"][1] == thrice.worst_case[2].accuracy_high);
    CATCH_CHECK(nlohmann::json::parse(thrice.to_json())["attacks"][0]["points"][1]["accuracy_ci95"][0] == thrice.curves[0].points[1].accuracy_low);
    CATCH_CHECK(nlohmann::json::parse(thrice.to_json())["restarts"] == 3);
  }
  auto& t = tiny(true);
  CATCH_CHECK_THROWS_AS(attack::run_sweep(t.model, t.labels, set, torch::arange(4), attack::SweepOptions(kStats).restarts(0)), InvalidArgument);
}

CATCH_TEST_CASE("attacks refuse bad input with InvalidArgument", "[attack]") {
  auto& t = tiny(false);
  const auto batch = test_batch(8);
  const auto ok = attack::AttackOptions(kStats).method(attack::Method::kIterative).epsilon(0.1);
  auto run = [&](const attack::AttackOptions& o, const torch::Tensor& images, const torch::Tensor& ids) {
    return attack::perturb(t.model, *t.labels, images, ids, o);
  };
  CATCH_CHECK_NOTHROW(run(ok, batch.images, batch.targets));
  auto options = ok;
  CATCH_CHECK_THROWS_AS(run(options.epsilon(-0.1), batch.images, batch.targets), InvalidArgument);
  options = ok;
  CATCH_CHECK_THROWS_AS(run(options.epsilon(std::nan("")), batch.images, batch.targets), InvalidArgument);
  options = ok;
  CATCH_CHECK_THROWS_AS(run(options.steps(0), batch.images, batch.targets), InvalidArgument);
  options = ok;
  CATCH_CHECK_THROWS_AS(run(options.step_fraction(-1), batch.images, batch.targets), InvalidArgument);
  CATCH_CHECK_THROWS_AS(run(attack::AttackOptions(data::ChannelStatistics{{0.3}, {0.0}}).epsilon(0.1), batch.images, batch.targets),
                        InvalidArgument);
  CATCH_CHECK_THROWS_AS(run(attack::AttackOptions(data::ChannelStatistics{{0.3, 0.3, 0.3}, {0.3, 0.3, 0.3}}).epsilon(0.1), batch.images,
                            batch.targets),
                        InvalidArgument);  // 3 channels of statistics, 1-channel images
  CATCH_CHECK_THROWS_AS(run(ok, batch.images[0], batch.targets), InvalidArgument);                        // [C, H, W]
  CATCH_CHECK_THROWS_AS(run(ok, batch.images.to(torch::kLong), batch.targets), InvalidArgument);          // not floating point
  CATCH_CHECK_THROWS_AS(run(ok, batch.images, batch.targets.slice(0, 0, 7)), InvalidArgument);            // 7 ids, 8 images
  CATCH_CHECK_THROWS_AS(run(ok, batch.images, batch.targets.unsqueeze(1)), InvalidArgument);              // [N, 1]
  CATCH_CHECK_THROWS_AS(run(ok, batch.images, batch.targets.to(torch::kFloat)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(run(ok, batch.images, torch::full({8}, 4, torch::kLong)), InvalidArgument);                    // class 4 of 4
  // Labels whose shape the model's outputs do not have.
  const labels::UniformLabels other(labels::UniformLabelsOptions(4).height(6).width(6));
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, other, batch.images, batch.targets, ok), InvalidArgument);
  models::Model empty{nullptr};
  CATCH_CHECK_THROWS_AS(attack::perturb(empty, *t.labels, batch.images, batch.targets, ok), InvalidArgument);

  try {
    attack::parse_attack("fgsm2");
    CATCH_FAIL("parse_attack accepted fgsm2");
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("'fgsm2'") != std::string::npos);
  }
  CATCH_CHECK_THROWS_AS(attack::parse_attack(""), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::parse_epsilon_unit("pixels"), InvalidArgument);
  CATCH_CHECK(attack::parse_epsilon_unit("pixel") == attack::EpsilonUnit::kPixel);
  auto named = all_kinds();
  for (const auto& kind : margin_kinds()) named.push_back(kind);
  for (const auto& kind : dlr_kinds()) named.push_back(kind);
  for (const auto& kind : named) {
    const auto back = attack::parse_attack(attack::attack_name(kind));
    CATCH_CHECK(back.method == kind.method);
    CATCH_CHECK(back.targeted == kind.targeted);
    CATCH_CHECK(back.objective == kind.objective);
  }
  CATCH_CHECK(attack::attack_name(attack::parse_attack("bim-margin-targeted")) == "bim-margin-targeted");
  CATCH_CHECK_THROWS_AS(attack::parse_attack("noise-margin"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::parse_attack("square-margin"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::parse_attack("bim-targeted-margin"), InvalidArgument);

  const auto set = quadrants(8, 5);
  const auto sweep = attack::SweepOptions(kStats).progress(false);
  auto sweep_with = [&](const attack::SweepOptions& o) { return attack::run_sweep(t.model, t.labels, set, torch::arange(8), o); };
  auto s = sweep;
  CATCH_CHECK_THROWS_AS(sweep_with(s.attacks({})), InvalidArgument);
  s = sweep;
  CATCH_CHECK_THROWS_AS(sweep_with(s.attacks({"fgsm", "cw"})), InvalidArgument);
  s = sweep;
  CATCH_CHECK_THROWS_AS(sweep_with(s.epsilons({})), InvalidArgument);
  s = sweep;
  CATCH_CHECK_THROWS_AS(sweep_with(s.epsilons({0.1, -0.05})), InvalidArgument);
  s = sweep;
  CATCH_CHECK_THROWS_AS(sweep_with(s.batch_size(0)), InvalidArgument);
  s = sweep;
  CATCH_CHECK_THROWS_AS(sweep_with(s.steps(0)), InvalidArgument);
  s = sweep;
  CATCH_CHECK_THROWS_AS(sweep_with(s.seed(1ULL << 32)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::run_sweep(t.model, nullptr, set, torch::arange(8), sweep), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::run_sweep(t.model, t.labels, set, torch::arange(9), sweep), InvalidArgument);  // index 8 of 8
  const auto three = data::ImageDataset(torch::zeros({4, 1, 12, 12}, torch::kUInt8), torch::arange(4) % 3, {"a", "b", "c"}, "three");
  CATCH_CHECK_THROWS_AS(attack::run_sweep(t.model, t.labels, three, torch::arange(4), sweep), InvalidArgument);  // 3 classes, 4 labels
}

CATCH_TEST_CASE("attacks run on CUDA on the model's device", "[attack][cuda]") {
  if (!torch::cuda::is_available()) {
    CATCH_WARN("no CUDA device: skipped");
    return;
  }
  auto& t = tiny(false);
  auto model = models::deep_copy(t.model, torch::Device(torch::kCUDA));
  const auto batch = test_batch(32);
  auto kinds = all_kinds();
  for (const auto& kind : margin_kinds()) kinds.push_back(kind);
  for (const auto& kind : kinds) {
    CATCH_INFO("attack " << attack::attack_name(kind));
    const auto adversarial = attack::perturb(model, *t.labels, batch.images, batch.targets, options_for(kind, 0.2));  // CPU inputs
    CATCH_CHECK(adversarial.device().is_cuda());
    const auto delta = (adversarial.cpu() - batch.images).abs().max().item<double>();
    CATCH_CHECK(delta <= 0.2 + 1e-6);
    CATCH_CHECK(delta >= 0.2 - 1e-6);
    CATCH_CHECK(adversarial.min().item<double>() >= kLow - 1e-6);
    CATCH_CHECK(adversarial.max().item<double>() <= kHigh + 1e-6);
    // Mostly the same perturbation as on the CPU (float rounding may flip the sign of tiny gradients).
    const auto cpu = attack::perturb(t.model, *t.labels, batch.images, batch.targets, options_for(kind, 0.2));
    CATCH_CHECK((adversarial.cpu() - cpu).abs().gt(1e-4).to(torch::kFloat).mean().item<double>() < 0.01);
  }
  // Square and APGD: the same draws on every device, but a value compared in other rounding may take
  // another path, so only their bounds are checked here (and those of an attack on the DLR loss, whose
  // top-k sort may break ties of scores otherwise).
  for (const char* name : {"square", "square-targeted", "apgd", "apgd-margin-targeted", "apgd-dlr", "bim-dlr-targeted", "apgd-t-dlr"}) {
    CATCH_INFO("attack " << name);
    const auto adversarial = attack::perturb(model, *t.labels, batch.images, batch.targets, options_for(attack::parse_attack(name), 0.2).queries(20));
    CATCH_CHECK(adversarial.device().is_cuda());
    CATCH_CHECK((adversarial.cpu() - batch.images).abs().max().item<double>() <= 0.2 + 1e-6);
    CATCH_CHECK(adversarial.min().item<double>() >= kLow - 1e-6);
    CATCH_CHECK(adversarial.max().item<double>() <= kHigh + 1e-6);
  }
  // The L2 ball: the same bound on the GPU (the random directions are drawn on the CPU, so PGD's and
  // the noise's start the same on every device).
  for (const char* name : {"fgsm", "bim-targeted", "pgd", "apgd-margin", "noise", "square"}) {
    CATCH_INFO("L2 attack " << name);
    const auto options = options_for(attack::parse_attack(name), 1.0).norm(attack::Norm::kL2).queries(20);
    const auto adversarial = attack::perturb(model, *t.labels, batch.images, batch.targets, options);
    CATCH_CHECK(adversarial.device().is_cuda());
    CATCH_CHECK((adversarial.cpu() - batch.images).flatten(1).pow(2).sum(1).sqrt().max().item<double>() <= 1.0 + 1e-5);
    CATCH_CHECK(adversarial.min().item<double>() >= kLow - 1e-6);
    CATCH_CHECK(adversarial.max().item<double>() <= kHigh + 1e-6);
  }
  const auto r = attack::run_sweep(model, t.labels, quadrants(64, 99).to(torch::kCUDA), torch::arange(64),
                                   attack::SweepOptions(kStats)
                                       .attacks({"fgsm", "bim-targeted", "bim-margin", "apgd-margin", "square"})
                                       .epsilons({0, 0.3})
                                       .queries(20)
                                       .restarts(2)
                                       .progress(false));
  CATCH_CHECK(r.images == 64);
  CATCH_CHECK(r.curves[0].points[0].subset_accuracy == 1.0);
  CATCH_REQUIRE(r.unbounded_correct.has_value());
  for (const auto& c : r.curves) CATCH_CHECK(r.worst_case[1].correct <= c.points[1].correct);
}
