// Audio: WAV checks, text-to-speech, every stage of the speech-label pipeline against the golden values
// and the authors' file, resize rules, inversion and the text → label → audio → label round trip.
#include "catch.hpp"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <thread>

#include "labelrep/audio/speech.hpp"
#include "labelrep/audio/waveform.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "support.hpp"

namespace audio = labelrep::audio;
using labelrep::FormatError;
using labelrep::InvalidArgument;
using labelrep_test::Approx;

namespace {

std::string reference(const std::string& name) {
  const std::string dir = labelrep_test::shared_dir();
  CATCH_REQUIRE_FALSE(dir.empty());  // CI has shared/ beside the checkout; set LABELREP_SHARED_DIR otherwise
  return dir + "/reference/authors-labels/" + name;
}

nlohmann::json golden() {
  const std::string dir = labelrep_test::shared_dir();
  CATCH_REQUIRE_FALSE(dir.empty());
  return nlohmann::json::parse(labelrep::read_file(dir + "/specs/golden_cifar10.json"));
}

// ---- WAV bytes built by hand -----------------------------------------------------------------
void put16(std::string& s, unsigned v) { s += static_cast<char>(v & 0xff), s += static_cast<char>((v >> 8) & 0xff); }
void put32(std::string& s, std::uint32_t v) { put16(s, v & 0xffff), put16(s, v >> 16); }

std::string fmt_chunk(unsigned tag, unsigned channels, std::uint32_t rate, unsigned bits) {
  std::string c = "fmt ";
  put32(c, 16);
  put16(c, tag);
  put16(c, channels);
  put32(c, rate);
  put32(c, rate * channels * bits / 8);
  put16(c, channels * bits / 8);
  put16(c, bits);
  return c;
}
std::string riff(const std::string& chunks) {
  std::string s = "RIFF";
  put32(s, static_cast<std::uint32_t>(chunks.size() + 4));
  return s + "WAVE" + chunks;
}
std::string data_chunk(const std::string& payload) {
  std::string c = "data";
  put32(c, static_cast<std::uint32_t>(payload.size()));
  return c + payload;
}
std::string pcm16_wav(const std::vector<std::int16_t>& samples, unsigned channels = 1, std::uint32_t rate = 24000) {
  std::string payload;
  for (auto v : samples) put16(payload, static_cast<std::uint16_t>(v));
  return riff(fmt_chunk(1, channels, rate, 16) + data_chunk(payload));
}

struct Check {
  std::string name, bytes;
  std::uint64_t offset;
};

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace

// ---- WAV -----------------------------------------------------------------------------------------

CATCH_TEST_CASE("WAV files round-trip 16-bit PCM and float samples exactly", "[audio]") {
  if (!audio::has_wav_io()) {
    CATCH_REQUIRE_THROWS_AS(audio::read_wav("x.wav"), labelrep::Error);
    return;
  }
  labelrep_test::TempDir dir;
  audio::Waveform w;
  w.sample_rate = 24000;
  for (int i = 0; i < 1000; ++i) w.samples.push_back(static_cast<float>(std::lrint(20000.0 * std::sin(0.01 * i))) / 32768.0f);
  w.samples.push_back(-1.0f);
  audio::write_wav(dir.file("a.wav"), w);
  const audio::Waveform back = audio::read_wav(dir.file("a.wav"));
  CATCH_CHECK(back.sample_rate == 24000);
  CATCH_CHECK(back.samples == w.samples);  // int16/32768 both ways: exact
  audio::Waveform f;
  f.sample_rate = 22050;
  f.samples = {0.1f, -0.25f, 1e-7f, 0.999f};
  audio::write_wav(dir.file("f.wav"), f, audio::WavEncoding::kFloat32);
  CATCH_CHECK(audio::read_wav(dir.file("f.wav")).samples == f.samples);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CATCH_CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);  // no temporary left
  CATCH_CHECK_THROWS_AS(audio::write_wav(dir.file("e.wav"), audio::Waveform{}), InvalidArgument);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("e.wav")));
}

CATCH_TEST_CASE("read_wav mixes channels down to their mean", "[audio]") {
  if (!audio::has_wav_io()) return;
  labelrep_test::TempDir dir;
  labelrep_test::write_bytes(dir.file("s.wav"), pcm16_wav({1000, 3000, -2000, 0, 16384, 16384}, 2, 8000));
  const audio::Waveform w = audio::read_wav(dir.file("s.wav"));
  CATCH_CHECK(w.sample_rate == 8000);
  CATCH_REQUIRE(w.samples.size() == 3);
  CATCH_CHECK(w.samples[0] == 2000.0f / 32768.0f);
  CATCH_CHECK(w.samples[1] == -1000.0f / 32768.0f);
  CATCH_CHECK(w.samples[2] == 0.5f);
}

CATCH_TEST_CASE("malformed and non-PCM WAVs are rejected with the offset before libsndfile sees them", "[audio]") {
  labelrep_test::TempDir dir;
  const std::string payload(400, '\0');
  auto with_fmt = [&](const std::string& fmt) { return riff(fmt + data_chunk(payload)); };
  const std::string good_header = pcm16_wav(std::vector<std::int16_t>(100, 0));
  std::string lying = good_header;
  lying[4] = static_cast<char>(0xff);  // RIFF size larger than the file
  std::string long_data = riff(fmt_chunk(1, 1, 24000, 16) + "data");
  put32(long_data, 100000);
  long_data += payload;
  {
    std::string sz;
    put32(sz, static_cast<std::uint32_t>(long_data.size() - 8));
    long_data.replace(4, 4, sz);
  }
  std::string ext = "fmt ";  // EXTENSIBLE wrapping IMA ADPCM
  put32(ext, 40);
  put16(ext, 0xFFFE), put16(ext, 1), put32(ext, 24000), put32(ext, 48000), put16(ext, 2), put16(ext, 16);
  put16(ext, 22), put16(ext, 16), put32(ext, 4);
  ext += std::string("\x11\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71", 16);
  // Offsets: 12 is the fmt chunk; its body starts at 20 (tag 20, channels 22, rate 24, align 32, bits 34).
  const std::vector<Check> checks = {
      {"MS ADPCM", with_fmt(fmt_chunk(0x0002, 1, 24000, 4)), 20},
      {"IMA ADPCM", with_fmt(fmt_chunk(0x0011, 1, 24000, 4)), 20},
      {"GSM 6.10", with_fmt(fmt_chunk(0x0031, 1, 24000, 0)), 20},
      {"mu-law", with_fmt(fmt_chunk(0x0007, 1, 8000, 8)), 20},
      {"A-law", with_fmt(fmt_chunk(0x0006, 1, 8000, 8)), 20},
      {"MPEG layer 3", with_fmt(fmt_chunk(0x0055, 1, 24000, 16)), 20},
      {"G.722", with_fmt(fmt_chunk(0x0065, 1, 16000, 4)), 20},
      {"Dolby AC-3", with_fmt(fmt_chunk(0x2000, 2, 48000, 16)), 20},
      {"OKI ADPCM", with_fmt(fmt_chunk(0x0010, 1, 8000, 4)), 20},
      {"Yamaha ADPCM", with_fmt(fmt_chunk(0x0020, 1, 8000, 4)), 20},
      {"EXTENSIBLE with IMA ADPCM", with_fmt(ext), 44},
      {"0 channels", with_fmt(fmt_chunk(1, 0, 24000, 16)), 22},
      {"65 channels", with_fmt(fmt_chunk(1, 65, 24000, 16)), 22},
      {"sample rate 0", with_fmt(fmt_chunk(1, 1, 0, 16)), 24},
      {"sample rate 400000", with_fmt(fmt_chunk(1, 1, 400000, 16)), 24},
      {"12-bit PCM", with_fmt(fmt_chunk(1, 1, 24000, 12)), 34},
      {"16-bit float", with_fmt(fmt_chunk(3, 1, 24000, 16)), 34},
      {"lying RIFF size", lying, 4},
      {"data chunk longer than the file", long_data, 40},
      {"not RIFF", "RIFX" + lying.substr(4), 0},
      {"not WAVE", good_header.substr(0, 8) + "AVI " + good_header.substr(12), 8},
      {"no fmt chunk", riff(data_chunk(payload)), 12},
      {"short file", std::string("RIFF"), 4},
      // The data chunk (at 36, its size at 40) has one byte: no whole 16-bit frame, so no samples.
      {"data chunk shorter than a frame", riff(fmt_chunk(1, 1, 24000, 16) + data_chunk(std::string(1, '\x01')) + std::string(1, '\0')), 40},
      {"empty data chunk", riff(fmt_chunk(1, 1, 24000, 16) + data_chunk("")), 40},
  };
  const std::uint64_t opens = audio::detail::sndfile_open_count();
  for (const auto& c : checks) {
    CATCH_INFO(c.name);
    const std::string path = dir.file("bad.wav");
    labelrep_test::write_bytes(path, c.bytes);
    try {
      audio::read_wav(path);
      CATCH_FAIL("accepted");
    } catch (const FormatError& e) {
      CATCH_CHECK(e.path() == path);
      CATCH_CHECK(e.offset() == c.offset);
    }
  }
  CATCH_CHECK(audio::detail::sndfile_open_count() == opens);  // none of them reached libsndfile

  // Every strict prefix of a valid file is rejected with a typed error (RELIABILITY G1.3).
  const std::string good = pcm16_wav({1, 2, 3, 4, 5, 6, 7, 8});
  for (std::size_t n = 0; n < good.size(); ++n) {
    labelrep_test::write_bytes(dir.file("p.wav"), good.substr(0, n));
    CATCH_CHECK_THROWS_AS(audio::read_wav(dir.file("p.wav")), FormatError);
  }
  CATCH_CHECK(audio::detail::sndfile_open_count() == opens);
  CATCH_CHECK_THROWS_AS(audio::read_wav(dir.file("missing.wav")), labelrep::IoError);
  CATCH_CHECK_THROWS_AS(audio::read_wav(dir.path().string()), labelrep::IoError);  // a directory
}

CATCH_TEST_CASE("a float WAV holding NaN or infinity is rejected with the sample's offset", "[audio]") {
  if (!audio::has_wav_io()) return;
  labelrep_test::TempDir dir;
  for (const float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    std::string payload;
    for (const float v : {0.25f, -0.5f, bad, 0.0f}) {
      std::uint32_t bits = 0;
      std::memcpy(&bits, &v, sizeof bits);
      put32(payload, bits);
    }
    const std::string path = dir.file("nan.wav");
    labelrep_test::write_bytes(path, riff(fmt_chunk(3, 1, 22050, 32) + data_chunk(payload)));
    try {
      audio::read_wav(path);
      CATCH_FAIL("accepted a non-finite sample");
    } catch (const FormatError& e) {
      CATCH_CHECK(e.path() == path);
      CATCH_CHECK(e.offset() == 44 + 2 * 4);  // the data chunk's body starts at 44; the third sample
      CATCH_CHECK(std::string(e.what()).find("sample 2") != std::string::npos);
    }
  }
}

// ---- text-to-speech ----------------------------------------------------------------------------------

CATCH_TEST_CASE("espeak-ng speaks text deterministically at 22050 Hz", "[audio]") {
  if (!audio::has_text_to_speech()) {  // only on builds configured without espeak-ng
    CATCH_CHECK_THROWS_AS(audio::text_to_speech("cat"), labelrep::Error);
    return;
  }
  const audio::Waveform a = audio::text_to_speech("airplane");
  CATCH_CHECK(a.sample_rate == 22050);
  CATCH_CHECK(a.seconds() > 0.3);
  CATCH_CHECK(a.seconds() < 3.0);
  double energy = 0.0;
  for (float v : a.samples) energy += static_cast<double>(v) * v;
  CATCH_CHECK(std::sqrt(energy / static_cast<double>(a.samples.size())) > 0.01);
  // Another call with other settings in between does not change the result.
  const audio::Waveform slow = audio::text_to_speech("airplane", audio::TtsOptions().rate(100).pitch(20).voice("en-gb"));
  CATCH_CHECK(slow.samples.size() > a.samples.size());
  CATCH_CHECK(audio::text_to_speech("airplane").samples == a.samples);
  CATCH_CHECK(audio::text_to_speech("airplane", audio::TtsOptions().voice("de")).samples != a.samples);
  CATCH_CHECK_THROWS_AS(audio::text_to_speech("cat", audio::TtsOptions().voice("no-such-voice")), InvalidArgument);
  CATCH_CHECK_THROWS_AS(audio::text_to_speech("cat", audio::TtsOptions().rate(10)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(audio::text_to_speech(" "), InvalidArgument);
  const auto voices = audio::list_voices();
  CATCH_CHECK(std::find(voices.begin(), voices.end(), "en-us") != voices.end());
  CATCH_CHECK(voices.size() > 50);
}

// ---- the pipeline against the authors' data -------------------------------------------------------

CATCH_TEST_CASE("each pipeline stage matches golden_cifar10.json", "[audio]") {
  if (!audio::has_wav_io()) return;
  for (const auto& g : golden()) {
    const std::string file = g["file"];
    CATCH_INFO(file);
    const audio::Waveform w = audio::read_wav(reference("cifar10_wav/" + file));
    CATCH_CHECK(w.sample_rate == 24000);
    CATCH_CHECK(w.samples.size() == g["n_in"].get<std::size_t>());
    const audio::SpeechLabelStages s = audio::speech_label_stages(w);
    const auto& y = s.resampled.samples;
    CATCH_CHECK(y.size() == g["n_fixed"].get<std::size_t>());
    if (g["n_fixed"] != g["n_resampy"]) CATCH_CHECK(y.back() == 0.0f);  // fix_length's zero
    for (int i = 0; i < 5; ++i) CATCH_CHECK(y[static_cast<std::size_t>(1000 + i)] == Approx(g["resampled_1000_1005"][i].get<double>()).margin(1e-7));
    double sum_abs = 0.0;
    for (float v : y) sum_abs += std::abs(v);
    CATCH_CHECK(sum_abs == Approx(g["resampled_sum_abs"].get<double>()).epsilon(1e-7));
    CATCH_CHECK(s.trim.start == g["trim_start"].get<std::int64_t>());
    CATCH_CHECK(s.trim.end == g["trim_end"].get<std::int64_t>());
    CATCH_CHECK(s.frames() == g["frames_T"].get<std::int64_t>());
    CATCH_CHECK(s.mel.max().item<double>() == Approx(g["mel_power_max"].get<double>()).epsilon(1e-6));
    for (int r = 0; r < 5; ++r) CATCH_CHECK(s.db[r][0].item<double>() == Approx(g["db_col0_rows0_4"][r].get<double>()).margin(1e-4));
    for (int c = 0; c < 5; ++c) CATCH_CHECK(s.label[0][c].item<double>() == Approx(g["label_row0_cols0_4"][c].get<double>()).margin(1e-4));
    CATCH_CHECK(s.label.to(torch::kFloat64).mean().item<double>() == Approx(g["label_mean"].get<double>()).margin(1e-5));
    CATCH_CHECK(s.label.min().item<float>() >= -80.0f);
    CATCH_CHECK(s.label.max().item<float>() <= 0.0f);
  }
}

CATCH_TEST_CASE("the authors' ten WAVs give cifar10_speech.npy within 2e-3 dB", "[audio]") {
  if (!audio::has_wav_io()) return;
  const torch::Tensor expected = labelrep::read_npy(reference("cifar10_speech.npy"));
  const char* files[] = {"0_airplane", "1_car", "2_bird", "3_cat", "4_deer", "5_dog", "6_frog", "7_horse", "8_ship", "9_truck"};
  double worst = 0.0, mean = 0.0;
  for (int c = 0; c < 10; ++c) {
    const torch::Tensor label = audio::speech_label(audio::read_wav(reference(std::string("cifar10_wav/") + files[c] + ".wav")));
    CATCH_REQUIRE(label.sizes() == torch::IntArrayRef({64, 64}));
    CATCH_REQUIRE(label.scalar_type() == torch::kFloat32);
    const double d = max_abs_diff(label, expected[c]);
    worst = std::max(worst, d);
    mean += (label.to(torch::kFloat64) - expected[c].to(torch::kFloat64)).abs().mean().item<double>() / 10.0;
  }
  std::cout << "speech labels vs cifar10_speech.npy: max |diff| " << worst << " dB, mean " << mean << " dB\n";
  CATCH_CHECK(worst <= 2e-3);  // LABELS-SPEC §8 acceptance
  CATCH_CHECK(worst <= 5e-5);  // float32 resampler accumulator + double STFT: float32 ulp noise only
}

CATCH_TEST_CASE("pipeline options change the label only when asked", "[audio]") {
  if (!audio::has_wav_io()) return;
  const audio::Waveform w = audio::read_wav(reference("cifar10_wav/3_cat.wav"));
  const torch::Tensor base = audio::speech_label(w);
  CATCH_CHECK(torch::equal(audio::speech_label(w, audio::SpeechLabelOptions()), base));
  const torch::Tensor constant = audio::speech_label(w, audio::SpeechLabelOptions().pad_mode(audio::PadMode::kConstant));
  CATCH_CHECK(max_abs_diff(constant, base) > 0.1);  // librosa >= 0.9 padding differs by dB, as LABELS-SPEC §4 says
  const torch::Tensor small = audio::speech_label(w, audio::SpeechLabelOptions().n_mels(32).size(32));
  CATCH_CHECK(small.sizes() == torch::IntArrayRef({32, 32}));
  const torch::Tensor big = audio::speech_label(w, audio::SpeechLabelOptions().n_mels(128).size(96).top_db(60));
  CATCH_CHECK(big.sizes() == torch::IntArrayRef({96, 96}));
  CATCH_CHECK(big.min().item<float>() >= -60.0f);
  CATCH_CHECK_THROWS_AS(audio::speech_label(w, audio::SpeechLabelOptions().fmax(20000)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(audio::speech_label(audio::Waveform{std::vector<float>(5000, 0.0f), 22050}), InvalidArgument);
}

// ---- single stages --------------------------------------------------------------------------------

CATCH_TEST_CASE("resize follows skimage's reflect and anti-aliasing rules", "[audio]") {
  // T = 45 → 64: output column 0 samples c = −0.148, i.e. 0.148·B[:,1] + 0.852·B[:,0] (mirror, not edge).
  torch::Tensor image = torch::rand({3, 45}, torch::kFloat64);
  const torch::Tensor out = audio::resize_label(image, 3, 64);
  const double c = 45.0 / 64.0 * 0.5 - 0.5, d = c - std::floor(c);
  CATCH_CHECK(out[1][0].item<double>() == Approx((1 - d) * image[1][1].item<double>() + d * image[1][0].item<double>()).epsilon(1e-12));
  CATCH_CHECK(torch::equal(audio::resize_label(image, 3, 45), image));  // same size: identity
  // T = 99 → 64 is pre-filtered: a single spike spreads over neighbours with Gaussian weights (σ = 0.2734).
  torch::Tensor spike = torch::zeros({1, 99}, torch::kFloat64);
  spike[0][50] = 1.0;
  const double sigma = (99.0 / 64.0 - 1.0) / 2.0;
  const double g0 = 1.0, g1 = std::exp(-0.5 / (sigma * sigma));
  const torch::Tensor shrunk = audio::resize_label(spike, 1, 64);
  CATCH_CHECK(shrunk.sum().item<double>() > 0.0);
  // Output j samples c = s(j + ½) − ½ between the blurred columns floor(c) and ceil(c).
  auto blurred = [&](std::int64_t t) { return t == 50 ? g0 / (g0 + 2 * g1) : (t == 49 || t == 51) ? g1 / (g0 + 2 * g1) : 0.0; };
  for (std::int64_t j : {30, 31, 32, 33}) {
    const double cc = 99.0 / 64.0 * (static_cast<double>(j) + 0.5) - 0.5, w = cc - std::floor(cc);
    const auto lo = static_cast<std::int64_t>(std::floor(cc));
    CATCH_CHECK(shrunk[0][j].item<double>() == Approx((1 - w) * blurred(lo) + w * blurred(lo + 1)).margin(1e-12));
  }
  CATCH_CHECK_THROWS_AS(audio::resize_label(torch::zeros({4}), 2, 2), InvalidArgument);
}

CATCH_TEST_CASE("power spectrogram equals a direct DFT and is thread-safe", "[audio]") {
  std::vector<float> x(3000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.05 * i) + 0.3 * std::cos(0.31 * i));
  const torch::Tensor p = audio::power_spectrogram(x, 256, 64);
  CATCH_REQUIRE(p.sizes() == torch::IntArrayRef({129, 1 + 3000 / 64}));
  // Frame 10, bin 7 by the definition (§4): centred, reflect padding only matters at the edges.
  std::complex<double> sum = 0.0;
  for (int n = 0; n < 256; ++n) {
    const double w = 0.5 - 0.5 * std::cos(2 * M_PI * n / 256);
    sum += w * static_cast<double>(x[static_cast<std::size_t>(640 + n - 128)]) * std::polar(1.0, -2 * M_PI * 7 * n / 256);
  }
  CATCH_CHECK(p[7][10].item<double>() == Approx(std::norm(sum)).epsilon(1e-10));
  torch::Tensor a, b;
  std::thread t1([&] { a = audio::power_spectrogram(x, 512, 128); });
  std::thread t2([&] { b = audio::power_spectrogram(x, 512, 128); });
  t1.join();
  t2.join();
  CATCH_CHECK(torch::equal(a, b));
  CATCH_CHECK_THROWS_AS(audio::power_spectrogram(x, 255, 64), InvalidArgument);
}

CATCH_TEST_CASE("mel filters follow the Slaney scale with unit area", "[audio]") {
  const torch::Tensor fb = audio::mel_filterbank();
  CATCH_REQUIRE(fb.sizes() == torch::IntArrayRef({64, 1025}));
  CATCH_CHECK((fb >= 0).all().item<bool>());
  CATCH_CHECK(fb.narrow(1, 744, 1025 - 744).abs().max().item<double>() == 0.0);  // nothing above 8 kHz
  // Area (in Hz) of each triangle is 1: Σ w·Δf ≈ 1 for the wide upper bands.
  const double df = 11025.0 / 1024.0;
  CATCH_CHECK(fb[60].sum().item<double>() * df == Approx(1.0).epsilon(0.02));
  CATCH_CHECK_THROWS_AS(audio::mel_filterbank(22050, 2048, 64, 0, 12000), InvalidArgument);
}

CATCH_TEST_CASE("the resampler keeps a tone and the rate identity", "[audio]") {
  audio::Waveform tone;
  tone.sample_rate = 24000;
  for (int i = 0; i < 24000; ++i) tone.samples.push_back(static_cast<float>(0.5 * std::sin(2 * M_PI * 440.0 * i / 24000.0)));
  const audio::Waveform r = audio::resample_kaiser_best(tone, 22050);
  CATCH_CHECK(r.sample_rate == 22050);
  CATCH_CHECK(r.samples.size() == 22050);
  double err = 0.0;
  for (int i = 2000; i < 20000; ++i) err = std::max(err, std::abs(r.samples[static_cast<std::size_t>(i)] - 0.5 * std::sin(2 * M_PI * 440.0 * i / 22050.0)));
  CATCH_CHECK(err < 1e-3);
  CATCH_CHECK(audio::resample_kaiser_best(r, 22050).samples == r.samples);
  const audio::Waveform up = audio::resample_kaiser_best(tone, 48000);
  CATCH_CHECK(up.samples.size() == 48000);
}

CATCH_TEST_CASE("the resampler refuses ratios its table cannot resolve and outputs beyond its limit", "[audio]") {
  audio::Waveform w;
  w.sample_rate = 22050;
  w.samples.assign(2205, 0.25f);
  // 22050 → 40 Hz is a ratio below 1/512: a step of zero table entries (it used to divide by zero).
  CATCH_CHECK_THROWS_AS(audio::resample_kaiser_best(w, 40), InvalidArgument);
  CATCH_CHECK_THROWS_AS(audio::speech_label(w, audio::SpeechLabelOptions().sample_rate(40)), InvalidArgument);
  CATCH_CHECK(audio::resample_kaiser_best(w, 44).samples.size() == 5);  // 1/501: still resolvable; ceil(2205 · 44 / 22050)
  // 1 Hz to 22,050 Hz: 4,000 samples would become 88 million.
  audio::Waveform slow;
  slow.sample_rate = 1;
  slow.samples.assign(4000, 0.25f);
  labelrep_test::check_throws_with<InvalidArgument>([&] { audio::resample_kaiser_best(slow, 22050); }, "more than the limit");
}

// ---- inversion --------------------------------------------------------------------------------------

CATCH_TEST_CASE("non-negative least squares inverts the mel filters", "[audio]") {
  const torch::Tensor fb = audio::mel_filterbank();
  torch::manual_seed(3);
  const torch::Tensor power = torch::rand({1025, 8}, torch::kFloat64);
  const torch::Tensor mel = torch::matmul(fb, power);
  const torch::Tensor nnls = audio::mel_to_power(mel, fb);
  const torch::Tensor pinv = audio::mel_to_power(mel, fb, audio::MelInversion::kPseudoInverse);
  CATCH_CHECK((nnls >= 0).all().item<bool>());
  const double r_nnls = (torch::matmul(fb, nnls) - mel).norm().item<double>() / mel.norm().item<double>();
  const double r_pinv = (torch::matmul(fb, pinv) - mel).norm().item<double>() / mel.norm().item<double>();
  CATCH_CHECK(r_nnls < 1e-3);
  CATCH_CHECK(r_nnls <= r_pinv);
}

CATCH_TEST_CASE("Griffin-Lim recovers a signal with the given magnitude", "[audio]") {
  std::vector<float> x(22050 / 2);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(0.4 * std::sin(2 * M_PI * 300.0 * i / 22050.0) * (1.0 + std::sin(2 * M_PI * 3.0 * i / 22050.0)));
  const torch::Tensor mag = audio::power_spectrogram(x).sqrt();
  auto convergence = [&](const std::vector<float>& y) {
    const torch::Tensor m = audio::power_spectrogram(y).sqrt();
    const auto t = std::min(m.size(1), mag.size(1));
    return (m.narrow(1, 0, t) - mag.narrow(1, 0, t)).norm().item<double>() / mag.narrow(1, 0, t).norm().item<double>();
  };
  const std::vector<float> y = audio::griffin_lim(mag, audio::GriffinLimOptions().iterations(64));
  CATCH_CHECK(static_cast<std::int64_t>(y.size()) == 256 * (mag.size(1) - 1));
  const double fast = convergence(y);
  const double one = convergence(audio::griffin_lim(mag, audio::GriffinLimOptions().iterations(1)));
  std::cout << "Griffin-Lim spectral convergence: 1 iteration " << one << ", 64 iterations " << fast << "\n";
  CATCH_CHECK(fast < 0.1);
  CATCH_CHECK(fast < one / 2);
  CATCH_CHECK(audio::griffin_lim(mag, audio::GriffinLimOptions().iterations(4)) ==
              audio::griffin_lim(mag, audio::GriffinLimOptions().iterations(4)));  // seeded: deterministic
  CATCH_CHECK_THROWS_AS(audio::griffin_lim(mag, audio::GriffinLimOptions().momentum(1.0)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(audio::griffin_lim(mag.narrow(0, 0, 100)), InvalidArgument);
}

CATCH_TEST_CASE("text to speech label to audio to speech label stays close", "[audio]") {
  if (!audio::has_text_to_speech()) return;
  // Pinned from measurement (see docs/speech.md): mean |Δ| over the 64×64 label, in dB.
  constexpr double kPinnedMeanDb = 2.0;  // measured 1.16 (airplane) and 1.21 (horse)
  double total = 0.0;
  const char* words[] = {"airplane", "horse"};
  for (const char* word : words) {
    CATCH_INFO(word);
    const audio::SpeechLabelStages first = audio::speech_label_stages(audio::text_to_speech(word));
    const audio::Waveform heard = audio::label_to_audio(first.label, audio::InversionOptions().frames(first.frames()));
    CATCH_CHECK(heard.sample_rate == 22050);
    CATCH_CHECK(static_cast<std::int64_t>(heard.samples.size()) == 256 * (first.frames() - 1));
    double energy = 0.0, peak = 0.0;
    for (float v : heard.samples) energy += static_cast<double>(v) * v, peak = std::max(peak, static_cast<double>(std::abs(v)));
    CATCH_CHECK(std::sqrt(energy / static_cast<double>(heard.samples.size())) > 0.02);
    CATCH_CHECK(peak == Approx(0.5).epsilon(1e-6));
    const torch::Tensor second = audio::speech_label(heard);
    const double mean = (second - first.label).abs().mean().item<double>();
    std::cout << "round trip '" << word << "': mean |diff| " << mean << " dB\n";
    CATCH_CHECK(mean < kPinnedMeanDb);
    total += mean;
  }
  // A different word's label is much further away than the round trip.
  const torch::Tensor a = audio::speech_label(audio::text_to_speech("airplane"));
  const torch::Tensor b = audio::speech_label(audio::text_to_speech("horse"));
  CATCH_CHECK((a - b).abs().mean().item<double>() > 2 * (total / 2));
}
