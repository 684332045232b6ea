#include "labelrep/data/split.hpp"

#include <cmath>
#include <fmt/format.h>

#include "labelrep/core/error.hpp"
#include "labelrep/core/random.hpp"
#include "core/boundary.hpp"

namespace labelrep::data {

DataSplit make_split(std::int64_t n, std::int64_t validation, std::uint64_t seed) try {
  if (n < 1) throw InvalidArgument(fmt::format("make_split: the training set is empty ({} images)", n));
  if (validation < 0 || validation >= n)
    throw InvalidArgument(fmt::format("make_split: validation size {} must be in [0, {})", validation, n));
  if (seed > 0xffffffffULL) throw InvalidArgument(fmt::format("make_split: seed must be below 2^32, got {}", seed));
  NumpyRandom random(static_cast<std::uint32_t>(seed));
  const auto order = random.permutation(n);
  const auto all = torch::tensor(order, torch::kLong);
  return {all.slice(0, validation).clone(), all.slice(0, 0, validation).clone()};
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("make_split");
}

torch::Tensor data_level(const torch::Tensor& pool, double percent, LevelBase base, std::int64_t training_set_size) try {
  if (!pool.defined() || pool.dim() != 1) throw InvalidArgument("data_level: pool must be a 1-D index tensor");
  if (!(percent > 0 && percent <= 100)) throw InvalidArgument(fmt::format("data level must be in (0, 100] percent, got {}", percent));
  std::int64_t reference = pool.size(0);
  if (base == LevelBase::kTrainingSet) {
    if (training_set_size < pool.size(0))
      throw InvalidArgument(fmt::format("data_level: training set size {} is smaller than the pool ({})", training_set_size, pool.size(0)));
    reference = training_set_size;
  }
  // A tiny epsilon keeps 8 % of 50,000 at 4,000 despite 0.08 not being exact in binary.
  const auto count = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(percent / 100.0 * static_cast<double>(reference) + 1e-9)));
  if (count > pool.size(0))
    throw InvalidArgument(fmt::format("data level {}% of {} is {} images, more than the pool's {}", percent, reference, count, pool.size(0)));
  return pool.slice(0, 0, count);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("data_level");
}

}  // namespace labelrep::data
