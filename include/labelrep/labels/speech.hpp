#pragma once
/// \file speech.hpp  The paper's speech labels (log-mel spectrogram of the spoken class name) and
/// shuffled speech labels.
///
/// Example:
/// \code
///   namespace lr = labelrep::labels;
///   // From text, with espeak-ng:
///   const lr::SpeechLabels speech(lr::SpeechLabelsOptions(labelrep::dataset_class_names("cifar10")));
///   // From the authors' recordings (one WAV per class, file-name order): equals cifar10_speech.npy
///   const lr::SpeechLabels authors(lr::SpeechLabelsOptions({}).wav_dir("cifar10_wav"));
///   const lr::ShuffledSpeechLabels shuffled(authors);   // seed 8: equals cifar10_shuffle.npy
/// \endcode

#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include <torch/arg.h>

#include "labelrep/audio/speech.hpp"
#include "labelrep/audio/waveform.hpp"
#include "labelrep/labels/label_representation.hpp"

namespace labelrep::labels {

/// Options of SpeechLabels.
struct LABELREP_API SpeechLabelsOptions {
  explicit SpeechLabelsOptions(std::vector<std::string> class_names) : class_names_(std::move(class_names)) {}
  /// One per class. With wav_dir they may be empty: the names are then the WAV file stems.
  TORCH_ARG(std::vector<std::string>, class_names);
  /// If set, class i's label is made from the i-th WAV of this directory in file-name order (digit
  /// runs compared as numbers, so "2_cat.wav" comes before "10_x.wav") instead of text-to-speech.
  TORCH_ARG(std::string, wav_dir) = "";
  /// Voice, rate and pitch of the text-to-speech.
  TORCH_ARG(audio::TtsOptions, tts) = audio::TtsOptions();
  /// Parameters of the spectrogram pipeline (the defaults are the paper's).
  TORCH_ARG(audio::SpeechLabelOptions, pipeline) = audio::SpeechLabelOptions();
};

/// One log-mel dB label `[size, size]` (values in [−pipeline.top_db, 0], [−80, 0] by default) per
/// class: the class name spoken by espeak-ng (underscores read as spaces, "/" as "or"), or a given
/// recording, through audio::speech_label(). Kind "speech".
/// Throws InvalidArgument for no class names without wav_dir, a wav_dir without .wav files or with a
/// count that differs from the class names', a recording or utterance the pipeline refuses (naming
/// the class), or invalid options; IoError if wav_dir cannot be listed; and what read_wav and
/// text_to_speech throw (including Error when the build lacks them).
class LABELREP_API SpeechLabels final : public LabelRepresentation {
 public:
  explicit SpeechLabels(const SpeechLabelsOptions& options);
  /// The audio each label was made from (before resampling), one per class.
  const std::vector<audio::Waveform>& waveforms() const noexcept { return waveforms_; }
  /// Spectrogram frames before the resize, one per class: the `frames` to give label_to_audio().
  const std::vector<std::int64_t>& frames() const noexcept { return frames_; }

 private:
  struct Built;
  static Built build(const SpeechLabelsOptions& options);
  explicit SpeechLabels(Built built);
  std::vector<audio::Waveform> waveforms_;
  std::vector<std::int64_t> frames_;
};

/// The text espeak-ng is given for a class name: "aquarium_fish" → "aquarium fish",
/// "T-shirt/top" → "T-shirt or top".
LABELREP_API std::string spoken_text(const std::string& class_name);

/// The regular files of `directory` whose extension is `extension` (e.g. ".wav", any letter case), as
/// paths in file-name order with digit runs compared as numbers. Throws IoError if it cannot be listed.
LABELREP_API std::vector<std::string> files_in_name_order(const std::string& directory, const std::string& extension);

/// Options of ShuffledSpeechLabels.
struct LABELREP_API ShuffledSpeechLabelsOptions {
  /// NumPy seed, set once; 8 reproduces the authors' cifar10/100_shuffle.npy.
  TORCH_ARG(std::uint64_t, seed) = 8;
};

/// Speech labels with the time columns (last axis) of each class permuted: `numpy.random.seed(seed)`
/// once, then per class `numpy.random.shuffle` of the column indices, drawn again while it is the
/// identity, and `label[:, perm]`. Values, entropy and shape are unchanged; the temporal structure is
/// destroyed. Kind "shuffle". Throws InvalidArgument unless the source is `[C, H, W]` with W >= 2,
/// or for a seed >= 2^32.
class LABELREP_API ShuffledSpeechLabels final : public LabelRepresentation {
 public:
  explicit ShuffledSpeechLabels(const LabelRepresentation& speech,
                                const ShuffledSpeechLabelsOptions& options = ShuffledSpeechLabelsOptions());
  /// Per class, the source column shown at each position (never the identity).
  const std::vector<std::vector<std::int64_t>>& permutations() const noexcept { return permutations_; }

 private:
  ShuffledSpeechLabels(std::pair<torch::Tensor, std::vector<std::vector<std::int64_t>>> built, const LabelRepresentation& speech,
                       std::uint64_t seed);
  std::vector<std::vector<std::int64_t>> permutations_;
};

}  // namespace labelrep::labels
