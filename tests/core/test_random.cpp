// NumpyRandom against NumPy's legacy RandomState, bit for bit. The golden values were computed with
// numpy 1.24.2 (/usr/bin/python3, Debian 12); the python that produced each is quoted beside it.
#include "catch.hpp"

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/core/random.hpp"
#include "support.hpp"

using labelrep::NumpyRandom;

CATCH_TEST_CASE("NumpyRandom doubles equal numpy.random.rand bit for bit", "[core][random]") {
  // np.random.seed(48); [float(x).hex() for x in np.random.rand(5)]
  const std::vector<double> expected = {0x1.1e8f836970500p-6, 0x1.c87c4a910ddd7p-1, 0x1.23b2a558cdadcp-2,
                                        0x1.3226dd0dd9e1ep-2, 0x1.958583bda7394p-1};
  // repr() of the same values, as a second spelling of the same bits.
  CATCH_CHECK(expected[0] == 0.01749027093115263);
  CATCH_CHECK(expected[4] == 0.7920342606554294);
  NumpyRandom rng(48);
  CATCH_CHECK(rng.uniform_doubles(5) == expected);
  NumpyRandom one_by_one(48);
  for (const double v : expected) CATCH_CHECK(one_by_one.next_double() == v);

  // [float(x).hex() for x in np.random.RandomState(2**32 - 1).random_sample(3)]: the largest seed.
  NumpyRandom largest(0xFFFFFFFFu);
  CATCH_CHECK(largest.uniform_doubles(3) ==
              std::vector<double>({0x1.8fe69a3924820p-4, 0x1.d323d824032b1p-1, 0x1.93fc6f61af3f9p-1}));
}

CATCH_TEST_CASE("NumpyRandom raw outputs are MT19937's", "[core][random]") {
  // [int(x) for x in np.random.RandomState(48).randint(0, 2**32, size=6, dtype=np.uint32)]
  // (a full-range uint32 draw returns the raw generator output)
  const std::vector<std::uint32_t> expected = {75120128u,   1831733811u, 3829278033u,
                                               1144485316u, 1223469403u, 2979748784u};
  NumpyRandom rng(48);
  for (const auto v : expected) CATCH_CHECK(rng.next_uint32() == v);
  // The C++ standard's check value for mt19937 (the 10000th output for seed 5489), which numpy agrees
  // with: np.random.RandomState(5489).randint(0, 2**32, size=10000, dtype=np.uint32)[-1] == 4123659995
  NumpyRandom reference(5489);
  for (int i = 0; i < 9999; ++i) reference.next_uint32();
  CATCH_CHECK(reference.next_uint32() == 4123659995u);
  // Every double takes exactly two outputs (27 + 26 bits).
  NumpyRandom a(7), b(7);
  a.next_double();
  b.next_uint32();
  b.next_uint32();
  CATCH_CHECK(a.next_uint32() == b.next_uint32());
}

CATCH_TEST_CASE("NumpyRandom permutations equal numpy.random.shuffle", "[core][random]") {
  // np.random.seed(8)
  // a = list(range(64)); np.random.shuffle(a); print(a)
  // b = list(range(64)); np.random.shuffle(b); print(b)     (the second shuffle continues the stream)
  const std::vector<int64_t> first = {1,  56, 25, 12, 60, 16, 63, 59, 32, 23, 33, 35, 39, 37, 42, 6,
                                      43, 24, 36, 0,  50, 30, 57, 52, 47, 62, 22, 31, 51, 28, 53, 11,
                                      17, 55, 2,  58, 7,  4,  46, 54, 38, 14, 18, 34, 29, 15, 9,  13,
                                      44, 27, 10, 61, 21, 45, 48, 40, 19, 8,  26, 5,  41, 49, 20, 3};
  const std::vector<int64_t> second = {22, 13, 36, 21, 4,  12, 26, 30, 18, 27, 51, 35, 1,  10, 43, 17,
                                       47, 0,  3,  63, 57, 61, 29, 40, 15, 54, 62, 25, 44, 8,  37, 45,
                                       33, 11, 49, 2,  5,  28, 59, 24, 50, 23, 52, 20, 60, 14, 16, 53,
                                       48, 19, 42, 38, 55, 56, 7,  34, 9,  32, 31, 6,  41, 46, 58, 39};
  NumpyRandom rng(8);
  CATCH_CHECK(rng.permutation(64) == first);
  CATCH_CHECK(rng.permutation(64) == second);
  // np.random.seed(8); list(np.random.permutation(10))  (an ndarray shuffle: same algorithm)
  CATCH_CHECK(NumpyRandom(8).permutation(10) == std::vector<int64_t>({8, 6, 9, 0, 2, 5, 7, 1, 4, 3}));
  // np.random.seed(0); c = list(range(10)); np.random.shuffle(c)
  CATCH_CHECK(NumpyRandom(0).permutation(10) == std::vector<int64_t>({2, 8, 4, 9, 1, 6, 7, 3, 0, 5}));

  // Shuffling 0 or 1 items draws nothing, as in numpy: the stream continues unchanged.
  NumpyRandom a(3), b(3);
  CATCH_CHECK(a.permutation(0).empty());
  CATCH_CHECK(a.permutation(1) == std::vector<int64_t>({0}));
  CATCH_CHECK_THROWS_AS(a.permutation(-5), labelrep::InvalidArgument);  // numpy raises ValueError too
  CATCH_CHECK(a.next_uint32() == b.next_uint32());
}

CATCH_TEST_CASE("NumpyRandom intervals equal numpy's masked rejection sampling", "[core][random]") {
  // Legacy randint uses the same masked rejection as random_interval: 32-bit draws up to 2^32 - 1,
  // 64-bit draws (high word first) above.
  // [int(x) for x in np.random.RandomState(7).randint(0, 1000, size=5, dtype=np.int64)]
  NumpyRandom small(7);
  for (const std::uint64_t v : {175u, 196u, 537u, 502u, 579u}) CATCH_CHECK(small.next_interval(999) == v);
  // [int(x) for x in np.random.RandomState(7).randint(0, 2**40 + 1, size=5, dtype=np.int64)]
  NumpyRandom large(7);
  for (const std::uint64_t v : {752595690692ull, 108744157686ull, 291964244179ull, 309610205529ull, 936371205000ull})
    CATCH_CHECK(large.next_interval(std::uint64_t{1} << 40) == v);
  // max = 0 draws nothing.
  NumpyRandom a(11), b(11);
  CATCH_CHECK(a.next_interval(0) == 0);
  CATCH_CHECK(a.next_uint32() == b.next_uint32());
  // Bounds hold over many draws, including at a power of two and the full 64-bit range.
  NumpyRandom c(12);
  bool in_range = true, saw_max = false;
  for (int i = 0; i < 2000; ++i) {
    const auto v = c.next_interval(16);
    in_range = in_range && v <= 16;
    saw_max = saw_max || v == 16;
  }
  CATCH_CHECK(in_range);
  CATCH_CHECK(saw_max);
  CATCH_CHECK(c.next_interval(~std::uint64_t{0}) <= ~std::uint64_t{0});
}

CATCH_TEST_CASE("NumpyRandom(48) regenerates the authors' low-dimensional labels exactly", "[core][random]") {
  // The authors made cifar10_lowdim.npy as np.random.seed(48); (np.random.rand(10, 10) * 80).astype(float32).
  const std::string shared = labelrep_test::shared_dir();
  CATCH_REQUIRE_FALSE(shared.empty());
  const torch::Tensor lowdim = labelrep::read_npy(shared + "/reference/authors-labels/cifar10_lowdim.npy");
  CATCH_REQUIRE(lowdim.scalar_type() == torch::kFloat32);
  CATCH_REQUIRE(lowdim.numel() == 100);
  const float* file = lowdim.contiguous().data_ptr<float>();
  NumpyRandom rng(48);
  int equal = 0;
  for (int i = 0; i < 100; ++i) {
    const float mine = static_cast<float>(rng.next_double() * 80.0);
    CATCH_INFO("element " << i);
    CATCH_CHECK(mine == file[i]);
    equal += mine == file[i] ? 1 : 0;
  }
  CATCH_CHECK(equal == 100);
  // A different seed does not reproduce it: the comparison above can fail.
  NumpyRandom other(49);
  CATCH_CHECK(static_cast<float>(other.next_double() * 80.0) != file[0]);
}
