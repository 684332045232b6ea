// Fuzz target: WAV bytes through decode_wav (labelrep's RIFF pre-check, then libsndfile on the
// canonical file rebuilt from the checked fields).
#include "fuzz_target.hpp"
#include "labelrep/audio/waveform.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  labelrep_fuzz::run_parser("fuzz.wav", [&] {
    const auto w = labelrep::audio::decode_wav(labelrep_fuzz::as_string(data, size), "fuzz.wav");
    // Memory use follows the file: at most one float per data byte of the shortest sample (8 bits).
    labelrep_fuzz::require(w.samples.size() <= size, "more samples than the file has bytes");
  });
  return 0;
}
