// Speech, shuffled speech, GloVe and BERT labels: exactness against the authors' files, the factory,
// bad inputs, and the `labels speech` / `speak` commands.
#include "catch.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "labelrep/audio/speech.hpp"
#include "labelrep/audio/waveform.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/labels/embeddings.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/labels/speech.hpp"
#include "support.hpp"

using namespace labelrep::labels;
namespace audio = labelrep::audio;
using labelrep::FormatError;
using labelrep::InvalidArgument;

namespace {
std::string authors(const std::string& name) {
  const std::string dir = labelrep_test::shared_dir();
  CATCH_REQUIRE_FALSE(dir.empty());
  return dir + "/reference/authors-labels/" + name;
}
bool bit_identical(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), static_cast<std::size_t>(a.numel() * a.element_size())) == 0;
}
void write_text(const std::string& path, const std::string& text) { labelrep_test::write_bytes(path, text); }
}  // namespace

CATCH_TEST_CASE("speech labels from the authors' WAV directory equal cifar10_speech.npy", "[labels][audio]") {
  if (!audio::has_wav_io()) {
    CATCH_CHECK_THROWS_AS(SpeechLabels(SpeechLabelsOptions({}).wav_dir(authors("cifar10_wav"))), labelrep::Error);
    return;
  }
  const SpeechLabels speech(SpeechLabelsOptions(labelrep::dataset_class_names("cifar10")).wav_dir(authors("cifar10_wav")));
  const torch::Tensor expected = labelrep::read_npy(authors("cifar10_speech.npy"));
  CATCH_REQUIRE(speech.matrix().sizes() == expected.sizes());
  CATCH_CHECK((speech.matrix() - expected).abs().max().item<float>() <= 2e-3f);
  CATCH_CHECK(speech.name() == "speech");
  CATCH_CHECK(speech.metadata().range_min == -80.0);
  CATCH_CHECK(speech.frames() == std::vector<std::int64_t>({65, 45, 47, 43, 43, 45, 49, 55, 45, 45}));
  CATCH_CHECK(speech.waveforms().size() == 10);
  CATCH_CHECK(speech.waveforms()[0].sample_rate == 24000);
  // Without class names the file stems name the classes; a count mismatch is an error.
  const SpeechLabels unnamed(SpeechLabelsOptions({}).wav_dir(authors("cifar10_wav")));
  CATCH_CHECK(unnamed.metadata().class_names[1] == "1_car");
  CATCH_CHECK_THROWS_AS(SpeechLabels(SpeechLabelsOptions({"a", "b"}).wav_dir(authors("cifar10_wav"))), InvalidArgument);
}

CATCH_TEST_CASE("shuffled speech with seed 8 equals cifar10_shuffle.npy bit for bit", "[labels]") {
  const FileLabels speech(authors("cifar10_speech.npy"));
  const ShuffledSpeechLabels shuffled(speech);
  const torch::Tensor expected = labelrep::read_npy(authors("cifar10_shuffle.npy"));
  CATCH_CHECK(bit_identical(shuffled.matrix(), expected));
  CATCH_CHECK(shuffled.name() == "shuffle");
  CATCH_CHECK(shuffled.metadata().seed == 8);
  // Never the identity, the same values per label (so the same entropy), another seed another order.
  for (std::int64_t c = 0; c < 10; ++c) {
    const auto& p = shuffled.permutations()[static_cast<std::size_t>(c)];
    std::vector<std::int64_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (std::int64_t i = 0; i < 64; ++i) CATCH_CHECK(sorted[static_cast<std::size_t>(i)] == i);
    CATCH_CHECK_FALSE(std::is_sorted(p.begin(), p.end()));
    CATCH_CHECK(torch::equal(std::get<0>(shuffled.matrix()[c].flatten().sort()), std::get<0>(speech.matrix()[c].flatten().sort())));
  }
  const ShuffledSpeechLabels other(speech, ShuffledSpeechLabelsOptions().seed(9));
  CATCH_CHECK_FALSE(torch::equal(other.matrix(), shuffled.matrix()));
  // Two columns: the only non-identity permutation is the swap, whatever the draws.
  const FileLabels tiny_source = [] {
    labelrep_test::TempDir d;
    labelrep::write_npy(d.file("t.npy"), torch::arange(12, torch::kFloat32).view({3, 2, 2}));
    return FileLabels(d.file("t.npy"));
  }();
  const ShuffledSpeechLabels tiny(tiny_source);
  for (const auto& p : tiny.permutations()) CATCH_CHECK(p == std::vector<std::int64_t>({1, 0}));
  CATCH_CHECK_THROWS_AS(ShuffledSpeechLabels(CategoryLabels(CategoryLabelsOptions(3))), InvalidArgument);
}

CATCH_TEST_CASE("speech labels from text cover a dataset's class names", "[labels][audio]") {
  if (!audio::has_text_to_speech()) {
    CATCH_CHECK_THROWS_AS(SpeechLabels(SpeechLabelsOptions({"cat", "dog"})), labelrep::Error);
    return;
  }
  const SpeechLabels speech(SpeechLabelsOptions(labelrep::dataset_class_names("fashion-mnist")));
  CATCH_REQUIRE(speech.matrix().sizes() == torch::IntArrayRef({10, 64, 64}));
  CATCH_CHECK(speech.matrix().min().item<float>() >= -80.0f);
  CATCH_CHECK(speech.matrix().max().item<float>() <= 0.0f);  // 0 dB before the resize smooths it
  CATCH_CHECK(speech.matrix().max().item<float>() > -1.0f);
  for (std::int64_t i = 1; i < 10; ++i) CATCH_CHECK_FALSE(torch::equal(speech.matrix()[i], speech.matrix()[0]));
  CATCH_CHECK(spoken_text("T-shirt/top") == "T-shirt or top");
  CATCH_CHECK(spoken_text("aquarium_fish") == "aquarium fish");
  // Deterministic, and the voice matters.
  const SpeechLabels again(SpeechLabelsOptions({"Trouser"}));
  CATCH_CHECK(torch::equal(again.matrix()[0], speech.matrix()[1]));
  const SpeechLabels british(SpeechLabelsOptions({"Trouser"}).tts(audio::TtsOptions().voice("en-gb")));
  CATCH_CHECK_FALSE(torch::equal(british.matrix()[0], speech.matrix()[1]));
  // The factory knows the new kinds.
  LabelSpec spec;
  spec.kind = "shuffle";
  spec.class_names = {"cat", "dog"};
  spec.size = 32;
  const auto shuffled = make_labels(spec);
  CATCH_CHECK(shuffled->name() == "shuffle");
  CATCH_CHECK(shuffled->label_shape() == std::vector<std::int64_t>({32, 32}));
  const auto kinds = label_kinds();
  for (const char* k : {"speech", "shuffle", "glove", "bert"}) CATCH_CHECK(std::find(kinds.begin(), kinds.end(), k) != kinds.end());
}

CATCH_TEST_CASE("files are taken in natural file-name order", "[labels]") {
  labelrep_test::TempDir dir;
  for (const char* n : {"10.wav", "2.wav", "1.WAV", "0.wav", "notes.txt", "11_b.wav", "11_a.wav"}) write_text(dir.file(n), "");
  std::vector<std::string> names;
  for (const auto& f : files_in_name_order(dir.path().string(), ".wav")) names.push_back(std::filesystem::path(f).filename().string());
  CATCH_CHECK(names == std::vector<std::string>({"0.wav", "1.WAV", "2.wav", "10.wav", "11_a.wav", "11_b.wav"}));
  CATCH_CHECK_THROWS_AS(files_in_name_order(dir.file("nope"), ".wav"), labelrep::IoError);
}

CATCH_TEST_CASE("GloVe labels look up class names and check every row", "[labels]") {
  labelrep_test::TempDir dir;
  const std::string good = dir.file("glove.txt");
  write_text(good, "the 0.5 1 -2\naquarium 1 2 3\nfish 3 4 5e-1\ncat -1.25 0 7\nfish 9 9 9\n");
  const GloveLabels glove(GloveLabelsOptions(good, {"cat", "aquarium_fish", "Fish"}));
  CATCH_REQUIRE(glove.matrix().sizes() == torch::IntArrayRef({3, 3}));
  CATCH_CHECK(torch::equal(glove.matrix()[0], torch::tensor({-1.25f, 0.0f, 7.0f})));
  CATCH_CHECK(torch::equal(glove.matrix()[1], torch::tensor({2.0f, 3.0f, 1.75f})));  // mean of the two words
  CATCH_CHECK(torch::equal(glove.matrix()[2], torch::tensor({3.0f, 4.0f, 0.5f})));   // first occurrence, lower-cased
  CATCH_CHECK(glove.name() == "glove");
  try {
    GloveLabels(GloveLabelsOptions(good, {"cat", "sea_dragon"}));
    CATCH_FAIL("accepted an unknown word");
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("'sea'") != std::string::npos);
  }
  struct Bad {
    const char* text;
    std::uint64_t offset;
  };
  const Bad bad[] = {
      {"a 1 2\nb 1 2 3\n", 6},        // ragged row
      {"a 1 2\nb 1\n", 6},            // short row
      {"a 1 2\n. . . 1 2\n", 8},      // GloVe#150: a token with spaces shifts the values
      {"a 1 nan\n", 4},               // non-finite
      {"a 1 inf\n", 4},
      {"a 1 2x\n", 4},                // trailing garbage
      {"a 1  2\n", 4},                // empty field
      {"a\n", 0},                     // no values
      {" 1 2\n", 0},                  // no word
      {"", 0},                        // empty file
  };
  for (const auto& b : bad) {
    CATCH_INFO(b.text);
    write_text(dir.file("bad.txt"), b.text);
    try {
      read_glove(dir.file("bad.txt"), {"a"});
      CATCH_FAIL("accepted");
    } catch (const FormatError& e) {
      CATCH_CHECK(e.path() == dir.file("bad.txt"));
      CATCH_CHECK(e.offset() == b.offset);
    }
  }
  CATCH_CHECK_THROWS_AS(read_glove(dir.file("missing.txt"), {"a"}), labelrep::IoError);
}

CATCH_TEST_CASE("BERT labels zero outliers and fold hidden states into a square", "[labels]") {
  torch::manual_seed(1);
  torch::Tensor states = torch::randn({3, 768}, torch::kFloat64);
  states[0][0] = 40.0;  // an outlier dimension, as BERT has
  const torch::Tensor raw = bert_label(states, 2.0, false);
  CATCH_REQUIRE(raw.sizes() == torch::IntArrayRef({48, 48}));
  CATCH_CHECK(raw[0][0].item<float>() == 0.0f);
  const double mean = states.mean().item<double>(), sd = std::sqrt((states - mean).square().mean().item<double>());
  const auto outliers = (states.abs() > mean + 2 * sd).sum().item<std::int64_t>();
  CATCH_CHECK((raw == 0).sum().item<std::int64_t>() == outliers);
  CATCH_CHECK(raw.abs().max().item<double>() <= mean + 2 * sd);
  CATCH_CHECK(raw[0][1].item<float>() == static_cast<float>(states[0][1].item<double>()));  // row-major layout
  const torch::Tensor scaled = bert_label(states);
  CATCH_CHECK(scaled.min().item<float>() == 0.0f);
  CATCH_CHECK(scaled.max().item<float>() == 80.0f);
  CATCH_CHECK(bert_label(torch::ones({1, 768})).sizes() == torch::IntArrayRef({28, 28}));  // 768 → padded 28²
  // From a [C, tokens, hidden] file and from a directory of per-class files: the same labels.
  labelrep_test::TempDir dir;
  const torch::Tensor all = torch::randn({4, 3, 768}, torch::kFloat32);
  labelrep::write_npy(dir.file("states.npy"), all);
  std::filesystem::create_directories(dir.file("per-class"));
  for (int c = 0; c < 4; ++c) labelrep::write_npy(dir.file("per-class/" + std::to_string(c) + ".npy"), all[c]);
  const BertLabels a(BertLabelsOptions(dir.file("states.npy")).rescale(false));
  const BertLabels b(BertLabelsOptions(dir.file("per-class")).rescale(false));
  CATCH_CHECK(torch::equal(a.matrix(), b.matrix()));
  CATCH_CHECK(a.matrix().sizes() == torch::IntArrayRef({4, 48, 48}));
  CATCH_CHECK(a.name() == "bert");
  CATCH_CHECK_THROWS_AS(BertLabels(BertLabelsOptions(dir.file("states.npy")).class_names({"a", "b"})), InvalidArgument);
  labelrep::write_npy(dir.file("per-class/9.npy"), torch::randn({4, 768}));
  CATCH_CHECK_THROWS_AS(BertLabels(BertLabelsOptions(dir.file("per-class"))), InvalidArgument);  // token counts differ
  CATCH_CHECK_THROWS_AS(bert_label(torch::full({2, 2}, std::nan(""))), InvalidArgument);
  // The authors' cifar10_bert.npy was not rescaled: its values are the raw states in [-1.03, 1.03].
  const torch::Tensor theirs = labelrep::read_npy(authors("cifar10_bert.npy"));
  CATCH_CHECK(theirs.min().item<float>() < 0.0f);
  CATCH_CHECK(theirs.abs().max().item<float>() < 1.1f);
}

CATCH_TEST_CASE("BERT labels take the outlier threshold and the scaling over all classes, as the authors' scripts", "[labels]") {
  labelrep_test::TempDir dir;
  torch::manual_seed(2);
  // Two classes of very different scales: per class, both would span [0, 80]; over the set, the quiet
  // class stays in a narrow band and the loud one's outliers set the threshold.
  const torch::Tensor loud = torch::randn({3, 768}, torch::kFloat64) * 2.0, quiet = torch::randn({3, 768}, torch::kFloat64) * 0.1;
  labelrep::write_npy(dir.file("states.npy"), torch::stack({loud, quiet}));
  torch::Tensor x = torch::stack({loud.flatten(), quiet.flatten()});  // numpy's global statistics, written out
  const double mean = x.mean().item<double>(), sd = std::sqrt((x - mean).square().mean().item<double>());
  x = torch::where(x.abs() > mean + 2 * sd, torch::zeros_like(x), x);
  const double lo = x.min().item<double>(), hi = x.max().item<double>();
  const torch::Tensor expected = ((x - lo) / (hi - lo) * 80.0).view({2, 48, 48}).to(torch::kFloat32);
  const BertLabels labels(BertLabelsOptions(dir.file("states.npy")));
  CATCH_CHECK(torch::allclose(labels.matrix(), expected, 1e-5, 1e-4));
  CATCH_CHECK(labels.matrix()[1].max().item<float>() - labels.matrix()[1].min().item<float>() < 40.0f);  // not stretched to [0, 80]

  // Hugging Face's [1, tokens, hidden], and classes of more tokens cut to the first N (the CIFAR-100 script keeps 3).
  std::filesystem::create_directories(dir.file("per-class"));
  labelrep::write_npy(dir.file("per-class/0.npy"), loud.unsqueeze(0));
  labelrep::write_npy(dir.file("per-class/1.npy"), torch::cat({quiet, torch::randn({2, 768}, torch::kFloat64)}));  // 5 tokens
  labelrep_test::check_throws_with<InvalidArgument>([&] { BertLabels(BertLabelsOptions(dir.file("per-class"))); }, "per-class/1.npy");
  const BertLabels cut(BertLabelsOptions(dir.file("per-class")).max_tokens(3));
  CATCH_CHECK(torch::allclose(cut.matrix(), expected, 1e-5, 1e-4));
  CATCH_CHECK_THROWS_AS(BertLabels(BertLabelsOptions(dir.file("per-class")).max_tokens(-1)), InvalidArgument);

  // A file with a NaN, or of the wrong shape, is named.
  torch::Tensor broken = quiet.clone();
  broken[1][5] = std::nan("");
  labelrep::write_npy(dir.file("per-class/1.npy"), broken);
  try {
    BertLabels bad(BertLabelsOptions(dir.file("per-class")));
    CATCH_FAIL("a NaN was accepted");
  } catch (const FormatError& e) {
    CATCH_CHECK(e.path() == dir.file("per-class/1.npy"));
  }
  labelrep::write_npy(dir.file("per-class/1.npy"), torch::randn({768}));
  labelrep_test::check_throws_with<FormatError>([&] { BertLabels(BertLabelsOptions(dir.file("per-class"))); }, "got shape [768]");
  labelrep::write_npy(dir.file("none.npy"), torch::zeros({0, 3, 768}));
  CATCH_CHECK_THROWS_AS(BertLabels(BertLabelsOptions(dir.file("none.npy"))), FormatError);
}

CATCH_TEST_CASE("labels speech and speak commands", "[labels][audio][cli]") {
  const std::string cli = labelrep_test::cli_path();
  CATCH_REQUIRE_FALSE(cli.empty());
  labelrep_test::TempDir dir;
  if (!audio::has_wav_io()) return;
  auto r = labelrep_test::run_command(cli + " labels speech --classes cifar10 --wav-dir " + authors("cifar10_wav") + " --out " +
                                      dir.file("speech.npy"));
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  const torch::Tensor made = labelrep::read_npy(dir.file("speech.npy"));
  CATCH_CHECK((made - labelrep::read_npy(authors("cifar10_speech.npy"))).abs().max().item<float>() <= 2e-3f);
  r = labelrep_test::run_command(cli + " speak " + dir.file("speech.npy") + " --class 7 --frames 55 --out " + dir.file("horse.wav"));
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  const audio::Waveform horse = audio::read_wav(dir.file("horse.wav"));
  CATCH_CHECK(horse.sample_rate == 22050);
  CATCH_CHECK(horse.samples.size() == 256 * 54);
  CATCH_CHECK(*std::max_element(horse.samples.begin(), horse.samples.end()) > 0.3f);
  r = labelrep_test::run_command(cli + " speak " + dir.file("speech.npy") + " --class 10 --out " + dir.file("x.wav"));
  CATCH_CHECK(r.exit_code == 2);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("x.wav")));
  if (!audio::has_text_to_speech()) return;
  r = labelrep_test::run_command(cli + " labels speech --classes \"cat,sea_lion\" --voice en-gb --out " + dir.file("tts.npy") +
                                 " --save-wav " + dir.file("wav"));
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(labelrep::read_npy(dir.file("tts.npy")).sizes() == torch::IntArrayRef({2, 64, 64}));
  CATCH_CHECK(audio::read_wav(dir.file("wav/1_sea_lion.wav")).sample_rate == 22050);
  r = labelrep_test::run_command(cli + " labels speech --classes \"cat,dog\" --voice xx-nonexistent --out " + dir.file("k.npy"));
  CATCH_CHECK(r.exit_code == 2);
  CATCH_CHECK(r.output.find("xx-nonexistent") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("k.npy")));
}
