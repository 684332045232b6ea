#pragma once
/// \file factory.hpp  Making a label set from a kind name, as the CLI and experiment configs do.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "labelrep/labels/label_representation.hpp"

namespace labelrep::labels {

/// A kind-independent description of a label set. Fields a kind does not use are ignored.
struct LABELREP_API LabelSpec {
  std::string kind;                       ///< one of label_kinds(), or a path to a .npy file
  std::vector<std::string> class_names;   ///< required (defines C)
  std::int64_t size = 64;                 ///< side of square labels
  std::int64_t dimension = 10;            ///< length of low-dim vectors
  bool has_seed = false;                  ///< false: the kind's default seed
  std::uint64_t seed = 0;
  double value_range = 80.0;
  double smoothing = 0.0;                 ///< category only (make_labels refuses it for other kinds)
  std::string voice = "en-us";            ///< speech, shuffle: espeak-ng voice (when no wav_dir)
  std::string wav_dir;                    ///< speech, shuffle: one WAV per class instead of text-to-speech
  std::string glove_file;                 ///< glove: a GloVe text file (required)
  std::string bert_file;                  ///< bert: hidden states, a [C, tokens, hidden] .npy or a directory (required)
  bool bert_rescale = true;               ///< bert: min-max scale to [0, value_range]
  std::int64_t bert_max_tokens = 0;       ///< bert: keep the first N tokens of each class (0: all)
};

/// The kind names make_labels() accepts.
LABELREP_API std::vector<std::string> label_kinds();

/// Builds the label set a spec describes; a kind ending in ".npy" loads that file (FileLabels) and
/// checks that its class count matches. Throws InvalidArgument for an unknown kind (listing the known
/// ones), invalid options (smoothing for a kind other than category included) or a class count that
/// does not match a label file; what FileLabels throws for files; for speech and shuffle, what text to
/// speech or reading `wav_dir` throws (Error without espeak-ng, IoError/FormatError for WAV files); for
/// glove and bert, IoError/FormatError for their files.
LABELREP_API std::shared_ptr<const LabelRepresentation> make_labels(const LabelSpec& spec);

/// The kind of a label file: the `kind` in its `<path>.json` sidecar when there is one, else a kind
/// named in the file name (`cifar10_speech.npy` → "speech"; also "shuffle", "composite", "bert",
/// "glove", "random", "lowdim", "category", "constant", and the authors' "uniform", which is their name
/// for constant labels), else "file". Throws IoError for a sidecar that cannot be read, FormatError for
/// one that is not valid metadata.
LABELREP_API std::string label_kind_of_file(const std::string& path);

}  // namespace labelrep::labels
