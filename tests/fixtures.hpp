#pragma once
// Small synthetic problems shared by tests (include after catch.hpp and torch).
#include <torch/torch.h>

#include <cstdint>

#include "labelrep/data/dataset.hpp"

namespace labelrep_test {

/// Four classes of 12×12 images: a bright square in one quadrant, plus noise (not mirror-symmetric:
/// train it without flips).
inline labelrep::data::ImageDataset quadrants(std::int64_t n, std::uint64_t seed) {
  auto generator = torch::make_generator<at::CPUGeneratorImpl>(seed);
  auto images = torch::randint(0, 60, {n, 1, 12, 12}, generator, torch::kLong);
  auto targets = torch::arange(n) % 4;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto c = targets[i].item<std::int64_t>();
    images[i][0].slice(0, (c / 2) * 6, (c / 2) * 6 + 6).slice(1, (c % 2) * 6, (c % 2) * 6 + 6) += 150;
  }
  return labelrep::data::ImageDataset(images.to(torch::kUInt8), targets, {"a", "b", "c", "d"}, "quadrants");
}

}  // namespace labelrep_test
