#pragma once
/// \file recipe.hpp  The paper's optimisation recipe and its learning-rate schedule.
///
/// SGD with learning rate 0.1, momentum 0.9, weight decay 1e-4 (5e-4 for VGG19 with categorical
/// labels), batch 128, learning rate × 0.1 at 50 % and 75 % of the epochs; 200 epochs for categorical
/// labels and 600 for high-dimensional ones. Model selection by validation accuracy.
/// Example: `auto recipe = paper_recipe("resnet32", /*categorical=*/false).epochs(30);`

#include <cstdint>
#include <string>
#include <vector>
#include <torch/arg.h>

#include "labelrep/export.hpp"

namespace labelrep::train {

/// How the learning rate moves over training.
enum class Schedule {
  kStep,      ///< the paper's: constant, × gamma at each milestone, after an optional linear warm-up
  kOneCycle,  ///< PyTorch's OneCycleLR defaults: cosine rise from lr/25 to lr over the first
              ///< `one_cycle_rise` of training, cosine fall to lr/25e4; momentum cycles 0.95 → 0.85 → 0.95.
              ///< A function of the fractional epoch, so it peaks one step later than OneCycleLR
              ///< (docs/gpu.md gives the difference: 0.2 % of the peak rate at 1,755 steps).
};

/// "step" or "one-cycle".
LABELREP_API const char* schedule_name(Schedule schedule);
/// Parses schedule_name()'s strings. Throws InvalidArgument naming the value otherwise.
LABELREP_API Schedule parse_schedule(const std::string& name);

struct LABELREP_API TrainingRecipe {
  TORCH_ARG(double, learning_rate) = 0.1;
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weight_decay) = 1e-4;
  TORCH_ARG(bool, nesterov) = false;
  TORCH_ARG(std::int64_t, batch_size) = 128;
  TORCH_ARG(std::int64_t, epochs) = 200;
  /// Epoch fractions at which the learning rate is multiplied by `gamma` (epoch ⌊f·epochs⌋ starts lower;
  /// a milestone that falls on epoch 0 is skipped).
  TORCH_ARG(std::vector<double>, milestones) = std::vector<double>{0.5, 0.75};
  TORCH_ARG(double, gamma) = 0.1;
  /// Linear warm-up over this many epochs from learning_rate/10 (0 = none, the paper's setting).
  TORCH_ARG(double, warmup_epochs) = 0.0;
  /// kOneCycle ignores milestones and gamma, refuses a warm-up above 0 (its rise is the warm-up) and sets
  /// the momentum.
  TORCH_ARG(Schedule, schedule) = Schedule::kStep;
  /// kOneCycle: fraction of training spent rising to the peak (PyTorch's pct_start).
  TORCH_ARG(double, one_cycle_rise) = 0.25;

 public:
  /// Throws InvalidArgument naming the first invalid field.
  void validate() const;
};

/// The paper's recipe for an encoder ("resnet32", "resnet110", "vgg19", ...) and label type.
LABELREP_API TrainingRecipe paper_recipe(const std::string& encoder, bool categorical);

/// The learning rate for a (fractional) epoch: step decay at the milestones, after the optional warm-up.
/// Throws InvalidArgument for a recipe that validate() refuses (it would give NaN).
LABELREP_API double learning_rate_at(const TrainingRecipe& recipe, double epoch);
/// The SGD momentum for a (fractional) epoch: the recipe's momentum, or the one-cycle momentum.
/// Throws InvalidArgument as learning_rate_at.
LABELREP_API double momentum_at(const TrainingRecipe& recipe, double epoch);

}  // namespace labelrep::train
