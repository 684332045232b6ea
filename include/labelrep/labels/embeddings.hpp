#pragma once
/// \file embeddings.hpp  Word-embedding labels: GloVe vectors and BERT hidden states (paper §4.1).
///
/// Neither model is run by labelrep: GloVe vectors are read from the published text files
/// (https://nlp.stanford.edu/projects/glove/, e.g. glove.6B.50d.txt), and BERT hidden states are given
/// as .npy files exported once from a BERT model.
///
/// Example:
/// \code
///   namespace lr = labelrep::labels;
///   const auto names = labelrep::dataset_class_names("cifar10");
///   const lr::GloveLabels glove(lr::GloveLabelsOptions("glove.6B.50d.txt", names));      // [10, 50]
///   const lr::BertLabels bert(lr::BertLabelsOptions("cifar10_bert_states.npy").class_names(names));  // [10, 48, 48]
/// \endcode

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <utility>
#include <vector>
#include <torch/arg.h>
#include <torch/types.h>

#include "labelrep/labels/label_representation.hpp"

namespace labelrep::labels {

/// The GloVe words of a class name: lower-cased and split at '_', ' ' and '/' ("aquarium_fish" →
/// {"aquarium", "fish"}).
LABELREP_API std::vector<std::string> glove_words(const std::string& class_name);

/// Reads a GloVe text file (one `word v1 v2 ... vD` per line, single spaces) and returns the vectors of
/// `words` (the first occurrence of each; words not in the file are absent from the map). Every row is
/// checked, not only the wanted ones: its width must equal the first row's D (a token with a space in
/// it makes a row too wide) and every value must parse completely as a finite number.
/// Throws IoError if the file cannot be read, FormatError naming the file and the byte offset of the
/// offending row or value otherwise (also for an empty file).
LABELREP_API std::map<std::string, std::vector<float>> read_glove(const std::string& path, const std::vector<std::string>& words);

/// read_glove() from a stream (e.g. a std::istringstream over bytes in memory); `name` stands for the
/// path in error messages. Reads line by line, so a multi-gigabyte file is never held in memory.
LABELREP_API std::map<std::string, std::vector<float>> read_glove(std::istream& in, const std::string& name,
                                                                  const std::vector<std::string>& words);

/// Options of GloveLabels.
struct LABELREP_API GloveLabelsOptions {
  GloveLabelsOptions(std::string path, std::vector<std::string> class_names)
      : path_(std::move(path)), class_names_(std::move(class_names)) {}
  TORCH_ARG(std::string, path);
  TORCH_ARG(std::vector<std::string>, class_names);
};

/// The GloVe vector of each class name `[C, D]` (raw values, as the authors' cifar10_glove.npy);
/// a multi-word name gets the mean of its words' vectors. Kind "glove".
/// Throws InvalidArgument naming the word and the file when a word is not in it, and what read_glove
/// throws.
class LABELREP_API GloveLabels final : public LabelRepresentation {
 public:
  explicit GloveLabels(const GloveLabelsOptions& options);

 private:
  explicit GloveLabels(std::pair<torch::Tensor, LabelMetadata> built);
};

/// Options of BertLabels.
struct LABELREP_API BertLabelsOptions {
  explicit BertLabelsOptions(std::string path) : path_(std::move(path)) {}
  /// A .npy of shape [C, tokens, hidden], or a directory of one .npy [tokens, hidden] (or Hugging
  /// Face's [1, tokens, hidden]) per class (file-name order, digit runs compared as numbers).
  TORCH_ARG(std::string, path);
  TORCH_ARG(std::vector<std::string>, class_names) = {};
  /// Values with |x| > mean + outlier_sigmas·σ (mean and σ of all classes' states together, as the
  /// authors' scripts) become 0.
  TORCH_ARG(double, outlier_sigmas) = 2.0;
  /// Min-max scale the labels to [0, value_range] with one min and max over all classes, as the
  /// authors' scripts. Their shipped cifar10_bert.npy was *not* rescaled (values in [−1.03, 1.03]);
  /// set false to reproduce that.
  TORCH_ARG(bool, rescale) = true;
  TORCH_ARG(double, value_range) = 80.0;
  /// Keep only the first max_tokens tokens of each class (0: all, and all classes need as many). The
  /// authors' CIFAR-100 script keeps 3, so that multi-word names fit the 48 × 48 label.
  TORCH_ARG(std::int64_t, max_tokens) = 0;
};

/// The paper's BERT label of one class from its hidden states [tokens, hidden]: outliers zeroed, then
/// optionally min-max scaled, then laid out row-major in a square of side ceil(sqrt(tokens·hidden))
/// (3 × 768 → 48 × 48; a non-square count is padded with zeros at the end). Float32. The statistics
/// are this class's alone; BertLabels takes them over all classes.
/// Throws InvalidArgument for a non-2-D, empty or non-finite input or bad options.
LABELREP_API torch::Tensor bert_label(const torch::Tensor& hidden_states, double outlier_sigmas = 2.0, bool rescale = true,
                                      double value_range = 80.0);

/// The BERT labels of every class, the outlier threshold and scaling taken over all of them. Kind
/// "bert". Throws IoError for unreadable files; FormatError naming the file for hidden states that are
/// not [tokens, hidden], are empty or hold NaN or infinity; InvalidArgument for bad options, classes
/// whose token counts or hidden sizes differ (naming both), or a class count that differs from class_names.
class LABELREP_API BertLabels final : public LabelRepresentation {
 public:
  explicit BertLabels(const BertLabelsOptions& options);

 private:
  explicit BertLabels(std::pair<torch::Tensor, LabelMetadata> built);
};

}  // namespace labelrep::labels
