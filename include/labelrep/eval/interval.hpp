#pragma once
/// \file interval.hpp  How far an accuracy measured on a sample of images can be trusted.
///
/// An accuracy over N test images is a binomial proportion: 38% of 500 images is 38 ± 4 points at
/// 95%. The Wilson score interval is the one to quote (it stays inside [0, 1] and is sound near 0% and
/// 100%, where the normal approximation is not), e.g. beside the robust accuracy of an attack sweep.
///
/// Example: `auto ci = labelrep::eval::wilson_interval(190, 500);  // ci.low ≈ 0.339, ci.high ≈ 0.423`

#include <cstdint>

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

}  // namespace labelrep::eval
