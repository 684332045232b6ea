#pragma once
/// \file paired_comparison.hpp  Is one model really better than another on the same images?
///
/// Two accuracies measured on the same test images are not independent: most images are right (or
/// wrong) for both models, and only the images where they disagree tell them apart. Comparing two Wilson
/// intervals ignores that and is far too cautious; a paired comparison uses it. This is the test behind
/// a claim like the paper's "speech labels are more robust than categorical ones": the robust accuracy
/// of the two models after the same attacks, image by image (attack::SweepResult::per_image_correct).
///
/// Example:
/// \code
///   // first, second: bool [N], true where each model classifies image i correctly
///   auto c = labelrep::eval::compare_paired(first, second);
///   // c.difference = accuracy(first) − accuracy(second), in [c.low, c.high] at 95%;
///   // c.only_first / c.only_second: the images only one model gets right; c.p_value: McNemar's exact test
/// \endcode

#include <cstdint>
#include <torch/types.h>

#include "labelrep/export.hpp"

namespace labelrep::eval {

struct LABELREP_API PairedComparison {
  std::int64_t images = 0;
  double first_accuracy = 0.0, second_accuracy = 0.0;
  std::int64_t only_first = 0;   ///< images the first model gets right and the second wrong
  std::int64_t only_second = 0;  ///< images the second model gets right and the first wrong
  /// first_accuracy − second_accuracy = (only_first − only_second) / images.
  double difference = 0.0;
  /// The 95% interval of `difference`: a percentile bootstrap of the per-image differences (+1, 0 or −1;
  /// bootstrap_mean_interval, 10,000 resamples).
  double low = 0.0, high = 0.0;
  /// McNemar's exact test of "both models are equally accurate on such images": the two-sided binomial
  /// p-value of only_first among the only_first + only_second disagreements at one half (1 when they never
  /// disagree). Small (below 0.05, say) means the difference is more than the luck of the sample.
  double p_value = 1.0;
};

/// Compares two models' per-image outcomes on the same images.
/// requires: first_correct and second_correct bool `[N]` (any device), N ≥ 1, image i the same image in both.
/// ensures: the counts and accuracies exactly; low ≤ difference ≤ high; the same inputs and seed give
/// the same result.
/// throws: InvalidArgument naming the argument for other dtypes or shapes.
LABELREP_API PairedComparison compare_paired(const torch::Tensor& first_correct, const torch::Tensor& second_correct, std::uint64_t seed = 0);

/// McNemar's exact two-sided p-value for `only_first` and `only_second` disagreements: min(1, 2·P(X ≤
/// min(only_first, only_second))) for X ~ Binomial(only_first + only_second, 1/2); 1 for no disagreement.
/// Throws InvalidArgument for a negative count.
LABELREP_API double mcnemar_exact_p_value(std::int64_t only_first, std::int64_t only_second);

}  // namespace labelrep::eval
