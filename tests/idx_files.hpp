#pragma once
// IDX files (the Fashion-MNIST format) made in tests: big-endian words, headers and gzip.
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace labelrep_test {

/// A 32-bit big-endian word.
inline std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

/// An IDX file's bytes: magic, dimensions, payload (not checked: tests also make malformed ones).
inline std::string idx(std::uint32_t magic, const std::vector<std::uint32_t>& dims, const std::string& payload) {
  std::string out = be32(magic);
  for (auto d : dims) out += be32(d);
  return out + payload;
}

/// `raw` as a gzip stream, as the dataset's .gz files.
inline std::string gzip(const std::string& raw) {
  z_stream s{};
  deflateInit2(&s, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&s, raw.size()) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  s.avail_in = static_cast<uInt>(raw.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

}  // namespace labelrep_test
