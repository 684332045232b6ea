// Fuzz target: checkpoint envelope bytes through open_envelope. An envelope that opens must be exactly
// what seal_envelope makes of its payload (no second encoding of the same payload is accepted).
#include "fuzz_target.hpp"
#include "labelrep/core/envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string sealed = labelrep_fuzz::as_string(data, size);
  labelrep_fuzz::run_parser("fuzz.ckpt", [&] {
    const std::string payload = labelrep::open_envelope(sealed, "fuzz.ckpt");
    labelrep_fuzz::require(labelrep::seal_envelope(payload) == sealed, "an envelope opened that seal_envelope would not write");
  });
  return 0;
}
