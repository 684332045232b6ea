#include "labelrep/labels/embeddings.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/labels/speech.hpp"
#include "core/boundary.hpp"

namespace labelrep::labels {

namespace {

std::pair<torch::Tensor, LabelMetadata> build_glove(const GloveLabelsOptions& o) {
  if (o.class_names().empty()) throw InvalidArgument("GloVe labels: no class names");
  std::vector<std::vector<std::string>> words_of;
  std::vector<std::string> all;
  for (const auto& name : o.class_names()) {
    words_of.push_back(glove_words(name));
    if (words_of.back().empty()) throw InvalidArgument(fmt::format("GloVe labels: class name '{}' has no words", name));
    all.insert(all.end(), words_of.back().begin(), words_of.back().end());
  }
  const auto table = read_glove(o.path(), all);
  const std::size_t dimension = table.empty() ? 0 : table.begin()->second.size();
  torch::Tensor m = torch::empty({static_cast<std::int64_t>(o.class_names().size()), static_cast<std::int64_t>(dimension)}, torch::kFloat32);
  for (std::size_t c = 0; c < words_of.size(); ++c) {
    std::vector<double> sum(dimension, 0.0);
    for (const auto& w : words_of[c]) {
      const auto it = table.find(w);
      if (it == table.end())
        throw InvalidArgument(fmt::format("GloVe labels: the word '{}' (class '{}') is not in {}", w, o.class_names()[c], o.path()));
      for (std::size_t d = 0; d < dimension; ++d) sum[d] += it->second[d];
    }
    float* row = m[static_cast<std::int64_t>(c)].data_ptr<float>();
    for (std::size_t d = 0; d < dimension; ++d) row[d] = static_cast<float>(sum[d] / static_cast<double>(words_of[c].size()));
  }
  LabelMetadata meta;
  meta.kind = "glove";
  meta.class_names = o.class_names();
  meta.range_min = m.min().item<double>();
  meta.range_max = m.max().item<double>();
  meta.description = fmt::format("GloVe vectors ({} dimensions) from {}; multi-word names averaged", dimension, o.path());
  return {m, meta};
}

void check_bert_options(double outlier_sigmas, bool rescale, double value_range) {
  if (!(outlier_sigmas > 0) || !std::isfinite(outlier_sigmas))
    throw InvalidArgument(fmt::format("BERT labels: outlier_sigmas must be positive, got {}", outlier_sigmas));
  if (rescale && (!(value_range > 0) || !std::isfinite(value_range)))
    throw InvalidArgument(fmt::format("BERT labels: value_range must be positive, got {}", value_range));
}

// The labels of all classes from their hidden states (each [tokens, hidden], one shape), as the
// authors' scripts make them: the outlier threshold (mean + k·σ) and the min-max scaling are taken over
// the whole set, not per class, so that the labels keep their relative scales.
torch::Tensor bert_matrix(const std::vector<torch::Tensor>& states, double outlier_sigmas, bool rescale, double value_range) {
  std::vector<torch::Tensor> rows;
  for (const auto& s : states) rows.push_back(s.detach().to(torch::kCPU, torch::kFloat64).flatten());
  torch::Tensor x = torch::stack(rows);  // [C, tokens·hidden]
  const double mean = x.mean().item<double>();
  const double sd = std::sqrt((x - mean).square().mean().item<double>());  // population σ, as numpy's std
  x.masked_fill_(x.abs() > mean + outlier_sigmas * sd, 0.0);
  if (rescale) {
    const double lo = x.min().item<double>(), hi = x.max().item<double>();
    x = hi > lo ? (x - lo) / (hi - lo) * value_range : torch::zeros_like(x);
  }
  const auto n = x.size(1);
  auto side = static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  while (side * side < n) ++side;  // guard the floating-point square root
  torch::Tensor square = torch::zeros({x.size(0), side * side}, torch::kFloat64);
  square.narrow(1, 0, n).copy_(x);
  return square.view({x.size(0), side, side}).to(torch::kFloat32);
}

// One class's hidden states from `source` (a file, or a file and its class index): [tokens, hidden],
// also from Hugging Face's [1, tokens, hidden]; finite; cut to the first max_tokens tokens when asked.
torch::Tensor checked_states(torch::Tensor states, const std::string& source, const std::string& file, std::int64_t max_tokens) {
  if (states.dim() == 3 && states.size(0) == 1) states = states[0];  // last_hidden_state of a batch of one
  if (states.dim() != 2 || states.numel() == 0)
    throw FormatError(file, FormatError::kNoOffset,
                      fmt::format("{}: hidden states must be a non-empty [tokens, hidden] matrix (or [1, tokens, hidden]), got shape [{}]",
                                  source, fmt::join(states.sizes(), ", ")));
  if (!states.is_floating_point()) states = states.to(torch::kFloat64);
  if (!torch::isfinite(states).all().item<bool>())
    throw FormatError(file, FormatError::kNoOffset, fmt::format("{}: the hidden states have NaN or infinite values", source));
  if (max_tokens > 0 && states.size(0) > max_tokens) states = states.narrow(0, 0, max_tokens);
  return states;
}

std::pair<torch::Tensor, LabelMetadata> build_bert(const BertLabelsOptions& o) {
  check_bert_options(o.outlier_sigmas(), o.rescale(), o.value_range());
  if (o.max_tokens() < 0) throw InvalidArgument(fmt::format("BERT labels: max_tokens must be 0 (all) or positive, got {}", o.max_tokens()));
  std::vector<torch::Tensor> states;
  std::vector<std::string> sources;  // where each class came from, for the errors
  if (std::filesystem::is_directory(o.path())) {
    for (const auto& f : files_in_name_order(o.path(), ".npy")) {
      states.push_back(checked_states(read_npy(f), f, f, o.max_tokens()));
      sources.push_back(f);
    }
    if (states.empty()) throw InvalidArgument(fmt::format("BERT labels: no .npy files in {}", o.path()));
  } else {
    const torch::Tensor all = read_npy(o.path());
    if (all.dim() != 3 || all.size(0) < 1)
      throw FormatError(o.path(), FormatError::kNoOffset,
                        fmt::format("BERT labels must hold [classes, tokens, hidden] with at least one class, got shape [{}]",
                                    fmt::join(all.sizes(), ", ")));
    for (std::int64_t c = 0; c < all.size(0); ++c) {
      sources.push_back(fmt::format("class {} of {}", c, o.path()));
      states.push_back(checked_states(all[c], sources.back(), o.path(), o.max_tokens()));
    }
  }
  if (!o.class_names().empty() && o.class_names().size() != states.size())
    throw InvalidArgument(fmt::format("BERT labels: {} class names but {} classes of hidden states in {}", o.class_names().size(),
                                      states.size(), o.path()));
  for (std::size_t c = 1; c < states.size(); ++c)
    if (states[c].sizes() != states[0].sizes())
      throw InvalidArgument(fmt::format("BERT labels: {} has hidden states of shape [{}] but {} [{}]; every class needs as many tokens "
                                        "(max_tokens, --bert-tokens, keeps the first N of each)",
                                        sources[c], fmt::join(states[c].sizes(), ", "), sources[0], fmt::join(states[0].sizes(), ", ")));
  torch::Tensor m = bert_matrix(states, o.outlier_sigmas(), o.rescale(), o.value_range());
  LabelMetadata meta;
  meta.kind = "bert";
  meta.class_names = o.class_names();
  meta.range_min = o.rescale() ? 0.0 : m.min().item<double>();
  meta.range_max = o.rescale() ? o.value_range() : m.max().item<double>();
  meta.description = fmt::format("BERT hidden states [{}] from {}, |x| > mean + {} sd (over all classes) set to 0, {}, {}x{}",
                                 fmt::join(states[0].sizes(), "x"), o.path(), o.outlier_sigmas(),
                                 o.rescale() ? fmt::format("min-max scaled to [0, {}] over all classes", o.value_range())
                                             : std::string("not rescaled"),
                                 m.size(1), m.size(2));
  return {m, meta};
}

}  // namespace

torch::Tensor bert_label(const torch::Tensor& hidden_states, double outlier_sigmas, bool rescale, double value_range) try {
  if (!hidden_states.defined() || hidden_states.dim() != 2 || hidden_states.numel() == 0)
    throw InvalidArgument("bert_label: hidden_states must be a non-empty [tokens, hidden] matrix");
  check_bert_options(outlier_sigmas, rescale, value_range);
  if (!torch::isfinite(hidden_states.to(torch::kFloat64)).all().item<bool>())
    throw InvalidArgument("bert_label: the hidden states have NaN or infinite values");
  return bert_matrix({hidden_states}, outlier_sigmas, rescale, value_range)[0];
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("bert_label");
}

GloveLabels::GloveLabels(const GloveLabelsOptions& options) try : GloveLabels(build_glove(options)) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("GloveLabels");
}
BertLabels::BertLabels(const BertLabelsOptions& options) try : BertLabels(build_bert(options)) {
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("BertLabels");
}
GloveLabels::GloveLabels(std::pair<torch::Tensor, LabelMetadata> built)
    : LabelRepresentation(std::move(built.first), std::move(built.second)) {}
BertLabels::BertLabels(std::pair<torch::Tensor, LabelMetadata> built)
    : LabelRepresentation(std::move(built.first), std::move(built.second)) {}

}  // namespace labelrep::labels
