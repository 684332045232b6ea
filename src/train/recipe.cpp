#include "labelrep/train/recipe.hpp"

#include <cmath>
#include <fmt/format.h>

#include "labelrep/core/error.hpp"

namespace labelrep::train {

void TrainingRecipe::validate() const {
  auto positive = [](double v, const char* name) {
    if (!(v > 0) || !std::isfinite(v)) throw InvalidArgument(fmt::format("recipe: {} must be positive, got {}", name, v));
  };
  positive(learning_rate(), "learning_rate");
  if (!(momentum() >= 0 && momentum() < 1)) throw InvalidArgument(fmt::format("recipe: momentum must be in [0, 1), got {}", momentum()));
  if (!(weight_decay() >= 0)) throw InvalidArgument(fmt::format("recipe: weight_decay must be >= 0, got {}", weight_decay()));
  if (batch_size() < 1 || batch_size() > (1 << 20)) throw InvalidArgument(fmt::format("recipe: batch_size must be in [1, 2^20], got {}", batch_size()));
  if (epochs() < 1 || epochs() > 100000) throw InvalidArgument(fmt::format("recipe: epochs must be in [1, 100000], got {}", epochs()));
  for (double m : milestones())
    if (!(m > 0 && m < 1)) throw InvalidArgument(fmt::format("recipe: milestones are epoch fractions in (0, 1), got {}", m));
  positive(gamma(), "gamma");
  if (!(warmup_epochs() >= 0 && warmup_epochs() < static_cast<double>(epochs())))
    throw InvalidArgument(fmt::format("recipe: warmup_epochs must be in [0, epochs), got {}", warmup_epochs()));
}

TrainingRecipe paper_recipe(const std::string& encoder, bool categorical) {
  TrainingRecipe r;
  r.epochs(categorical ? 200 : 600);
  if (encoder == "vgg19" && categorical) r.weight_decay(5e-4);
  return r;
}

double learning_rate_at(const TrainingRecipe& recipe, double epoch) {
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

}  // namespace labelrep::train
