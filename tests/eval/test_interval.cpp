// The Wilson score interval of an accuracy measured on a sample of images.
#include "catch.hpp"

#include <cmath>

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
