// Paired comparison of two models on the same images: McNemar's exact test and the bootstrap interval
// of the accuracy difference.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>

#include "labelrep/core/error.hpp"
#include "labelrep/eval/paired_comparison.hpp"
#include "support.hpp"

using namespace labelrep;

CATCH_TEST_CASE("mcnemar_exact_p_value is the two-sided binomial test of the disagreements", "[eval]") {
  // Exact values from the binomial sums (Python: 2 * sum(comb(n, i) for i in range(k + 1)) / 2**n).
  CATCH_CHECK(eval::mcnemar_exact_p_value(10, 2) == labelrep_test::Approx(0.03857421875).epsilon(1e-12));
  CATCH_CHECK(eval::mcnemar_exact_p_value(2, 10) == eval::mcnemar_exact_p_value(10, 2));
  CATCH_CHECK(eval::mcnemar_exact_p_value(30, 10) == labelrep_test::Approx(0.0022214337732293643).epsilon(1e-9));
  CATCH_CHECK(eval::mcnemar_exact_p_value(0, 6) == labelrep_test::Approx(2.0 / 64).epsilon(1e-12));
  // Many disagreements: C(2100, 1000) and C(10200, 5000) overflow a double (and 2^-10200 underflows),
  // the log-space sum does not. Exact values from Python's integers.
  CATCH_CHECK(eval::mcnemar_exact_p_value(600, 400) == labelrep_test::Approx(2.7284641560660184e-10).epsilon(1e-6));
  CATCH_CHECK(eval::mcnemar_exact_p_value(1100, 1000) == labelrep_test::Approx(0.030720707864242296).epsilon(1e-8));
  CATCH_CHECK(eval::mcnemar_exact_p_value(5200, 5000) == labelrep_test::Approx(0.04878796312682245).epsilon(1e-8));
  // Balanced or absent disagreements: no evidence (capped at 1).
  CATCH_CHECK(eval::mcnemar_exact_p_value(5, 5) == 1.0);
  CATCH_CHECK(eval::mcnemar_exact_p_value(0, 0) == 1.0);
  CATCH_CHECK(eval::mcnemar_exact_p_value(0, 1) == 1.0);
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::mcnemar_exact_p_value(-1, 3); }, "must be >= 0");
}

CATCH_TEST_CASE("compare_paired counts the disagreements and bounds the accuracy difference", "[eval]") {
  // 200 images: 150 right for both, 30 only for the first, 10 only for the second, 10 wrong for both,
  // interleaved so that no block of the input decides the result.
  auto first = torch::zeros({200}, torch::kBool), second = torch::zeros({200}, torch::kBool);
  for (std::int64_t i = 0; i < 200; ++i) {
    const auto r = (i * 7) % 20;  // 0..14: both, 15..17: first only, 18: second only, 19: neither
    first[i] = r < 18;
    second[i] = r < 15 || r == 18;
  }
  const auto c = eval::compare_paired(first, second, 3);
  CATCH_CHECK(c.images == 200);
  CATCH_CHECK(c.first_accuracy == 0.9);
  CATCH_CHECK(c.second_accuracy == 0.8);
  CATCH_CHECK(c.only_first == 30);
  CATCH_CHECK(c.only_second == 10);
  CATCH_CHECK(c.difference == labelrep_test::Approx(0.1).margin(1e-15));
  CATCH_CHECK(c.p_value == labelrep_test::Approx(eval::mcnemar_exact_p_value(30, 10)).epsilon(1e-12));
  // The per-image differences have variance 0.2 − 0.1² = 0.19: a 95% interval of about ±1.96·√(0.19/200) = ±0.060.
  CATCH_CHECK(c.low == labelrep_test::Approx(0.040).margin(0.01));
  CATCH_CHECK(c.high == labelrep_test::Approx(0.160).margin(0.01));
  // Swapped, everything mirrors.
  const auto swapped = eval::compare_paired(second, first, 3);
  CATCH_CHECK(swapped.difference == labelrep_test::Approx(-0.1).margin(1e-15));
  CATCH_CHECK(swapped.only_first == 10);
  CATCH_CHECK(swapped.p_value == c.p_value);
  CATCH_CHECK(swapped.high == labelrep_test::Approx(-c.low).margin(0.01));
  // Pairing matters: the same two accuracies with more disagreements (the models differ on 30% of the
  // images, not 20%) leave the difference less certain.
  auto noisy_first = torch::zeros({200}, torch::kBool), noisy_second = torch::zeros({200}, torch::kBool);
  for (std::int64_t i = 0; i < 200; ++i) {
    const auto r = (i * 7) % 20;  // 0..13: both; 14..17: first only; 18, 19: second only
    noisy_first[i] = r < 18;
    noisy_second[i] = r < 14 || r >= 18;
  }
  const auto noisy = eval::compare_paired(noisy_first, noisy_second, 3);
  CATCH_CHECK(noisy.first_accuracy == 0.9);
  CATCH_CHECK(noisy.second_accuracy == 0.8);
  CATCH_CHECK(noisy.only_first == 40);
  CATCH_CHECK(noisy.only_second == 20);
  CATCH_CHECK(noisy.p_value > c.p_value);
  CATCH_CHECK(noisy.high - noisy.low > c.high - c.low);
  // The same outcomes: no difference, no evidence.
  const auto same = eval::compare_paired(first, first);
  CATCH_CHECK(same.difference == 0.0);
  CATCH_CHECK(same.low == 0.0);
  CATCH_CHECK(same.high == 0.0);
  CATCH_CHECK(same.p_value == 1.0);

  labelrep_test::check_throws_with<InvalidArgument>([&] { eval::compare_paired(first.to(torch::kFloat32), second); }, "first_correct");
  labelrep_test::check_throws_with<InvalidArgument>([&] { eval::compare_paired(first, second.slice(0, 0, 10)); }, "the same images");
  labelrep_test::check_throws_with<InvalidArgument>([&] { eval::compare_paired(first, second.view({10, 20})); }, "second_correct");
  labelrep_test::check_throws_with<InvalidArgument>([&] { eval::compare_paired(torch::zeros({0}, torch::kBool), torch::zeros({0}, torch::kBool)); },
                                                    "non-empty");
}
