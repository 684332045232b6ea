#pragma once
// Small synthetic problems shared by tests (include after catch.hpp and torch).
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "labelrep/core/error.hpp"
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

/// The message of the InvalidArgument that `f` throws, "" if it throws none (other exceptions pass
/// through): to check what an error says, the same way under Catch2 v2 and v3 (whose matchers differ).
template <typename F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const labelrep::InvalidArgument& e) {
    return e.what();
  }
  return "";
}

}  // namespace labelrep_test
