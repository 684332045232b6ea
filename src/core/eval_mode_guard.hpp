#pragma once
// Eval mode for a scope (internal header). Attacks, Grad-CAM, evaluation and the layer probe must run
// batch norm on its running statistics and must hand the caller's model back as it was, a mixed state
// (a frozen batch norm inside a training model) included, also when they throw.
#include <memory>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

namespace labelrep::detail {

/// Puts `module` and every submodule in eval mode; the destructor gives each one its own mode back.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) {
    for (const auto& child : module.modules(/*include_self=*/false)) modes_.emplace_back(child, child->is_training());
    module_.eval();
  }
  ~EvalModeGuard() {
    // train() reaches every submodule, so the root goes first and the submodules after it, in the
    // pre-order modules() lists them (a parent before its children).
    module_.train(was_training_);
    for (auto& [child, training] : modes_) child->train(training);
  }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> modes_;
};

}  // namespace labelrep::detail
