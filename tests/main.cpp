// Test runner shared by every test file: Catch2's own main, with a terminate hook so that an escaped
// exception fails the run loudly instead of aborting silently. LABELREP_DETERMINISTIC_ALGORITHMS=1 runs
// the suite with libtorch's deterministic algorithms enforced (an op without a deterministic
// implementation then throws), to show that labelrep relies on none (docs/reliability.md, "Determinism").
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include <ATen/Context.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

int main(int argc, char** argv) {
  std::set_terminate([] {
    std::fputs("labelrep tests: std::terminate called (an exception escaped)\n", stderr);
    std::abort();
  });
  if (const char* flag = std::getenv("LABELREP_DETERMINISTIC_ALGORITHMS"); flag && std::strcmp(flag, "1") == 0) {
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
    std::fputs("labelrep tests: deterministic algorithms enforced\n", stderr);
  }
  return Catch::Session().run(argc, argv);
}
