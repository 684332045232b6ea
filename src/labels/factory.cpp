#include "labelrep/labels/factory.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labels/label_names.hpp"
#include "labels/metadata_json.hpp"
#include "labelrep/labels/embeddings.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/labels/speech.hpp"
#include "core/boundary.hpp"

namespace labelrep::labels {

std::shared_ptr<const LabelRepresentation> make_labels(const LabelSpec& spec) try {
  const auto classes = static_cast<std::int64_t>(spec.class_names.size());
  const auto& k = spec.kind;
  detail::require_known_label(k);
  // Smoothing belongs to category labels: asked of any other kind it would be dropped without a word.
  if (spec.smoothing != 0 && k != "category")
    throw InvalidArgument(fmt::format("label smoothing ({}) applies to category labels only, not to '{}'", spec.smoothing, k));
  if (detail::is_label_file(k)) {
    auto labels = std::make_shared<const FileLabels>(k);
    if (classes > 0 && labels->num_classes() != classes)
      throw InvalidArgument(fmt::format("label file {} has {} classes but the dataset has {}", k, labels->num_classes(), classes));
    return labels;
  }
  if (k == "category")
    return std::make_shared<const CategoryLabels>(
        CategoryLabelsOptions(classes).smoothing(spec.smoothing).class_names(spec.class_names));
  if (k == "constant")
    return std::make_shared<const ConstantLabels>(
        ConstantLabelsOptions(classes).size(spec.size).value_range(spec.value_range).class_names(spec.class_names));
  if (k == "uniform") {
    auto o = UniformLabelsOptions(classes).height(spec.size).width(spec.size).value_range(spec.value_range).class_names(spec.class_names);
    if (spec.has_seed) o.seed(spec.seed);
    return std::make_shared<const UniformLabels>(o);
  }
  if (k == "lowdim") {
    auto o = LowDimLabelsOptions(classes).dimension(spec.dimension).value_range(spec.value_range).class_names(spec.class_names);
    if (spec.has_seed) o.seed(spec.seed);
    return std::make_shared<const LowDimLabels>(o);
  }
  if (k == "composite") {
    auto o = CompositeLabelsOptions(classes).size(spec.size).value_range(spec.value_range).class_names(spec.class_names);
    if (spec.has_seed) o.seed(spec.seed);
    return std::make_shared<const CompositeLabels>(o);
  }
  if (k == "speech" || k == "shuffle") {
    auto o = SpeechLabelsOptions(spec.class_names).wav_dir(spec.wav_dir).tts(audio::TtsOptions().voice(spec.voice));
    o.pipeline().size(spec.size);
    auto speech = std::make_shared<const SpeechLabels>(o);
    if (k == "speech") return speech;
    ShuffledSpeechLabelsOptions so;
    if (spec.has_seed) so.seed(spec.seed);
    return std::make_shared<const ShuffledSpeechLabels>(*speech, so);
  }
  if (k == "glove") {
    if (spec.glove_file.empty()) throw InvalidArgument("glove labels need a GloVe file (LabelSpec::glove_file, --glove FILE)");
    return std::make_shared<const GloveLabels>(GloveLabelsOptions(spec.glove_file, spec.class_names));
  }
  if (k == "bert") {
    if (spec.bert_file.empty()) throw InvalidArgument("bert labels need hidden states (LabelSpec::bert_file, --bert FILE)");
    return std::make_shared<const BertLabels>(BertLabelsOptions(spec.bert_file)
                                                  .class_names(spec.class_names)
                                                  .rescale(spec.bert_rescale)
                                                  .max_tokens(spec.bert_max_tokens)
                                                  .value_range(spec.value_range));
  }
  throw std::logic_error(fmt::format("make_labels: the label kind '{}' is known but not made here", k));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("make_labels");
}

std::string label_kind_of_file(const std::string& path) try {
  const std::string sidecar = path + ".json";
  if (std::filesystem::exists(sidecar)) return detail::metadata_from_json(read_file(sidecar, 16 << 20), sidecar).kind;
  // Tokens of the file name, e.g. "cifar10_speech" -> {"cifar10", "speech"}.
  const std::string stem = std::filesystem::path(path).stem().string();
  static const char* const known[] = {"speech", "shuffle", "composite", "bert", "glove", "random",
                                      "lowdim", "category", "constant", "uniform"};
  std::size_t start = 0;
  while (start <= stem.size()) {
    std::size_t end = stem.find_first_of("_-. ", start);
    if (end == std::string::npos) end = stem.size();
    const std::string token = stem.substr(start, end - start);
    for (const char* kind : known) {
      if (token == kind) return token == "uniform" ? std::string("constant") : token;
    }
    start = end + 1;
  }
  return "file";
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("label_kind_of_file");
}

}  // namespace labelrep::labels
