#pragma once
/// \file interval.hpp  How far an accuracy measured on a sample of images can be trusted.
///
/// An accuracy over N test images is a binomial proportion: 38% of 500 images is 38 ± 4 points at
/// 95%. The Wilson score interval is the one to quote (it stays inside [0, 1] and is sound near 0% and
/// 100%, where the normal approximation is not), e.g. beside the robust accuracy of an attack sweep.
///
/// A mean of per-image scores (e.g. how much better a saliency map does than a baseline on each image)
/// has no such closed form; bootstrap_mean_interval resamples the images instead.
///
/// Example: `auto ci = labelrep::eval::wilson_interval(190, 500);  // ci.low ≈ 0.339, ci.high ≈ 0.423`

#include <cstdint>
#include <vector>

#include "labelrep/export.hpp"

namespace labelrep::eval {

struct LABELREP_API ProportionInterval {
  double low = 0.0;   ///< in [0, 1]
  double high = 0.0;  ///< in [low, 1]
};

/// The Wilson score interval of `successes` out of `trials` at the normal quantile `z` (1.96: 95%).
/// Requires 0 ≤ successes ≤ trials, trials ≥ 1, z finite and > 0; throws InvalidArgument naming the
/// value otherwise. Ensures low ≤ successes / trials ≤ high.
LABELREP_API ProportionInterval wilson_interval(std::int64_t successes, std::int64_t trials, double z = 1.959963984540054);

struct LABELREP_API MeanInterval {
  double mean = 0.0;  ///< the mean of the values
  double low = 0.0;   ///< ≤ mean
  double high = 0.0;  ///< ≥ mean
};

/// The percentile bootstrap interval of the mean of `values` (one per image): `resamples` times, draw
/// values.size() values with replacement and take their mean; the interval runs from the (1 − level)/2
/// to the (1 + level)/2 quantile of those means. For a paired comparison (two methods on the same
/// images), pass the per-image differences: the pairing is what makes the interval narrow. Sound for
/// tens of values and more; with very few it is too narrow, like every percentile bootstrap.
/// requires: values non-empty and finite; level in (0, 1); resamples ≥ 100.
/// ensures: low ≤ mean ≤ high, both within [min(values), max(values)]; the same inputs and seed give
/// the same interval on every platform (the draws come from NumpyRandom); all values equal give
/// low = mean = high.
/// throws: InvalidArgument naming the argument.
LABELREP_API MeanInterval bootstrap_mean_interval(const std::vector<double>& values, double level = 0.95, std::int64_t resamples = 10000,
                                                  std::uint64_t seed = 0);

}  // namespace labelrep::eval
