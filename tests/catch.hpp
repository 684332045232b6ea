#pragma once
// One include for Catch2 v2 (Debian 12) and v3 (the GPU machine). Built with CATCH_CONFIG_PREFIX_ALL,
// so assertions are CATCH_CHECK/CATCH_REQUIRE: c10 defines a bare CHECK macro of its own.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#define LABELREP_CATCH3 1
#else
#include <catch2/catch.hpp>
#endif

namespace labelrep_test {
// Catch2 v2 keeps Approx in Catch::Detail, v3 in Catch: one name for both.
#ifdef LABELREP_CATCH3
using Approx = Catch::Approx;
#else
using Approx = Catch::Detail::Approx;
#endif
}  // namespace labelrep_test
