#include "labelrep/core/random.hpp"

#include <fmt/format.h>

#include <numeric>
#include <utility>

#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep {

// std::mt19937's seeding is Matsumoto and Nishimura's init_genrand, which is what NumPy's legacy
// RandomState.seed(int) uses, so the streams match from the first number.
NumpyRandom::NumpyRandom(std::uint32_t seed) : engine_(seed) {}

std::uint32_t NumpyRandom::next_uint32() { return static_cast<std::uint32_t>(engine_()); }

double NumpyRandom::next_double() {
  const std::uint32_t a = next_uint32() >> 5;
  const std::uint32_t b = next_uint32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

std::vector<double> NumpyRandom::uniform_doubles(std::size_t n) try {
  std::vector<double> out;
  // Beyond max_size() std::vector throws length_error; a length that fits but not in memory is OutOfMemory.
  if (n > out.max_size()) throw InvalidArgument(fmt::format("NumpyRandom::uniform_doubles: {} values are more than a vector holds", n));
  out.resize(n);
  for (double& v : out) v = next_double();
  return out;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("NumpyRandom::uniform_doubles");
}

std::uint64_t NumpyRandom::next_interval(std::uint64_t max) {
  if (max == 0) return 0;
  std::uint64_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  std::uint64_t value = 0;
  if (max <= 0xffffffffULL) {
    while ((value = (next_uint32() & mask)) > max) {
    }
  } else {
    while ((value = (((static_cast<std::uint64_t>(next_uint32()) << 32) | next_uint32()) & mask)) > max) {
    }
  }
  return value;
}

std::vector<std::int64_t> NumpyRandom::permutation(std::int64_t n) try {
  if (n < 0) throw InvalidArgument(fmt::format("NumpyRandom::permutation: the length must be >= 0, got {}", n));
  std::vector<std::int64_t> out;
  if (static_cast<std::uint64_t>(n) > out.max_size())
    throw InvalidArgument(fmt::format("NumpyRandom::permutation: a length of {} is more than a vector holds", n));
  out.resize(static_cast<std::size_t>(n));
  std::iota(out.begin(), out.end(), std::int64_t{0});
  for (std::int64_t i = n - 1; i >= 1; --i) {
    const auto j = static_cast<std::int64_t>(next_interval(static_cast<std::uint64_t>(i)));
    std::swap(out[static_cast<std::size_t>(i)], out[static_cast<std::size_t>(j)]);
  }
  return out;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("NumpyRandom::permutation");
}

}  // namespace labelrep
