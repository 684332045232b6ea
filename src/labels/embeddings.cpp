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

std::pair<torch::Tensor, LabelMetadata> build_bert(const BertLabelsOptions& o) {
  std::vector<torch::Tensor> states;
  if (std::filesystem::is_directory(o.path())) {
    for (const auto& f : files_in_name_order(o.path(), ".npy")) states.push_back(read_npy(f));
    if (states.empty()) throw InvalidArgument(fmt::format("BERT labels: no .npy files in {}", o.path()));
  } else {
    const torch::Tensor all = read_npy(o.path());
    if (all.dim() != 3)
      throw InvalidArgument(fmt::format("BERT labels: {} must hold [classes, tokens, hidden], got {} dimensions", o.path(), all.dim()));
    for (std::int64_t c = 0; c < all.size(0); ++c) states.push_back(all[c]);
  }
  if (!o.class_names().empty() && o.class_names().size() != states.size())
    throw InvalidArgument(fmt::format("BERT labels: {} class names but {} classes of hidden states in {}", o.class_names().size(),
                                      states.size(), o.path()));
  std::vector<torch::Tensor> labels;
  for (std::size_t c = 0; c < states.size(); ++c) {
    if (states[c].sizes() != states[0].sizes())
      throw InvalidArgument(fmt::format("BERT labels: class {} has hidden states of shape [{}] but class 0 [{}] in {}", c,
                                        fmt::join(states[c].sizes(), ", "), fmt::join(states[0].sizes(), ", "), o.path()));
    labels.push_back(bert_label(states[c], o.outlier_sigmas(), o.rescale(), o.value_range()));
  }
  torch::Tensor m = torch::stack(labels);
  LabelMetadata meta;
  meta.kind = "bert";
  meta.class_names = o.class_names();
  meta.range_min = o.rescale() ? 0.0 : m.min().item<double>();
  meta.range_max = o.rescale() ? o.value_range() : m.max().item<double>();
  meta.description = fmt::format("BERT hidden states [{}] from {}, |x| > mean + {} sd set to 0, {}, {}x{}", fmt::join(states[0].sizes(), "x"),
                                 o.path(), o.outlier_sigmas(),
                                 o.rescale() ? fmt::format("min-max scaled to [0, {}]", o.value_range()) : std::string("not rescaled"),
                                 m.size(1), m.size(2));
  return {m, meta};
}

}  // namespace

torch::Tensor bert_label(const torch::Tensor& hidden_states, double outlier_sigmas, bool rescale, double value_range) try {
  if (!hidden_states.defined() || hidden_states.dim() != 2 || hidden_states.numel() == 0)
    throw InvalidArgument("bert_label: hidden_states must be a non-empty [tokens, hidden] matrix");
  if (!(outlier_sigmas > 0) || !std::isfinite(outlier_sigmas))
    throw InvalidArgument(fmt::format("bert_label: outlier_sigmas must be positive, got {}", outlier_sigmas));
  if (rescale && (!(value_range > 0) || !std::isfinite(value_range)))
    throw InvalidArgument(fmt::format("bert_label: value_range must be positive, got {}", value_range));
  torch::Tensor x = hidden_states.detach().to(torch::kCPU, torch::kFloat64).flatten().clone();
  if (!torch::isfinite(x).all().item<bool>()) throw InvalidArgument("bert_label: the hidden states have NaN or infinite values");
  const double mean = x.mean().item<double>();
  const double sd = std::sqrt((x - mean).square().mean().item<double>());  // population σ, as numpy's std
  x.masked_fill_(x.abs() > mean + outlier_sigmas * sd, 0.0);
  if (rescale) {
    const double lo = x.min().item<double>(), hi = x.max().item<double>();
    x = hi > lo ? (x - lo) / (hi - lo) * value_range : torch::zeros_like(x);
  }
  const auto n = x.numel();
  auto side = static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  while (side * side < n) ++side;  // guard the floating-point square root
  torch::Tensor square = torch::zeros({side * side}, torch::kFloat64);
  square.narrow(0, 0, n).copy_(x);
  return square.view({side, side}).to(torch::kFloat32);
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
