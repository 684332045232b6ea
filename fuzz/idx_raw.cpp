// Fuzz target: IDX file bytes through decode_idx, the parser behind read_idx (raw files, and gzip
// files taken as they are: corrupt streams, truncation, trailing bytes).
#include <torch/types.h>

#include "fuzz_target.hpp"
#include "labelrep/data/loaders.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  labelrep_fuzz::run_parser("fuzz.idx", [&] {
    const torch::Tensor t = labelrep::data::decode_idx(labelrep_fuzz::as_string(data, size), "fuzz.idx");
    labelrep_fuzz::require(t.scalar_type() == torch::kUInt8 && t.dim() >= 1 && t.dim() <= 4, "IDX tensor of the wrong kind");
  });
  return 0;
}
