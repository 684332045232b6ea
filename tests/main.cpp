// Test runner shared by every test file: Catch2's own main, with a terminate hook so that an escaped
// exception fails the run loudly instead of aborting silently.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include <cstdio>
#include <cstdlib>
#include <exception>

int main(int argc, char** argv) {
  std::set_terminate([] {
    std::fputs("labelrep tests: std::terminate called (an exception escaped)\n", stderr);
    std::abort();
  });
  return Catch::Session().run(argc, argv);
}
