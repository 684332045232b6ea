#include "labelrep/train/recipe.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "labelrep/core/error.hpp"

namespace labelrep::train {
namespace {

// Cosine interpolation from `from` (fraction 0) to `to` (fraction 1), as PyTorch's OneCycleLR anneals.
double cosine_between(double from, double to, double fraction) {
  return to + (from - to) / 2.0 * (1.0 + std::cos(M_PI * fraction));
}

// One-cycle position: the phase (rising or falling) and the fraction of that phase done.
struct CyclePhase {
  bool rising;
  double fraction;
};

CyclePhase one_cycle_phase(const TrainingRecipe& recipe, double epoch) {
  const double done = std::clamp(epoch / static_cast<double>(recipe.epochs()), 0.0, 1.0);
  const double rise = recipe.one_cycle_rise();
  if (done < rise) return {true, done / rise};
  return {false, (done - rise) / (1.0 - rise)};
}

// PyTorch's OneCycleLR defaults (div_factor 25, final_div_factor 1e4, base/max momentum 0.85/0.95).
constexpr double kOneCycleDivFactor = 25.0, kOneCycleFinalDivFactor = 1e4;
constexpr double kOneCycleBaseMomentum = 0.85, kOneCycleMaxMomentum = 0.95;

}  // namespace

const char* schedule_name(Schedule schedule) { return schedule == Schedule::kOneCycle ? "one-cycle" : "step"; }

Schedule parse_schedule(const std::string& name) {
  if (name == "step") return Schedule::kStep;
  if (name == "one-cycle") return Schedule::kOneCycle;
  throw InvalidArgument(fmt::format("schedule '{}' is not step or one-cycle", name));
}

void TrainingRecipe::validate() const {
  auto positive = [](double v, const char* name) {
    if (!(v > 0) || !std::isfinite(v)) throw InvalidArgument(fmt::format("recipe: {} must be positive, got {}", name, v));
  };
  positive(learning_rate(), "learning_rate");
  if (!(momentum() >= 0 && momentum() < 1)) throw InvalidArgument(fmt::format("recipe: momentum must be in [0, 1), got {}", momentum()));
  if (!(weight_decay() >= 0) || !std::isfinite(weight_decay()))
    throw InvalidArgument(fmt::format("recipe: weight_decay must be finite and >= 0, got {}", weight_decay()));
  if (batch_size() < 1 || batch_size() > (1 << 20)) throw InvalidArgument(fmt::format("recipe: batch_size must be in [1, 2^20], got {}", batch_size()));
  if (epochs() < 1 || epochs() > 100000) throw InvalidArgument(fmt::format("recipe: epochs must be in [1, 100000], got {}", epochs()));
  for (double m : milestones())
    if (!(m > 0 && m < 1)) throw InvalidArgument(fmt::format("recipe: milestones are epoch fractions in (0, 1), got {}", m));
  positive(gamma(), "gamma");
  if (!(warmup_epochs() >= 0 && warmup_epochs() < static_cast<double>(epochs())))
    throw InvalidArgument(fmt::format("recipe: warmup_epochs must be in [0, epochs), got {}", warmup_epochs()));
  if (!(one_cycle_rise() > 0 && one_cycle_rise() < 1))
    throw InvalidArgument(fmt::format("recipe: one_cycle_rise must be in (0, 1), got {}", one_cycle_rise()));
  if (schedule() == Schedule::kOneCycle && warmup_epochs() > 0)
    throw InvalidArgument("recipe: warmup_epochs must be 0 with the one-cycle schedule (its rise is the warm-up)");
}

TrainingRecipe paper_recipe(const std::string& encoder, bool categorical) {
  TrainingRecipe r;
  r.epochs(categorical ? 200 : 600);
  if (encoder == "vgg19" && categorical) r.weight_decay(5e-4);
  return r;
}

double learning_rate_at(const TrainingRecipe& recipe, double epoch) {
  recipe.validate();  // an invalid recipe (no epochs, a rise of 1) would give NaN without a word
  if (recipe.schedule() == Schedule::kOneCycle) {
    const double peak = recipe.learning_rate(), start = peak / kOneCycleDivFactor, end = start / kOneCycleFinalDivFactor;
    const auto phase = one_cycle_phase(recipe, epoch);
    return phase.rising ? cosine_between(start, peak, phase.fraction) : cosine_between(peak, end, phase.fraction);
  }
  double lr = recipe.learning_rate();
  // A milestone that falls on epoch 0 (very short runs) would only lower the starting rate: skip it.
  for (double m : recipe.milestones()) {
    const double at = std::floor(m * static_cast<double>(recipe.epochs()));
    if (at >= 1 && epoch >= at) lr *= recipe.gamma();
  }
  if (recipe.warmup_epochs() > 0 && epoch < recipe.warmup_epochs())
    lr *= 0.1 + 0.9 * epoch / recipe.warmup_epochs();
  return lr;
}

double momentum_at(const TrainingRecipe& recipe, double epoch) {
  recipe.validate();
  if (recipe.schedule() != Schedule::kOneCycle) return recipe.momentum();
  const auto phase = one_cycle_phase(recipe, epoch);
  return phase.rising ? cosine_between(kOneCycleMaxMomentum, kOneCycleBaseMomentum, phase.fraction)
                      : cosine_between(kOneCycleBaseMomentum, kOneCycleMaxMomentum, phase.fraction);
}

}  // namespace labelrep::train
