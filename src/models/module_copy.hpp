#pragma once
// Deep copy of a module's state into an identically built module: the one mechanism behind every
// clone() in labelrep::models (encoders, decoders, Model). torch's Cloneable<T> cannot be used here,
// because the encoders and decoders share an abstract torch::nn::Module base (Encoder, Decoder) and
// Cloneable<T> would add a second Module base.
#include <torch/nn/module.h>

namespace labelrep::models::detail {

// Copies every parameter (with its requires_grad flag) and buffer of `from` into the same-named one of
// `to`, moved to `device` when given, and each submodule's train/eval mode. `to` must have the same
// names (it was rebuilt from the same options); throws labelrep::Error otherwise.
void copy_module_state(const torch::nn::Module& from, torch::nn::Module& to, const torch::optional<torch::Device>& device);

// Gives every module of `to` the train/eval mode of the module at the same position in `from`
// (both walked in pre-order; they must have the same structure).
void copy_modes(const torch::nn::Module& from, torch::nn::Module& to);

}  // namespace labelrep::models::detail
