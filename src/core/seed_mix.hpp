#pragma once
// Decorrelated seeds from one user seed (internal header): splitmix64 of (seed, stream), so that the
// batches of a sweep, the noise of an imputation and a restart each draw their own stream, and
// neighbouring seeds or streams give unrelated numbers.
#include <cstdint>

namespace labelrep::detail {

inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace labelrep::detail
