// Fuzz target: IDX structure behind the gzip layer. The input is an IDX file; it is gzip-compressed
// here (fast settings) and the result goes through decode_idx, so that mutations reach the IDX parser
// and the incremental payload allocation instead of dying on the gzip CRC.
#include <torch/types.h>
#include <zlib.h>

#include <cstring>

#include "fuzz_target.hpp"
#include "labelrep/data/loaders.hpp"

namespace {
std::string gzip(const std::uint8_t* data, std::size_t size) {
  z_stream s;
  std::memset(&s, 0, sizeof s);
  // windowBits 16 + 9: gzip wrapper, small window; memLevel 1: small state, so each run is cheap.
  labelrep_fuzz::require(deflateInit2(&s, 1, Z_DEFLATED, 16 + 9, 1, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
  std::string out(deflateBound(&s, static_cast<uLong>(size)) + 32, '\0');
  s.next_in = const_cast<Bytef*>(data);
  s.avail_in = static_cast<uInt>(size);
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  labelrep_fuzz::require(deflate(&s, Z_FINISH) == Z_STREAM_END, "deflate");
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string compressed = gzip(data, size);
  labelrep_fuzz::run_parser("fuzz.idx.gz", [&] {
    const torch::Tensor t = labelrep::data::decode_idx(compressed, "fuzz.idx.gz");
    // A gzip file that loads holds exactly the IDX bytes it was made from.
    labelrep_fuzz::require(4 + 4 * static_cast<std::size_t>(t.dim()) + static_cast<std::size_t>(t.numel()) == size,
                           "decoded IDX size differs from the input");
    labelrep_fuzz::require(t.numel() == 0 || std::memcmp(t.data_ptr(), data + 4 + 4 * t.dim(), static_cast<std::size_t>(t.numel())) == 0,
                           "decoded IDX data differs from the input");
  });
  return 0;
}
