#pragma once
/// \file random.hpp  A seeded generator that reproduces NumPy's legacy `numpy.random` streams.
///
/// labelrep never touches the global torch or C RNG: every random label kind, split and augmentation
/// takes a seed and draws from its own generator. This one is the MT19937 generator of NumPy's legacy
/// `RandomState` with the same seeding and the same conversions, so `NumpyRandom(48).uniform_doubles(n)`
/// equals `numpy.random.seed(48); numpy.random.rand(n)` bit for bit, on every platform and compiler.
/// That is how labelrep regenerates the authors' random and low-dimensional label files exactly.
///
/// Thread-safety: an instance is not thread-safe; use one per thread.

#include <cstdint>
#include <random>
#include <vector>

#include "labelrep/export.hpp"

namespace labelrep {

class LABELREP_API NumpyRandom {
 public:
  /// Same as `numpy.random.seed(seed)` for an integer seed.
  explicit NumpyRandom(std::uint32_t seed);
  /// The next raw 32-bit output of MT19937.
  std::uint32_t next_uint32();
  /// `numpy.random.random_sample()`: a double on [0, 1) with 53 random bits.
  double next_double();
  /// `n` consecutive next_double() values (numpy.random.rand(n)). Throws InvalidArgument for n above
  /// what a std::vector holds, OutOfMemory if `n` values do not fit in memory.
  std::vector<double> uniform_doubles(std::size_t n);
  /// A uniform integer on [0, max] by masked rejection, as numpy's legacy `random_interval`.
  std::uint64_t next_interval(std::uint64_t max);
  /// Indices [0, n) shuffled as `numpy.random.shuffle(list(range(n)))` does. Requires n >= 0; throws
  /// InvalidArgument otherwise (as numpy.random.permutation raises for a negative length) and for n
  /// above what a std::vector holds, OutOfMemory if `n` indices do not fit in memory.
  std::vector<std::int64_t> permutation(std::int64_t n);

 private:
  std::mt19937 engine_;
};

}  // namespace labelrep
