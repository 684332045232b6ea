// Per-image ε (perturb with epsilons) and the robust radius (minimal_epsilon): agreement with the scalar
// attack, the bracket each radius stands for, and what is refused.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>

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

using Trained = labelrep_test::TinyModel;

// The tests' tiny model (tiny_models.hpp), kept in float64 so that a batch and its images one by one
// round alike.
Trained trained(bool categorical) {
  auto t = labelrep_test::train_tiny(categorical);
  t.model->to(torch::kFloat64);
  return t;
}

// In float64, as the radius tests' models.
data::Batch test_batch(std::int64_t n) {
  auto batch = labelrep_test::quadrant_batch(n);
  batch.images = batch.images.to(torch::kFloat64);
  return batch;
}

attack::AttackOptions options_for(const std::string& name) {
  return labelrep_test::options_named(kStats, name).steps(4).seed(3).queries(30);
}

// Whether image i of `images`, attacked alone at ε, is broken (untargeted: not `aim`; targeted: `aim`).
bool broken_alone(Trained& t, const torch::Tensor& images, const torch::Tensor& aims, std::int64_t i, const attack::AttackOptions& options,
                  double epsilon) {
  auto alone = options;
  alone.epsilon(epsilon);
  const auto image = images.slice(0, i, i + 1), aim = aims.slice(0, i, i + 1);
  const auto adversarial = attack::perturb(t.model, *t.labels, image, aim, alone);
  torch::NoGradGuard no_grad;
  const auto predicted = eval::NearestNeighborEvaluator(t.labels).predict(t.model->forward(adversarial));
  return options.targeted() ? predicted.eq(aim).item<bool>() : predicted.ne(aim).item<bool>();
}

}  // namespace

CATCH_TEST_CASE("perturb with one epsilon per image: equal ones are the scalar attack, others each image's own", "[attack]") {
  auto t = trained(false);
  const auto batch = test_batch(16);
  const auto targets = attack::random_targets(batch.targets, 4, 5);
  for (const char* name : {"fgsm", "bim-targeted", "pgd", "apgd-margin", "noise", "square"}) {
    for (const auto norm : {attack::Norm::kLinf, attack::Norm::kL2}) {
      if (norm == attack::Norm::kL2 && std::string(name) == "square") continue;
      CATCH_INFO(name << " " << attack::norm_name(norm));
      auto options = options_for(name).norm(norm);
      const auto aims = options.targeted() ? targets : batch.targets;
      const double epsilon = norm == attack::Norm::kL2 ? 2.0 : 0.4;
      // The same draws and the same arithmetic: exactly perturb's result.
      const auto scalar = attack::perturb(t.model, *t.labels, batch.images, aims, options.epsilon(epsilon).unit(attack::EpsilonUnit::kNormalized));
      const auto equal = attack::perturb(t.model, *t.labels, batch.images, aims, options, torch::full({16}, epsilon, torch::kFloat64));
      CATCH_CHECK(torch::equal(scalar, equal));
      // Different ε: each image within its own ball, ε = 0 unchanged.
      auto epsilons = torch::linspace(0.0, epsilon, 16, torch::kFloat64);
      const auto own = attack::perturb(t.model, *t.labels, batch.images, aims, options, epsilons);
      const auto delta = (own - batch.images).flatten(1);
      const auto size = norm == attack::Norm::kL2 ? delta.pow(2).sum(1).sqrt() : delta.abs().amax(1);
      CATCH_CHECK((size <= epsilons * (1 + 1e-9) + 1e-12).all().item<bool>());
      CATCH_CHECK(torch::equal(own[0], batch.images[0]));
      CATCH_CHECK(size[15].item<double>() > 0.5 * epsilon);  // the largest ε did move its image
    }
  }
  // FGSM and BIM use no draws: each image as if attacked alone at its ε (float64: the same rounding).
  const auto epsilons = torch::linspace(0.05, 0.8, 16, torch::kFloat64);
  for (const char* name : {"fgsm", "bim", "bim-margin-targeted"}) {
    CATCH_INFO(name);
    const auto options = options_for(name);
    const auto aims = options.targeted() ? targets : batch.targets;
    const auto together = attack::perturb(t.model, *t.labels, batch.images, aims, options, epsilons);
    for (std::int64_t i = 0; i < 16; ++i) {
      auto alone = options;
      alone.epsilon(epsilons[i].item<double>());
      const auto single = attack::perturb(t.model, *t.labels, batch.images.slice(0, i, i + 1), aims.slice(0, i, i + 1), alone);
      CATCH_CHECK((together[i] - single[0]).abs().max().item<double>() <= 1e-9);
    }
  }
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch.images, batch.targets, options_for("fgsm"), torch::ones({15})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch.images, batch.targets, options_for("fgsm"), -torch::ones({16})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch.images, batch.targets, options_for("fgsm"), torch::ones({16}, torch::kLong)),
                        InvalidArgument);
  auto nan = torch::ones({16});
  nan[3] = std::nan("");
  CATCH_CHECK_THROWS_AS(attack::perturb(t.model, *t.labels, batch.images, batch.targets, options_for("fgsm"), nan), InvalidArgument);
}

CATCH_TEST_CASE("minimal_epsilon: each radius is an eps that breaks the image, half a bracket below does not", "[attack]") {
  for (const bool categorical : {true, false}) {
    auto t = trained(categorical);
    const auto batch = test_batch(40);
    const auto targets = attack::random_targets(batch.targets, 4, 2);
    for (const char* name : {"bim", "bim-targeted", "fgsm-margin", "bim-margin"}) {
      for (const auto norm : {attack::Norm::kLinf, attack::Norm::kL2}) {
        CATCH_INFO(name << (categorical ? " categorical " : " composite ") << attack::norm_name(norm));
        const auto options = options_for(name).norm(norm);
        const double max_epsilon = norm == attack::Norm::kL2 ? 12.0 : 1.5;
        const std::int64_t bisections = 7;
        const auto aims = options.targeted() ? targets : batch.targets;
        const auto radius = attack::minimal_epsilon(t.model, *t.labels, batch.images, aims,
                                                    attack::RadiusOptions(options).max_epsilon(max_epsilon).bisections(bisections));
        CATCH_REQUIRE(radius.sizes() == torch::IntArrayRef({40}));
        CATCH_CHECK(radius.scalar_type() == torch::kFloat64);
        const double width = max_epsilon / std::pow(2.0, bisections);
        std::int64_t found = 0;
        torch::Tensor clean;
        {
          torch::NoGradGuard no_grad;
          clean = eval::NearestNeighborEvaluator(t.labels).predict(t.model->forward(batch.images));
        }
        for (std::int64_t i = 0; i < 40; ++i) {
          const double r = radius[i].item<double>();
          const bool broken_clean = options.targeted() ? clean[i].item<std::int64_t>() == aims[i].item<std::int64_t>()
                                                       : clean[i].item<std::int64_t>() != aims[i].item<std::int64_t>();
          CATCH_CHECK((r == 0) == broken_clean);
          if (r == 0) continue;
          if (std::isinf(r)) {
            CATCH_CHECK_FALSE(broken_alone(t, batch.images, aims, i, options, max_epsilon));
            continue;
          }
          ++found;
          CATCH_CHECK(r <= max_epsilon);
          // A multiple of the final bracket's width: max_epsilon · k / 2^bisections.
          CATCH_CHECK(std::abs(r / width - std::round(r / width)) < 1e-9);
          CATCH_CHECK(broken_alone(t, batch.images, aims, i, options, r));
          if (r > width) CATCH_CHECK_FALSE(broken_alone(t, batch.images, aims, i, options, r - width));
        }
        // Enough images broken in the range for the checks above to mean something (this model: 10 to 40 of
        // the 40; BIM on the composite model's loss breaks the fewest).
        CATCH_CHECK(found >= 5);
      }
    }
  }
}

CATCH_TEST_CASE("minimal_epsilon runs every attack, and refuses bad search options", "[attack]") {
  auto t = trained(true);
  const auto batch = test_batch(24);
  for (const char* name : {"pgd", "apgd", "apgd-margin-targeted", "square"}) {
    CATCH_INFO(name);
    const auto options = attack::RadiusOptions(options_for(name)).max_epsilon(2.0).bisections(4);
    const auto aims = options.attack().targeted() ? attack::random_targets(batch.targets, 4, 1) : batch.targets;
    const auto radius = attack::minimal_epsilon(t.model, *t.labels, batch.images, aims, options);
    CATCH_CHECK(((radius >= 0) & (radius.le(2.0) | torch::isinf(radius))).all().item<bool>());
    CATCH_CHECK((radius > 0).any().item<bool>());
    CATCH_CHECK(torch::equal(radius, attack::minimal_epsilon(t.model, *t.labels, batch.images, aims, options)));  // seeded
  }
  const auto radius = attack::RadiusOptions(options_for("bim"));
  CATCH_CHECK_THROWS_AS(attack::RadiusOptions(radius).max_epsilon(0).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::RadiusOptions(radius).max_epsilon(std::numeric_limits<double>::infinity()).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::RadiusOptions(radius).bisections(0).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(attack::RadiusOptions(radius).bisections(51).validate(), InvalidArgument);
  // Square's L2 search, with each image's own radius.
  const auto l2_square = attack::RadiusOptions(options_for("square").norm(attack::Norm::kL2).queries(100)).max_epsilon(8.0).bisections(4);
  const auto l2_radius = attack::minimal_epsilon(t.model, *t.labels, batch.images, batch.targets, l2_square);
  CATCH_CHECK(((l2_radius >= 0) & (l2_radius.le(8.0) | torch::isinf(l2_radius))).all().item<bool>());
  CATCH_CHECK(((l2_radius > 0) & (l2_radius < 8.0)).any().item<bool>());
  CATCH_CHECK_THROWS_AS(attack::minimal_epsilon(t.model, *t.labels, batch.images, batch.targets.slice(0, 0, 3), radius), InvalidArgument);
  const auto none = attack::minimal_epsilon(t.model, *t.labels, batch.images.slice(0, 0, 0), batch.targets.slice(0, 0, 0), radius);
  CATCH_CHECK(none.numel() == 0);
}
