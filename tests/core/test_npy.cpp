// .npy reading and writing. Every file here is assembled byte by byte, so that each malformed case has
// exactly one fault and a known byte offset; the interop cases run the real numpy in both directions.
#include "catch.hpp"

#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "support.hpp"

namespace {

using labelrep_test::TempDir;
using labelrep_test::write_bytes;

// "{'descr': ..., 'fortran_order': ..., 'shape': ..., }" as numpy writes it (keys sorted).
std::string dict_text(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

// Pads a header dict the way numpy does: spaces and a final '\n', so that the data starts on a
// multiple of 64 bytes (the preamble is 10 bytes in version 1, 12 in versions 2 and 3).
std::string pad_header(std::string dict, int major = 1) {
  const std::size_t used = (major == 1 ? 10 : 12) + dict.size() + 1;
  dict.append((64 - used % 64) % 64, ' ');
  dict.push_back('\n');
  return dict;
}

// Assembles a .npy file: magic, version, header length (2 bytes in version 1, 4 otherwise; the real
// length unless `declared` says otherwise), header text, data.
std::string npy_file(const std::string& header, const std::string& data, int major = 1, int minor = 0,
                     std::int64_t declared = -1) {
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(static_cast<char>(minor));
  const auto length = static_cast<std::uint64_t>(declared < 0 ? static_cast<std::int64_t>(header.size()) : declared);
  const int width = major == 1 ? 2 : 4;
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  return out + header + data;
}

std::size_t preamble_size(int major) { return major == 1 ? 10 : 12; }

template <typename T>
std::string bytes_of(const std::vector<T>& values, bool big_endian = false) {
  std::string out;
  for (const T& v : values) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    if (big_endian) std::reverse(b, b + sizeof(T));
    out.append(b, sizeof(T));
  }
  return out;
}

std::string tensor_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.nbytes());
}

// Exact equality: dtype, shape and every bit (torch::equal would call -0.0 equal to 0.0).
bool same_bits(const torch::Tensor& a, const torch::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && tensor_bytes(a) == tensor_bytes(b);
}

template <typename T>
torch::Tensor tensor_of(const std::vector<T>& values, torch::ScalarType type, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<T*>(values.data()), {static_cast<int64_t>(values.size())},
                          torch::TensorOptions().dtype(type))
      .clone()
      .reshape(shape);
}

// Runs `load` and checks that it throws FormatError naming `name` at byte `offset`; any other outcome
// (success, another exception type) is reported as a failure.
void expect_format_error(const std::function<void()>& load, const std::string& name, std::uint64_t offset) {
  try {
    load();
    CATCH_FAIL_CHECK("accepted: no FormatError");
  } catch (const labelrep::FormatError& e) {
    CATCH_INFO("message: " << e.what());
    CATCH_CHECK(e.path() == name);
    CATCH_CHECK(e.offset() == offset);
  } catch (const std::exception& e) {
    CATCH_FAIL_CHECK("wrong exception type: " << e.what());
  }
}

// The same bytes must fail the same way from a file (read_npy) and from memory (decode_npy).
void expect_rejected(const TempDir& dir, const std::string& name, const std::string& bytes, std::uint64_t offset) {
  CATCH_INFO("case: " << name << " (" << bytes.size() << " bytes), expected offset " << offset);
  const std::string path = dir.file(name + ".npy");
  write_bytes(path, bytes);
  expect_format_error([&] { labelrep::read_npy(path); }, path, offset);
  expect_format_error([&] { labelrep::decode_npy(bytes, name); }, name, offset);
}

const std::vector<float> kFloats = {0.0f, -0.0f, 1.5f, -2.25f, std::numeric_limits<float>::max(),
                                    std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::infinity(),
                                    -std::numeric_limits<float>::infinity(), 3.0e-20f, 1.0f / 3.0f, 7.0f, 8.0f,
                                    9.0f, 10.0f, 11.0f, 12.0f, 13.0f, 14.0f, 15.0f, 16.0f, 17.0f, 18.0f, 19.0f, 20.0f};
const std::vector<double> kDoubles = {0.0, -0.0, 1.5, -2.25, std::numeric_limits<double>::max(),
                                      std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::infinity(),
                                      -1e300, 0.1, 1.0 / 3.0, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
const std::vector<std::int32_t> kInt32s = {0, -1, 1, std::numeric_limits<std::int32_t>::min(),
                                           std::numeric_limits<std::int32_t>::max(), 0x01020304, -0x01020304, 7,
                                           8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};
const std::vector<std::int64_t> kInt64s = {0, -1, 1, std::numeric_limits<std::int64_t>::min(),
                                           std::numeric_limits<std::int64_t>::max(), 0x0102030405060708LL,
                                           -0x0102030405060708LL, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                           20, 21, 22, 23};
const std::vector<std::uint8_t> kBytes = {0, 1, 2, 127, 128, 254, 255, 7, 8, 9, 10, 11,
                                          12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};
const std::vector<std::uint8_t> kBools = {0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1};

// Reads `values` as a [2, 3, 4] array of dtype `code` in both byte orders and all three versions.
template <typename T>
void check_dtype(const std::string& code, torch::ScalarType type, const std::vector<T>& values,
                 const std::string& orders = "<>") {
  const torch::Tensor expected = tensor_of(values, type, {2, 3, 4});
  for (const char order : orders) {
    for (const int major : {1, 2, 3}) {
      const std::string descr = std::string(1, order) + code;
      CATCH_INFO("descr " << descr << ", version " << major << ".0");
      const std::string header = pad_header(dict_text(descr, "(2, 3, 4)"), major);
      const std::string bytes = npy_file(header, bytes_of(values, order == '>'), major);
      CATCH_CHECK((preamble_size(major) + header.size()) % 64 == 0);
      const torch::Tensor t = labelrep::decode_npy(bytes, descr);
      CATCH_CHECK(t.is_contiguous());
      CATCH_CHECK(t.device() == torch::kCPU);
      CATCH_CHECK(same_bits(t, expected));
    }
  }
}

}  // namespace

CATCH_TEST_CASE("npy: every dtype in both byte orders and versions 1.0, 2.0, 3.0", "[core][npy]") {
  check_dtype("f4", torch::kFloat32, kFloats);
  check_dtype("f8", torch::kFloat64, kDoubles);
  check_dtype("i4", torch::kInt32, kInt32s);
  check_dtype("i8", torch::kInt64, kInt64s);
  check_dtype("u1", torch::kUInt8, kBytes, "|<>");
  check_dtype("b1", torch::kBool, kBools, "|<>");
  // '=' means native order, which numpy also accepts.
  CATCH_CHECK(same_bits(labelrep::decode_npy(npy_file(pad_header(dict_text("=i4", "(2, 3, 4)")), bytes_of(kInt32s)), "x"),
                        tensor_of(kInt32s, torch::kInt32, {2, 3, 4})));
}

CATCH_TEST_CASE("npy: Fortran-order files are read into C order", "[core][npy]") {
  const torch::Tensor expected3 = torch::arange(24, torch::kFloat64).reshape({2, 3, 4}) * 1.25 - 7.5;
  const torch::Tensor expected2 = torch::arange(6, torch::kInt32).reshape({2, 3});
  for (const char order : std::string("<>")) {
    CATCH_INFO("byte order " << order);
    // In Fortran order the first index varies fastest: the bytes are those of the transposed array.
    const torch::Tensor file3 = expected3.permute({2, 1, 0}).contiguous();
    const std::vector<double> d3(file3.data_ptr<double>(), file3.data_ptr<double>() + 24);
    const std::string bytes3 = npy_file(pad_header(dict_text(std::string(1, order) + "f8", "(2, 3, 4)", "True")),
                                        bytes_of(d3, order == '>'));
    const torch::Tensor t3 = labelrep::decode_npy(bytes3, "f3");
    CATCH_CHECK(t3.is_contiguous());
    CATCH_CHECK(same_bits(t3, expected3));

    const std::vector<std::int32_t> d2 = {0, 3, 1, 4, 2, 5};
    const torch::Tensor t2 = labelrep::decode_npy(
        npy_file(pad_header(dict_text(std::string(1, order) + "i4", "(2, 3)", "True")), bytes_of(d2, order == '>')),
        "f2");
    CATCH_CHECK(t2.is_contiguous());
    CATCH_CHECK(same_bits(t2, expected2));
  }
  // 0-d and 1-d arrays are the same in both orders.
  const std::vector<std::int64_t> one = {42};
  CATCH_CHECK(same_bits(labelrep::decode_npy(npy_file(pad_header(dict_text("<i8", "()", "True")), bytes_of(one)), "s"),
                        torch::tensor(42, torch::kInt64).reshape({})));
  const std::vector<std::int64_t> three = {1, 2, 3};
  CATCH_CHECK(same_bits(labelrep::decode_npy(npy_file(pad_header(dict_text("<i8", "(3,)", "True")), bytes_of(three)), "v"),
                        torch::tensor({1, 2, 3}, torch::kInt64)));
}

CATCH_TEST_CASE("npy: round trips for every dtype and shape, in memory and through files", "[core][npy]") {
  TempDir dir;
  const std::vector<torch::ScalarType> types = {torch::kFloat32, torch::kFloat64, torch::kInt32,
                                                torch::kInt64,   torch::kUInt8,   torch::kBool};
  const std::vector<std::vector<int64_t>> shapes = {{}, {1}, {7}, {2, 3, 4}, {0}, {2, 0, 3}, {1, 1, 1, 1, 5}};
  int n = 0;
  for (const auto type : types) {
    for (const auto& shape : shapes) {
      CATCH_INFO("dtype " << c10::toString(type) << ", shape " << torch::IntArrayRef(shape));
      int64_t numel = 1;
      for (const auto d : shape) numel *= d;
      torch::Tensor t = (torch::arange(numel, torch::kInt64) * 37 - 50).reshape(shape);
      t = type == torch::kBool ? (t % 3 == 0) : type == torch::kUInt8 ? (t % 256 + 256) % 256 : t;
      t = t.to(type);
      if (type == torch::kFloat32 || type == torch::kFloat64) t = t / 7;  // fractions, not just integers
      const std::string bytes = labelrep::encode_npy(t);
      // numpy's layout: version 1.0, little-endian descr, the data starting on a 64-byte boundary.
      CATCH_CHECK(bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
      const std::size_t header_size = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
      CATCH_CHECK((10 + header_size) % 64 == 0);
      CATCH_CHECK(bytes[10 + header_size - 1] == '\n');
      CATCH_CHECK(bytes.size() == 10 + header_size + t.nbytes());
      CATCH_CHECK(bytes.substr(0, 10 + header_size).find('>') == std::string::npos);
      CATCH_CHECK(same_bits(labelrep::decode_npy(bytes, "mem"), t));
      const std::string path = dir.file("rt" + std::to_string(n++) + ".npy");
      labelrep::write_npy(path, t);
      CATCH_CHECK(labelrep::read_file(path) == bytes);
      CATCH_CHECK(same_bits(labelrep::read_npy(path), t));
    }
  }
  // A non-contiguous view is written with its logical (C-order) values.
  const torch::Tensor base = torch::arange(12, torch::kInt32).reshape({3, 4});
  const torch::Tensor view = base.t();
  CATCH_REQUIRE_FALSE(view.is_contiguous());
  CATCH_CHECK(same_bits(labelrep::decode_npy(labelrep::encode_npy(view), "t"), view.contiguous()));
  // Dtypes numpy cannot hold as one of ours are refused, not silently converted.
  CATCH_CHECK_THROWS_AS(labelrep::encode_npy(torch::zeros({2}, torch::kFloat16)), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::encode_npy(torch::zeros({2}, torch::kInt16)), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::encode_npy(torch::Tensor()), labelrep::InvalidArgument);
  // 32 dimensions is the most numpy 1.x and read_npy accept; labelrep never writes what it cannot read.
  std::vector<int64_t> shape32(32, 1);
  shape32.back() = 2;
  const torch::Tensor dims32 = torch::arange(2, torch::kInt32).reshape(shape32);
  CATCH_CHECK(same_bits(labelrep::decode_npy(labelrep::encode_npy(dims32), "32d"), dims32));
  CATCH_CHECK_THROWS_AS(labelrep::encode_npy(torch::zeros(std::vector<int64_t>(33, 1))), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::write_npy(dir.file("half.npy"), torch::zeros({2}, torch::kFloat16)),
                        labelrep::InvalidArgument);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("half.npy")));
  CATCH_CHECK_THROWS_AS(labelrep::read_npy(dir.file("missing.npy")), labelrep::IoError);
  CATCH_CHECK_THROWS_AS(labelrep::read_npy(dir.path().string()), labelrep::IoError);
}

CATCH_TEST_CASE("npy: long headers and the header spellings numpy accepts load", "[core][npy]") {
  TempDir dir;
  const std::vector<float> values = {1, 2, 3, 4, 5, 6};
  const torch::Tensor expected = tensor_of(values, torch::kFloat32, {2, 3});
  const std::string data = bytes_of(values);
  auto load_both = [&](const std::string& name, const std::string& bytes) {
    CATCH_INFO("case: " << name);
    const std::string path = dir.file(name + ".npy");
    write_bytes(path, bytes);
    CATCH_CHECK(same_bits(labelrep::read_npy(path), expected));
    CATCH_CHECK(same_bits(labelrep::decode_npy(bytes, name), expected));
  };
  const std::string dict = dict_text("<f4", "(2, 3)");
  // cnpy#85: a reader with a fixed 256-byte buffer fails on these.
  const std::string long_header = pad_header(dict + std::string(300, ' '));
  CATCH_REQUIRE(long_header.size() >= 256);
  load_both("header-over-256", npy_file(long_header, data));
  // The 10,000-byte limit is inclusive, as in numpy; in version 2.0 that is exactly the 10,012 bytes
  // read_npy reads before it knows the header length.
  load_both("header-10000-v1", npy_file(dict + std::string(10000 - dict.size() - 1, ' ') + "\n", data));
  load_both("header-10000-v2", npy_file(dict + std::string(10000 - dict.size() - 1, ' ') + "\n", data, 2));
  load_both("header-10000-v3", npy_file(dict + std::string(10000 - dict.size() - 1, ' ') + "\n", data, 3));
  load_both("double-quotes", npy_file("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}\n", data));
  load_both("other-key-order", npy_file("{'shape': (2,3), 'fortran_order': False, 'descr': '<f4'}", data));
  load_both("python2-long", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }\n", data));
  load_both("tabs-and-newlines", npy_file("{'descr':'<f4',\t'fortran_order':False,\n'shape':(2,3)}\r\n", data));
}

CATCH_TEST_CASE("npy: malformed files give FormatError with the file and the exact byte offset", "[core][npy]") {
  TempDir dir;
  const std::vector<float> values(12, 0.5f);
  const std::string data = bytes_of(values);  // [3, 4] float32: 48 bytes
  const std::string dict = dict_text("<f4", "(3, 4)");
  const std::string header = pad_header(dict);
  const std::string valid = npy_file(header, data);
  const std::uint64_t data_at = 10 + header.size();
  CATCH_REQUIRE(data_at == 128);
  CATCH_REQUIRE(valid.size() == data_at + 48);
  CATCH_REQUIRE(labelrep::decode_npy(valid, "valid").sizes() == torch::IntArrayRef({3, 4}));
  // Offsets inside a version 1 header: the header text starts at byte 10.
  auto at = [](const std::string& text, const std::string& needle, std::size_t from = 0) {
    const std::size_t pos = text.find(needle, from);
    CATCH_REQUIRE(pos != std::string::npos);
    return static_cast<std::uint64_t>(10 + pos);
  };
  auto with_header = [&](const std::string& d) { return npy_file(pad_header(d), data); };
  int cases = 0;
  auto reject = [&](const std::string& name, const std::string& bytes, std::uint64_t offset) {
    ++cases;
    expect_rejected(dir, name, bytes, offset);
  };

  // numpy/lib/tests/test_format.py `malformed_magic`, followed by the rest of a valid file where the
  // magic is 8 bytes long, so that the magic is the only fault. The offset is the first wrong byte.
  const std::string rest = valid.substr(8);
  reject("magic-x92", std::string("\x92NUMPY\x01\x00", 8) + rest, 0);
  reject("magic-x00", std::string("\x00NUMPY\x01\x00", 8) + rest, 0);
  reject("magic-lowercase", std::string("\x93numpy\x01\x00", 8) + rest, 1);
  reject("magic-matlab", std::string("\x93MATLB\x01\x00", 8) + rest, 1);
  reject("magic-7-bytes", std::string("\x93NUMPY\x01", 7), 7);
  reject("magic-6-bytes", std::string("\x93NUMPY", 6), 6);
  reject("magic-empty", std::string(), 0);
  reject("magic-ascii-text", std::string("hello world, not numpy"), 0);

  // numpy's `bad_version_magic`, with a valid remainder; the offset is the version field (byte 6).
  reject("version-1.1", std::string("\x93NUMPY\x01\x01", 8) + rest, 6);
  reject("version-0.0", std::string("\x93NUMPY\x00\x00", 8) + rest, 6);
  reject("version-0.1", std::string("\x93NUMPY\x00\x01", 8) + rest, 6);
  reject("version-2.2", std::string("\x93NUMPY\x02\x02", 8) + rest, 6);
  reject("version-ff.ff", std::string("\x93NUMPY\xff\xff", 8) + rest, 6);
  reject("version-4.0", std::string("\x93NUMPY\x04\x00", 8) + rest, 6);
  reject("version-3.1", std::string("\x93NUMPY\x03\x01", 8) + rest, 6);
  // numpy's list also has the bare 8 bytes of version 2.0: a valid version, but the file ends inside
  // the 4-byte header length.
  reject("version-2.0-bare", std::string("\x93NUMPY\x02\x00", 8), 8);

  // Header length and size.
  const std::string big = dict + std::string(10001 - dict.size() - 1, ' ') + "\n";
  reject("header-10001-v1", npy_file(big, data), 8);
  reject("header-10001-v2", npy_file(big, data, 2), 8);
  // llohse/libnpy#44: 12 bytes declaring a 4 GiB header must not allocate it.
  reject("libnpy-44", std::string("\x93NUMPY\x02\x00\xf0\xff\xff\xff", 12), 8);
  reject("header-longer-than-file", npy_file(header, "", 1, 0, 1000), 10 + header.size());
  reject("header-empty", npy_file("", data), 10);
  reject("header-not-a-dict", with_header("['descr', 'fortran_order', 'shape']"), 10);

  // Keys: exactly descr, fortran_order and shape, once each.
  reject("missing-shape", with_header("{'descr': '<f4', 'fortran_order': False, }"), 10);
  reject("missing-descr", with_header("{'fortran_order': False, 'shape': (3, 4), }"), 10);
  reject("missing-fortran", with_header("{'descr': '<f4', 'shape': (3, 4), }"), 10);
  const std::string extra = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'extra': 1, }";
  reject("extra-key", with_header(extra), at(extra, "'extra'"));
  const std::string dup = "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  reject("duplicate-descr", with_header(dup), at(dup, "'descr'", dup.find("'descr'") + 1));
  const std::string dup_shape = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'shape': (3, 4), }";
  reject("duplicate-shape", with_header(dup_shape), at(dup_shape, "'shape'", dup_shape.find("'shape'") + 1));

  // Values.
  const std::string fortran_int = dict_text("<f4", "(3, 4)", "0");
  reject("fortran-order-int", with_header(fortran_int), at(fortran_int, "0,"));
  const std::string fortran_str = dict_text("<f4", "(3, 4)", "'False'");
  reject("fortran-order-string", with_header(fortran_str), at(fortran_str, "'False'"));
  const std::string fortran_lower = dict_text("<f4", "(3, 4)", "false");
  reject("fortran-order-lowercase", with_header(fortran_lower), at(fortran_lower, "false"));
  const std::string list_shape = dict_text("<f4", "[3, 4]");
  reject("shape-list", with_header(list_shape), at(list_shape, "[3"));
  const std::string negative = dict_text("<f4", "(-3, 4)");
  reject("shape-negative", with_header(negative), at(negative, "-3"));
  const std::string float_dim = dict_text("<f4", "(3.0, 4)");
  reject("shape-float", with_header(float_dim), at(float_dim, ".0"));
  // Python reads (12) as the integer 12, not a tuple: numpy refuses it.
  const std::string not_tuple = dict_text("<f4", "(12)");
  reject("shape-not-a-tuple", with_header(not_tuple), at(not_tuple, ")"));
  const std::string too_large = dict_text("<f4", "(9223372036854775808,)");
  reject("shape-over-int64", with_header(too_large), at(too_large, "922"));
  // The element count (2^32 * 2^32) and the byte size (2^62 * 4) overflow 64 bits; the offset is the
  // start of the header, as the fault is the combination of shape and dtype.
  reject("shape-count-overflow", with_header(dict_text("<f4", "(4294967296, 4294967296)")), 10);
  reject("shape-bytes-overflow", with_header(dict_text("<f4", "(2147483648, 2147483648)")), 10);
  // An empty array whose other dimensions would still overflow: numpy refuses it ("array is too big").
  reject("shape-empty-overflow", with_header(dict_text("<f4", "(0, 4611686018427387904, 4611686018427387904)")), 10);
  std::string dims33 = "(";
  for (int i = 0; i < 33; ++i) dims33 += "1, ";
  dims33 += ")";
  const std::string many = dict_text("<f4", dims33);
  reject("shape-33-dims", with_header(many), 10 + many.find("(") + 1 + 32 * 3);

  // Dtypes: object arrays hold pickles (code execution), so they are always refused.
  const std::string object = dict_text("|O", "(3, 4)");
  reject("dtype-object", with_header(object), at(object, "'|O'"));
  const std::string structured = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3, 4), }";
  reject("dtype-structured", with_header(structured), at(structured, "[("));
  for (const std::string descr : {"<f2", "<c8", "<U3", "<i2", "<u4", "|V4", "f4", "|f4"}) {
    const std::string d = dict_text(descr, "(3, 4)");
    reject("dtype-" + std::string(descr[0] == '<' || descr[0] == '|' ? descr.substr(1) : descr) +
               (descr[0] == '|' ? "-bar" : ""),
           with_header(d), at(d, "'" + descr + "'"));
  }

  // Header text.
  const std::string escaped = "{'descr': '<\\x66\\x34', 'fortran_order': False, 'shape': (3, 4), }";
  reject("escape-in-string", with_header(escaped), at(escaped, "\\"));
  const std::string trailing_text = dict + " x";
  reject("text-after-dict", with_header(trailing_text), at(trailing_text, "x"));
  std::string non_ascii = header;
  non_ascii[non_ascii.size() - 2] = '\xe9';  // a padding space replaced by Latin-1 'é'
  reject("non-ascii-v1", npy_file(non_ascii, data), 10 + non_ascii.size() - 2);
  std::string non_ascii_v2 = pad_header(dict, 2);
  non_ascii_v2[non_ascii_v2.size() - 3] = '\x80';
  reject("non-ascii-v2", npy_file(non_ascii_v2, data, 2), 12 + non_ascii_v2.size() - 3);

  // Data.
  reject("data-one-byte-short", valid.substr(0, valid.size() - 1), valid.size() - 1);
  reject("data-missing", valid.substr(0, data_at), data_at);
  reject("data-one-trailing-byte", valid + "x", valid.size());
  reject("data-4k-trailing", valid + std::string(4096, '\0'), valid.size());
  const std::vector<std::uint8_t> bools = {0, 1, 1, 2, 0};
  const std::string bool_header = pad_header(dict_text("|b1", "(5,)"));
  reject("bool-byte-2", npy_file(bool_header, bytes_of(bools)), 10 + bool_header.size() + 3);
  const std::vector<std::uint8_t> bools_ff = {0xff};
  const std::string bool_header1 = pad_header(dict_text("|b1", "(1,)"));
  reject("bool-byte-255", npy_file(bool_header1, bytes_of(bools_ff)), 10 + bool_header1.size());

  CATCH_CHECK(cases >= 25);
}

CATCH_TEST_CASE("npy: every strict prefix of a valid file is rejected with FormatError", "[core][npy]") {
  TempDir dir;
  const std::vector<float> floats = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const std::vector<std::uint8_t> bools = {1, 0, 1, 1, 0};
  const std::vector<std::string> files = {
      labelrep::encode_npy(tensor_of(floats, torch::kFloat32, {3, 4})),
      labelrep::encode_npy(tensor_of(bools, torch::kUInt8, {5}).to(torch::kBool)),
      npy_file(pad_header(dict_text(">f4", "(3, 4)", "True"), 2), bytes_of(floats, true), 2),
  };
  const std::string path = dir.file("prefix.npy");
  for (std::size_t f = 0; f < files.size(); ++f) {
    const std::string& bytes = files[f];
    CATCH_REQUIRE_NOTHROW(labelrep::decode_npy(bytes, "whole"));
    int rejected = 0;
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      CATCH_INFO("file " << f << ", prefix of " << n << " of " << bytes.size() << " bytes");
      const std::string prefix = bytes.substr(0, n);
      write_bytes(path, prefix);
      bool ok = true;
      for (const bool from_file : {true, false}) {
        try {
          if (from_file) labelrep::read_npy(path); else labelrep::decode_npy(prefix, "mem");
          ok = false;
          CATCH_FAIL_CHECK("prefix accepted");
        } catch (const labelrep::FormatError& e) {
          // The fault is found inside what the file has: never past its end.
          if (e.offset() > n) {
            ok = false;
            CATCH_FAIL_CHECK("offset " << e.offset() << " is past the end: " << e.what());
          }
        } catch (const std::exception& e) {
          ok = false;
          CATCH_FAIL_CHECK("not a FormatError: " << e.what());
        }
      }
      rejected += ok ? 1 : 0;
    }
    CATCH_CHECK(rejected == static_cast<int>(bytes.size()));
  }
}

CATCH_TEST_CASE("npy: a huge declared shape fails before anything is allocated", "[core][npy]") {
  TempDir dir;
  const std::string path = dir.file("huge.npy");
  // 2^40 float32 elements would be 4 TiB; the file has 16 bytes of data.
  const std::string bytes = npy_file(pad_header(dict_text("<f4", "(1099511627776,)")), std::string(16, '\0'));
  write_bytes(path, bytes);
  const auto start = std::chrono::steady_clock::now();
  expect_format_error([&] { labelrep::read_npy(path); }, path, bytes.size());
  expect_format_error([&] { labelrep::decode_npy(bytes, "huge"); }, "huge", bytes.size());
  // Same for a shape whose size is plausible on its own but not for this file (1 GiB of uint8).
  const std::string gib = npy_file(pad_header(dict_text("|u1", "(1024, 1024, 1024)")), std::string(16, '\0'));
  write_bytes(path, gib);
  expect_format_error([&] { labelrep::read_npy(path); }, path, gib.size());
  // Allocating and filling terabytes would take far longer than this (or be killed).
  CATCH_CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

CATCH_TEST_CASE("npy: the authors' label files load, and re-encode to the same bytes", "[core][npy]") {
  const std::string shared = labelrep_test::shared_dir();
  CATCH_REQUIRE_FALSE(shared.empty());
  const std::string folder = shared + "/reference/authors-labels/";
  const std::vector<std::pair<std::string, std::vector<int64_t>>> files = {
      {"cifar10_speech.npy", {10, 64, 64}}, {"cifar10_shuffle.npy", {10, 64, 64}},
      {"cifar10_uniform.npy", {10, 64, 64}}, {"cifar10_random.npy", {10, 64, 64}},
      {"cifar10_lowdim.npy", {10, 10}},      {"cifar10_composite.npy", {10, 64, 64}},
      {"cifar10_bert.npy", {10, 48, 48}},    {"cifar10_glove.npy", {10, 50}}};
  for (const auto& [name, shape] : files) {
    CATCH_INFO(name);
    const std::string path = folder + name;
    const torch::Tensor t = labelrep::read_npy(path);
    CATCH_CHECK(t.scalar_type() == torch::kFloat32);
    CATCH_CHECK(t.sizes() == torch::IntArrayRef(shape));
    CATCH_CHECK(torch::isfinite(t).all().item<bool>());
    // All were written by numpy; labelrep pads the header to the same 64-byte boundary, so the bytes
    // agree. (numpy >= 1.21 also adds up to 20 "growth axis" spaces; only for shapes with a long repr,
    // such as 15 or more dimensions, do they cross a 64-byte boundary and make numpy's header longer.)
    CATCH_CHECK(labelrep::encode_npy(t) == labelrep::read_file(path));
  }
  // The constant-matrix label: every element of class i is float32(i * 80 / 9).
  const torch::Tensor uniform = labelrep::read_npy(folder + "cifar10_uniform.npy");
  for (int i = 0; i < 10; ++i) {
    CATCH_INFO("class " << i);
    CATCH_CHECK((uniform[i] == static_cast<float>(i * 80.0 / 9.0)).all().item<bool>());
  }
  const torch::Tensor speech = labelrep::read_npy(folder + "cifar10_speech.npy");
  CATCH_CHECK(speech.min().item<float>() >= -80.0f);
  CATCH_CHECK(speech.max().item<float>() <= 0.0f);
}

namespace {

// Runs a python script with numpy; fails (never skips) when python or numpy is missing, because CI
// installs them and a skipped interop test would hide a regression.
labelrep_test::CommandResult run_numpy_script(const TempDir& dir, const std::string& script) {
  const std::string python = "/usr/bin/python3";
  if (!std::filesystem::exists(python))
    CATCH_FAIL("/usr/bin/python3 is missing; the numpy interop test needs it: apt-get install python3-numpy");
  const std::string script_path = dir.file("script.py");
  write_bytes(script_path, "import sys\ntry:\n    import numpy as np\nexcept ImportError:\n    sys.exit(77)\n" + script);
  auto result = labelrep_test::run_command(python + " " + script_path + " " + dir.path().string());
  if (result.exit_code == 77)
    CATCH_FAIL("numpy is missing for /usr/bin/python3; the numpy interop test needs it: apt-get install python3-numpy");
  return result;
}

// The same test arrays on both sides: [2, 3, 4] from arange(24) with values that are exact in every
// dtype and exercise all bytes of the wide ones.
torch::Tensor interop_values(const std::string& code) {
  const torch::Tensor base = torch::arange(24, torch::kInt64).reshape({2, 3, 4});
  if (code == "f4") return (base.to(torch::kFloat64) * 1.25 - 7.5).to(torch::kFloat32);
  if (code == "f8") return base.to(torch::kFloat64) / 3.0 * 1e300;
  if (code == "i4") return (base * 100003 - 1000000).to(torch::kInt32);
  if (code == "i8") return base * int64_t{400000000003} - (int64_t{1} << 62);
  if (code == "u1") return (base * 11 % 256).to(torch::kUInt8);
  return base % 3 == 0;  // b1
}

const char* kPythonValues = R"(
base = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
def values(code):
    if code == 'f4': return (base * 1.25 - 7.5).astype('<f4')
    if code == 'f8': return base / 3.0 * 1e300
    if code == 'i4': return (base * 100003 - 1000000).astype('<i4')
    if code == 'i8': return base * 400000000003 - 2**62
    if code == 'u1': return (base * 11 % 256).astype('u1')
    return base % 3 == 0
)";

}  // namespace

CATCH_TEST_CASE("npy: numpy reads what labelrep writes and labelrep reads what numpy writes", "[core][npy]") {
  TempDir dir;
  const std::vector<std::string> codes = {"f4", "f8", "i4", "i8", "u1", "b1"};

  // (a) numpy writes; labelrep must read the exact values.
  const std::string write_script = std::string(kPythonValues) + R"(
d = sys.argv[1]
for code in ['f4', 'f8', 'i4', 'i8']:
    for order, tag in (('<', 'le'), ('>', 'be')):
        np.save(f'{d}/np_{tag}_{code}.npy', values(code).astype(order + code))
for code in ['u1', 'b1']:
    np.save(f'{d}/np_le_{code}.npy', values(code))
np.save(f'{d}/np_fortran_f4.npy', np.asfortranarray(values('f4')))
np.save(f'{d}/np_fortran_be_i8.npy', np.asfortranarray(values('i8').astype('>i8')))
for major in (2, 3):
    with open(f'{d}/np_v{major}_f8.npy', 'wb') as f:
        np.lib.format.write_array(f, values('f8'), version=(major, 0))
    with open(f'{d}/np_v{major}_be_i4.npy', 'wb') as f:
        np.lib.format.write_array(f, values('i4').astype('>i4'), version=(major, 0))
np.save(f'{d}/np_scalar.npy', np.float64(3.25))
np.save(f'{d}/np_empty.npy', np.zeros((0, 3), '<f4'))
np.save(f'{d}/np_vector.npy', np.arange(5, dtype='<i8') - 2)
)";
  const auto wrote = run_numpy_script(dir, write_script);
  CATCH_INFO("python output: " << wrote.output);
  CATCH_REQUIRE(wrote.exit_code == 0);
  auto read = [&](const std::string& name) { return labelrep::read_npy(dir.file(name + ".npy")); };
  for (const auto& code : codes) {
    CATCH_INFO("dtype " << code);
    CATCH_CHECK(same_bits(read("np_le_" + code), interop_values(code)));
    if (code != "u1" && code != "b1") CATCH_CHECK(same_bits(read("np_be_" + code), interop_values(code)));
  }
  CATCH_CHECK(same_bits(read("np_fortran_f4"), interop_values("f4")));
  CATCH_CHECK(same_bits(read("np_fortran_be_i8"), interop_values("i8")));
  for (const std::string major : {"2", "3"}) {
    CATCH_INFO("version " << major);
    CATCH_CHECK(labelrep::read_file(dir.file("np_v" + major + "_f8.npy"))[6] == static_cast<char>(std::stoi(major)));
    CATCH_CHECK(same_bits(read("np_v" + major + "_f8"), interop_values("f8")));
    CATCH_CHECK(same_bits(read("np_v" + major + "_be_i4"), interop_values("i4")));
  }
  CATCH_CHECK(same_bits(read("np_scalar"), torch::tensor(3.25, torch::kFloat64).reshape({})));
  CATCH_CHECK(same_bits(read("np_empty"), torch::zeros({0, 3}, torch::kFloat32)));
  CATCH_CHECK(same_bits(read("np_vector"), torch::arange(5, torch::kInt64) - 2));

  // (b) labelrep writes; numpy (allow_pickle=False) must load the same values, dtypes and shapes.
  for (const auto& code : codes) labelrep::write_npy(dir.file("lr_" + code + ".npy"), interop_values(code));
  labelrep::write_npy(dir.file("lr_transposed.npy"), interop_values("i8").permute({2, 0, 1}));
  labelrep::write_npy(dir.file("lr_scalar.npy"), torch::tensor(-0.5, torch::kFloat32).reshape({}));
  labelrep::write_npy(dir.file("lr_empty.npy"), torch::zeros({2, 0, 3}, torch::kInt32));
  labelrep::write_npy(dir.file("lr_vector.npy"), torch::tensor({true, false, true}));
  const std::string check_script = std::string(kPythonValues) + R"(
d = sys.argv[1]
expected = {f'lr_{c}': values(c) for c in ['f4', 'f8', 'i4', 'i8', 'u1', 'b1']}
expected['lr_transposed'] = values('i8').transpose(2, 0, 1)
expected['lr_scalar'] = np.array(-0.5, dtype='<f4')
expected['lr_empty'] = np.zeros((2, 0, 3), dtype='<i4')
expected['lr_vector'] = np.array([True, False, True])
bad = 0
for name, want in expected.items():
    path = f'{d}/{name}.npy'
    got = np.load(path, allow_pickle=False)
    with open(path, 'rb') as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        else:
            np.lib.format.read_array_header_2_0(f)
        aligned = f.tell() % 64 == 0
    if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want) or not aligned:
        print(f'MISMATCH {name}: got {got.dtype} {got.shape} aligned={aligned}, want {want.dtype} {want.shape}')
        bad += 1
print(f'checked {len(expected)} files, {bad} mismatches')
sys.exit(1 if bad else 0)
)";
  const auto checked = run_numpy_script(dir, check_script);
  CATCH_INFO("python output: " << checked.output);
  CATCH_CHECK(checked.exit_code == 0);
  CATCH_CHECK(checked.output.find("checked 10 files, 0 mismatches") != std::string::npos);
}
