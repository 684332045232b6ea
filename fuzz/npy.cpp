// Fuzz target: .npy bytes through decode_npy, the parser behind read_npy. A file that loads must
// re-encode and decode to the same tensor.
#include <torch/types.h>

#include "fuzz_target.hpp"
#include "labelrep/core/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  labelrep_fuzz::run_parser("fuzz.npy", [&] {
    const torch::Tensor t = labelrep::decode_npy(labelrep_fuzz::as_string(data, size), "fuzz.npy");
    const torch::Tensor back = labelrep::decode_npy(labelrep::encode_npy(t), "fuzz.npy");
    labelrep_fuzz::require(back.sizes() == t.sizes() && back.scalar_type() == t.scalar_type(), "npy round trip changed the tensor");
  });
  return 0;
}
