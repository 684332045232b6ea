#pragma once
// A task whose evidence sits in one known place, for the tests of Grad-CAM and of its faithfulness:
// noise images whose class is told only by a planted patch, and a small CNN trained on them.
// Include it after catch.hpp (c10 defines CHECK).
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <utility>

#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/loss.hpp"

namespace labelrep_test {
// 32×32 images: the small CNN's last stage is 8×8 with a receptive field of 24 pixels, so cells far
// from the patch cannot see it (on 16×16 images every cell sees the whole image and no method could
// localise).
inline constexpr std::int64_t kSide = 32;
// The only place where the classes differ: a 6×6 patch at rows 3..8, columns 21..26.
inline constexpr std::int64_t kTop = 3, kLeft = 21, kPatch = 6;

// Noise images whose class (0 or 1) is told only by the patch: −2.5 for class 0, +2.5 for class 1.
inline std::pair<torch::Tensor, torch::Tensor> planted(std::int64_t n, at::Generator& gen) {
  const auto ids = torch::randint(0, 2, {n}, gen, torch::kLong);
  auto images = torch::randn({n, 1, kSide, kSide}, gen, torch::kFloat32);
  const auto value = (ids.to(torch::kFloat32) * 5.0 - 2.5).view({n, 1, 1, 1});
  images.slice(2, kTop, kTop + kPatch).slice(3, kLeft, kLeft + kPatch).copy_(value.expand({n, 1, kPatch, kPatch}));
  return {images, ids};
}

inline torch::Tensor region_mask() {
  auto mask = torch::zeros({kSide, kSide}, torch::kBool);
  mask.slice(0, kTop, kTop + kPatch).slice(1, kLeft, kLeft + kPatch).fill_(true);
  return mask;
}

// Draws `n` images and their classes.
using PlantedSampler = std::function<std::pair<torch::Tensor, torch::Tensor>(std::int64_t n, at::Generator& gen)>;

// Trains a small CNN with the labels' decoder on `sample`'s images with the labels' loss until it
// separates the classes; returns its accuracy on 200 fresh images.
inline double train_planted(labelrep::models::Model& model,
                            const std::shared_ptr<const labelrep::labels::LabelRepresentation>& labels, at::Generator& gen,
                            const PlantedSampler& sample = planted, int steps = 80) {
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-3));
  model->train();
  for (int step = 0; step < steps; ++step) {
    const auto [x, y] = sample(32, gen);
    optimizer.zero_grad();
    labelrep::train::label_loss(model->forward(x), y, *labels).backward();
    optimizer.step();
  }
  model->eval();
  const auto [x, y] = sample(200, gen);
  torch::NoGradGuard no_grad;
  const labelrep::eval::NearestNeighborEvaluator evaluator(labels);
  return (evaluator.predict(model->forward(x)) == y).to(torch::kFloat64).mean().item<double>();
}

}  // namespace labelrep_test
