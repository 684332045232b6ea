// FFT plans are made with FFTW_ESTIMATE (no timing-based choice), so the spectrogram and the speech
// label of a fixed signal are byte-identical in every process, whatever else the process planned first.
// Checked across separate launches of this test binary (a hidden test case prints the digest).
#include "catch.hpp"

#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/sha256.hpp"
#include "labelrep/audio/speech.hpp"
#include "labelrep/audio/waveform.hpp"
#include "support.hpp"

namespace {

// A fixed chirp with a little deterministic "noise": 0.8 s at 22050 Hz.
labelrep::audio::Waveform fixed_signal() {
  labelrep::audio::Waveform w;
  w.sample_rate = 22050;
  const int n = 17640;
  w.samples.resize(n);
  std::uint32_t state = 12345;
  for (int i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / w.sample_rate;
    state = state * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(state >> 8) / (1 << 24) - 0.5) * 0.01;
    w.samples[i] = static_cast<float>(0.4 * std::sin(2 * M_PI * (200 * t + 900 * t * t)) * std::min(1.0, 4 * t) + noise);
  }
  return w;
}

std::string digest_of(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return labelrep::detail::to_hex(labelrep::detail::sha256(c.data_ptr(), static_cast<std::size_t>(c.numel() * c.element_size())));
}

// SHA-256 of the power spectrogram (n_fft 2048) and of the speech label of the fixed signal. With
// `plan_others_first`, other FFT sizes are planned before (a different planner history).
std::string spectrum_digest(bool plan_others_first) {
  const auto w = fixed_signal();
  if (plan_others_first)
    for (int n : {512, 1000, 4096, 32}) (void)labelrep::audio::power_spectrogram(w.samples, n, n / 4);
  return digest_of(labelrep::audio::power_spectrogram(w.samples, 2048, 256)) + "/" + digest_of(labelrep::audio::speech_label(w));
}

void check_over_launches(int launches) {
  const std::string here = spectrum_digest(true);
  CATCH_CHECK(spectrum_digest(false) == here);
  for (int i = 0; i < launches; ++i) {
    const auto child = labelrep_test::run_command("LABELREP_FFT_CHILD=1 /proc/" + std::to_string(::getpid()) + "/exe \"[.fft-child]\"");
    CATCH_INFO(child.output);
    CATCH_REQUIRE(child.exit_code == 0);
    CATCH_CHECK(child.output.find("fft-digest " + here) != std::string::npos);
  }
}

}  // namespace

// Run by check_over_launches in a fresh process (LABELREP_FFT_CHILD set), where it prints the digest.
// Run alone it checks that a second computation in the same process gives the same digest.
CATCH_TEST_CASE("print the digest of the fixed signal's spectrogram", "[.fft-child]") {
  const std::string digest = spectrum_digest(false);
  CATCH_CHECK(spectrum_digest(false) == digest);
  if (std::getenv("LABELREP_FFT_CHILD") != nullptr) std::printf("fft-digest %s\n", digest.c_str());
}

CATCH_TEST_CASE("spectrograms are byte-identical across processes and planner histories", "[audio][determinism]") { check_over_launches(3); }

CATCH_TEST_CASE("spectrograms are byte-identical over 100 process launches", "[audio][determinism][slow]") { check_over_launches(100); }
