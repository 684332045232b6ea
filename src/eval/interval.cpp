#include "labelrep/eval/interval.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <fmt/format.h>

#include "labelrep/core/error.hpp"
#include "labelrep/core/random.hpp"
#include "core/seed_mix.hpp"

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

MeanInterval bootstrap_mean_interval(const std::vector<double>& values, double level, std::int64_t resamples, std::uint64_t seed) {
  if (values.empty()) throw InvalidArgument("bootstrap_mean_interval: values is empty; give at least one value");
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw InvalidArgument(fmt::format("bootstrap_mean_interval: values[{}] is {}; every value must be finite", i, values[i]));
  if (!(level > 0.0 && level < 1.0)) throw InvalidArgument(fmt::format("bootstrap_mean_interval: level must be in (0, 1), got {}", level));
  if (resamples < 100) throw InvalidArgument(fmt::format("bootstrap_mean_interval: resamples must be >= 100, got {}", resamples));
  const auto n = values.size();
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(n);
  // NumpyRandom's bounded integers are the same on every standard library (std::uniform_int_distribution's are not).
  NumpyRandom random(static_cast<std::uint32_t>(detail::mix_seed(seed, 0x626f6f74ULL)));
  std::vector<double> means(static_cast<std::size_t>(resamples));
  for (auto& resampled : means) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += values[random.next_interval(n - 1)];
    resampled = sum / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  // The quantiles by linear interpolation between order statistics (NumPy's default).
  const auto quantile = [&](double q) {
    const double position = q * static_cast<double>(means.size() - 1);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const auto above = std::min(below + 1, means.size() - 1);
    return means[below] + (position - static_cast<double>(below)) * (means[above] - means[below]);
  };
  // Rounding must not put the measured mean outside its own interval.
  return {mean, std::min(quantile((1.0 - level) / 2.0), mean), std::max(quantile((1.0 + level) / 2.0), mean)};
}

}  // namespace labelrep::eval
