#pragma once
// Where a libtorch optimizer keeps a parameter's state (internal): checkpoints save it in parameter
// order, and the graphed training step puts its momentum buffers there, so that both read and write
// the one state the optimizer has.
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <torch/optim/optimizer.h>

namespace labelrep::train {

using StateMap = std::decay_t<decltype(std::declval<const torch::optim::Optimizer&>().state())>;
using StateKey = typename StateMap::key_type;

// The key libtorch's optimizers use for a parameter's state (a string of the TensorImpl address in
// libtorch 1.x, the address itself in later versions).
template <typename Key = StateKey>
Key state_key(const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;  // what c10::guts::to_string(TensorImpl*) writes
    text << parameter.unsafeGetTensorImpl();
    return text.str();
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

}  // namespace labelrep::train
