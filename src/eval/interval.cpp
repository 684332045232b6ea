#include "labelrep/eval/interval.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "labelrep/core/error.hpp"

namespace labelrep::eval {

ProportionInterval wilson_interval(std::int64_t successes, std::int64_t trials, double z) {
  if (trials < 1) throw InvalidArgument(fmt::format("wilson_interval: trials must be >= 1, got {}", trials));
  if (successes < 0 || successes > trials)
    throw InvalidArgument(fmt::format("wilson_interval: successes must be in [0, {}] (the trials), got {}", trials, successes));
  if (!(z > 0) || !std::isfinite(z)) throw InvalidArgument(fmt::format("wilson_interval: z must be a finite number > 0, got {}", z));
  const double n = static_cast<double>(trials), p = static_cast<double>(successes) / n, z2 = z * z;
  const double denominator = 1.0 + z2 / n;
  const double centre = (p + z2 / (2.0 * n)) / denominator;
  const double half_width = z * std::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator;
  // Rounding must not put the measured proportion outside its own interval.
  return {std::clamp(std::min(centre - half_width, p), 0.0, 1.0), std::clamp(std::max(centre + half_width, p), 0.0, 1.0)};
}

}  // namespace labelrep::eval
