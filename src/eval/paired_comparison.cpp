#include "labelrep/eval/paired_comparison.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <vector>

#include "labelrep/core/error.hpp"
#include "labelrep/eval/interval.hpp"
#include "core/boundary.hpp"

namespace labelrep::eval {

double mcnemar_exact_p_value(std::int64_t only_first, std::int64_t only_second) {
  if (only_first < 0 || only_second < 0)
    throw InvalidArgument(fmt::format("mcnemar_exact_p_value: the disagreement counts must be >= 0, got {} and {}", only_first, only_second));
  const std::int64_t n = only_first + only_second, k = std::min(only_first, only_second);
  if (n == 0) return 1.0;
  // P(X ≤ k) for X ~ Binomial(n, 1/2), each term C(n, i)·2^−n in log space: C(n, n/2) overflows a
  // double from n ≈ 1030 on. log C(n, i) by its recurrence (std::lgamma writes the global signgam, so
  // it is not thread-safe).
  const double log_half_n = -static_cast<double>(n) * std::log(2.0);
  double log_choose = 0.0, tail = 0.0;
  for (std::int64_t i = 0; i <= k; ++i) {
    if (i > 0) log_choose += std::log(static_cast<double>(n - i + 1)) - std::log(static_cast<double>(i));
    tail += std::exp(log_choose + log_half_n);
  }
  return std::min(1.0, 2.0 * tail);
}

PairedComparison compare_paired(const torch::Tensor& first_correct, const torch::Tensor& second_correct, std::uint64_t seed) try {
  const auto check = [](const torch::Tensor& t, const char* name) {
    if (!t.defined() || t.scalar_type() != torch::kBool || t.dim() != 1 || t.size(0) < 1)
      throw InvalidArgument(fmt::format("compare_paired: {} must be a non-empty bool tensor [N] (true where the model is right)", name));
  };
  check(first_correct, "first_correct");
  check(second_correct, "second_correct");
  if (first_correct.size(0) != second_correct.size(0))
    throw InvalidArgument(fmt::format("compare_paired: first_correct has {} images, second_correct {}; compare the same images",
                                      first_correct.size(0), second_correct.size(0)));
  const auto first = first_correct.to(torch::kCPU).contiguous(), second = second_correct.to(torch::kCPU).contiguous();
  const auto n = first.size(0);
  const bool* a = first.data_ptr<bool>();
  const bool* b = second.data_ptr<bool>();
  PairedComparison result;
  result.images = n;
  std::int64_t first_right = 0, second_right = 0;
  std::vector<double> per_image(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    first_right += a[i] ? 1 : 0;
    second_right += b[i] ? 1 : 0;
    result.only_first += a[i] && !b[i] ? 1 : 0;
    result.only_second += b[i] && !a[i] ? 1 : 0;
    per_image[static_cast<std::size_t>(i)] = static_cast<double>(a[i]) - static_cast<double>(b[i]);
  }
  const auto images = static_cast<double>(n);
  result.first_accuracy = static_cast<double>(first_right) / images;
  result.second_accuracy = static_cast<double>(second_right) / images;
  result.difference = static_cast<double>(result.only_first - result.only_second) / images;
  const auto interval = bootstrap_mean_interval(per_image, 0.95, 10000, seed);
  result.low = std::min(interval.low, result.difference);
  result.high = std::max(interval.high, result.difference);
  result.p_value = mcnemar_exact_p_value(result.only_first, result.only_second);
  return result;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("compare_paired");
}

}  // namespace labelrep::eval
