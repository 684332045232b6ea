#include "labelrep/labels/speech.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <numeric>

#include "labelrep/core/error.hpp"
#include "labelrep/core/random.hpp"
#include "core/boundary.hpp"

namespace labelrep::labels {
namespace {

// "2_cat" < "10_dog": digit runs compare by value (then by length, so "02" and "2" stay ordered),
// everything else byte by byte. The authors' CIFAR-100 clips are named 0.wav .. 99.wav.
bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i])) != 0, db = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
    if (da && db) {
      std::size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      std::size_t si = i, sj = j;  // skip leading zeros for the value comparison
      while (si + 1 < ei && a[si] == '0') ++si;
      while (sj + 1 < ej && b[sj] == '0') ++sj;
      if (ei - si != ej - sj) return ei - si < ej - sj;
      const int c = a.compare(si, ei - si, b, sj, ej - sj);
      if (c != 0) return c < 0;
      if (ei - i != ej - j) return ei - i < ej - j;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

}  // namespace

std::vector<std::string> files_in_name_order(const std::string& directory, const std::string& extension) try {
  std::string wanted = extension;
  std::transform(wanted.begin(), wanted.end(), wanted.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::vector<std::string> names;
  std::error_code ec;
  std::filesystem::directory_iterator it(directory, ec);
  if (ec) throw IoError(directory, "cannot list the directory: " + ec.message());
  for (const auto& entry : it) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == wanted && entry.is_regular_file(ec)) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end(), natural_less);
  for (auto& n : names) n = (std::filesystem::path(directory) / n).string();
  return names;
} catch (const std::filesystem::filesystem_error& e) {  // the listing failed midway (a directory removed, an I/O error)
  throw IoError(directory, std::string("cannot list the directory: ") + e.code().message());
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("files_in_name_order");
}

std::string spoken_text(const std::string& class_name) {
  std::string text;
  for (char c : class_name) {
    if (c == '_') text += ' ';
    else if (c == '/') text += " or ";
    else text += c;
  }
  return text;
}

struct SpeechLabels::Built {
  torch::Tensor matrix;
  LabelMetadata metadata;
  std::vector<audio::Waveform> waveforms;
  std::vector<std::int64_t> frames;
};

SpeechLabels::Built SpeechLabels::build(const SpeechLabelsOptions& o) {
  SpeechLabels::Built b;
  std::vector<std::string> names = o.class_names();
  std::string source;
  if (!o.wav_dir().empty()) {
    const std::vector<std::string> files = files_in_name_order(o.wav_dir(), ".wav");
    if (files.empty()) throw InvalidArgument(fmt::format("speech labels: no .wav files in {}", o.wav_dir()));
    if (names.empty()) {
      for (const auto& f : files) names.push_back(std::filesystem::path(f).stem().string());
    } else if (names.size() != files.size()) {
      throw InvalidArgument(fmt::format("speech labels: {} classes but {} .wav files in {} (one per class, file-name order)",
                                        names.size(), files.size(), o.wav_dir()));
    }
    for (const auto& f : files) b.waveforms.push_back(audio::read_wav(f));
    source = fmt::format("the {} WAVs of {}", files.size(), o.wav_dir());
  } else {
    if (names.empty()) throw InvalidArgument("speech labels: no class names");
    for (const auto& n : names) b.waveforms.push_back(audio::text_to_speech(spoken_text(n), o.tts()));
    source = fmt::format("espeak-ng voice {} (rate {}, pitch {}) speaking the class names", o.tts().voice(), o.tts().rate(), o.tts().pitch());
  }
  const audio::SpeechLabelOptions& p = o.pipeline();
  std::vector<torch::Tensor> labels;
  for (std::size_t i = 0; i < b.waveforms.size(); ++i) {
    try {
      audio::SpeechLabelStages s = audio::speech_label_stages(b.waveforms[i], p);
      b.frames.push_back(s.frames());
      labels.push_back(std::move(s.label));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fmt::format("speech labels, class {} ('{}'): {}", i, names[i], e.what()));
    }
  }
  b.matrix = torch::stack(labels);
  b.metadata.kind = "speech";
  b.metadata.class_names = std::move(names);
  b.metadata.range_min = -p.top_db();
  b.metadata.range_max = 0.0;
  b.metadata.description = fmt::format(
      "log-mel dB spectrogram ({} mels to {} Hz, n_fft {}, hop {}, {} padding, top_db {}, resized to {}x{}) of {}; frames per class: {}",
      p.n_mels(), p.fmax(), p.n_fft(), p.hop_length(), p.pad_mode() == audio::PadMode::kReflect ? "reflect" : "constant", p.top_db(),
      p.size(), p.size(), source, fmt::join(b.frames, " "));
  return b;
}

namespace {

std::pair<torch::Tensor, std::vector<std::vector<std::int64_t>>> shuffle_columns(const LabelRepresentation& speech, std::uint64_t seed) {
  const torch::Tensor& m = speech.matrix();
  if (m.dim() != 3 || m.size(2) < 2)
    throw InvalidArgument(fmt::format("shuffled speech labels need a [C, H, W] label set with W >= 2, got {} dimensions", m.dim()));
  if (seed > 0xffffffffULL) throw InvalidArgument(fmt::format("shuffled speech labels: seed must be below 2^32, got {}", seed));
  NumpyRandom random(static_cast<std::uint32_t>(seed));
  const std::int64_t width = m.size(2);
  std::vector<std::int64_t> identity(static_cast<std::size_t>(width));
  std::iota(identity.begin(), identity.end(), 0);
  std::vector<std::vector<std::int64_t>> perms;
  std::vector<torch::Tensor> out;
  for (std::int64_t c = 0; c < m.size(0); ++c) {
    std::vector<std::int64_t> p = random.permutation(width);
    while (p == identity) p = random.permutation(width);  // an unshuffled label would be a speech label
    out.push_back(m[c].index_select(1, torch::tensor(p, torch::kInt64)));
    perms.push_back(std::move(p));
  }
  return {torch::stack(out), std::move(perms)};
}

LabelMetadata shuffled_metadata(const LabelRepresentation& speech, std::uint64_t seed) {
  LabelMetadata m = speech.metadata();
  m.kind = "shuffle";
  m.has_seed = true;
  m.seed = seed;
  m.description = fmt::format("time columns permuted per class (NumPy seed {}) of: {}", seed, speech.metadata().description);
  return m;
}

}  // namespace

SpeechLabels::SpeechLabels(const SpeechLabelsOptions& options) try : SpeechLabels(build(options)) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("SpeechLabels");
}

SpeechLabels::SpeechLabels(Built built)
    : LabelRepresentation(std::move(built.matrix), std::move(built.metadata)),
      waveforms_(std::move(built.waveforms)),
      frames_(std::move(built.frames)) {}

ShuffledSpeechLabels::ShuffledSpeechLabels(const LabelRepresentation& speech, const ShuffledSpeechLabelsOptions& options) try
    : ShuffledSpeechLabels(shuffle_columns(speech, options.seed()), speech, options.seed()) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ShuffledSpeechLabels");
}

ShuffledSpeechLabels::ShuffledSpeechLabels(std::pair<torch::Tensor, std::vector<std::vector<std::int64_t>>> built,
                                           const LabelRepresentation& speech, std::uint64_t seed)
    : LabelRepresentation(std::move(built.first), shuffled_metadata(speech, seed)), permutations_(std::move(built.second)) {}

}  // namespace labelrep::labels
