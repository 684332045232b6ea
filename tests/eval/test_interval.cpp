// The Wilson score interval of an accuracy measured on a sample of images.
#include "catch.hpp"

#include <cmath>
#include <vector>

#include "labelrep/core/error.hpp"
#include "labelrep/eval/interval.hpp"
#include "support.hpp"

using namespace labelrep;

CATCH_TEST_CASE("wilson_interval gives the Wilson score interval of a proportion", "[eval]") {
  // Textbook values (95%): 5 of 10 → [0.2366, 0.7634]; 0 of 10 → [0, 0.2775]; 10 of 10 → [0.7225, 1].
  auto half = eval::wilson_interval(5, 10);
  CATCH_CHECK(half.low == labelrep_test::Approx(0.2366).margin(1e-4));
  CATCH_CHECK(half.high == labelrep_test::Approx(0.7634).margin(1e-4));
  const auto none = eval::wilson_interval(0, 10);
  CATCH_CHECK(none.low == 0.0);
  CATCH_CHECK(none.high == labelrep_test::Approx(0.2775).margin(1e-4));
  const auto all = eval::wilson_interval(10, 10);
  CATCH_CHECK(all.low == labelrep_test::Approx(0.7225).margin(1e-4));
  CATCH_CHECK(all.high == 1.0);
  // 190 of 500 (38%): about ±4.2 points; more images, a narrower interval; a larger z, a wider one.
  const auto demo = eval::wilson_interval(190, 500);
  CATCH_CHECK(demo.low == labelrep_test::Approx(0.3385).margin(1e-4));
  CATCH_CHECK(demo.high == labelrep_test::Approx(0.4233).margin(1e-4));
  const auto more = eval::wilson_interval(1900, 5000);
  CATCH_CHECK(more.high - more.low < demo.high - demo.low);
  const auto wider = eval::wilson_interval(190, 500, 2.576);
  CATCH_CHECK(wider.low < demo.low);
  CATCH_CHECK(wider.high > demo.high);
  // The measured proportion is always inside.
  for (std::int64_t k = 0; k <= 7; ++k) {
    const auto i = eval::wilson_interval(k, 7);
    CATCH_CHECK(i.low <= static_cast<double>(k) / 7.0);
    CATCH_CHECK(i.high >= static_cast<double>(k) / 7.0);
  }
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::wilson_interval(1, 0); }, "trials");
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::wilson_interval(11, 10); }, "successes");
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::wilson_interval(-1, 10); }, "successes");
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::wilson_interval(1, 10, 0.0); }, "z");
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::wilson_interval(1, 10, NAN); }, "z");
}

CATCH_TEST_CASE("bootstrap_mean_interval gives a percentile bootstrap interval of a mean", "[eval]") {
  // 190 ones and 310 zeros: the mean's standard error is sqrt(0.38 · 0.62 / 500) = 0.0217, so the 95%
  // interval is about 0.38 ± 0.0425 (the bootstrap of a proportion approaches the normal interval).
  std::vector<double> hits(500, 0.0);
  for (std::size_t i = 0; i < 190; ++i) hits[i * 2] = 1.0;
  const auto ci = eval::bootstrap_mean_interval(hits, 0.95, 10000, 7);
  CATCH_CHECK(ci.mean == labelrep_test::Approx(0.38).margin(1e-12));
  CATCH_CHECK(ci.low == labelrep_test::Approx(0.38 - 0.0425).margin(0.006));
  CATCH_CHECK(ci.high == labelrep_test::Approx(0.38 + 0.0425).margin(0.006));
  // The same seed, the same interval; another seed, nearly the same; a higher level, a wider one.
  const auto again = eval::bootstrap_mean_interval(hits, 0.95, 10000, 7);
  CATCH_CHECK(again.low == ci.low);
  CATCH_CHECK(again.high == ci.high);
  const auto other = eval::bootstrap_mean_interval(hits, 0.95, 10000, 8);
  CATCH_CHECK(other.low == labelrep_test::Approx(ci.low).margin(0.005));
  const auto wider = eval::bootstrap_mean_interval(hits, 0.99, 10000, 7);
  CATCH_CHECK(wider.low < ci.low);
  CATCH_CHECK(wider.high > ci.high);
  // Pairing: two scores that share a large per-image part differ by a small, consistent amount. Their
  // means' intervals overlap, the interval of the per-image differences excludes 0.
  std::vector<double> first, second, difference;
  for (int i = 0; i < 200; ++i) {
    const double shared = static_cast<double>((i * 37) % 101) / 100.0;
    const double extra = 0.02 + 0.01 * static_cast<double>(i % 3);
    first.push_back(shared + extra);
    second.push_back(shared);
    difference.push_back(extra);
  }
  const auto a = eval::bootstrap_mean_interval(first), b = eval::bootstrap_mean_interval(second);
  CATCH_CHECK(a.low < b.high);
  const auto paired = eval::bootstrap_mean_interval(difference);
  CATCH_CHECK(paired.low > 0.0);
  CATCH_CHECK(paired.mean == labelrep_test::Approx(a.mean - b.mean).margin(1e-12));
  // All values equal: no spread.
  const auto flat = eval::bootstrap_mean_interval(std::vector<double>(30, 0.25));
  CATCH_CHECK(flat.low == 0.25);
  CATCH_CHECK(flat.high == 0.25);
  // One value is its own interval.
  const auto single = eval::bootstrap_mean_interval({-1.5});
  CATCH_CHECK(single.low == -1.5);
  CATCH_CHECK(single.high == -1.5);
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::bootstrap_mean_interval({}); }, "values is empty");
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::bootstrap_mean_interval({1.0, std::nan("")}); }, "values[1]");
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::bootstrap_mean_interval({1.0, 2.0}, 1.0); }, "level");
  labelrep_test::check_throws_with<InvalidArgument>([] { eval::bootstrap_mean_interval({1.0, 2.0}, 0.95, 99); }, "resamples");
}
