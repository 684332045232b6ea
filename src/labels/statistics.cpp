#include "labelrep/labels/statistics.hpp"

#include <cmath>
#include <fmt/format.h>

#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep::labels {
namespace {

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd out;
  if (values.empty()) return out;
  double sum = 0;
  for (double v : values) sum += v;
  out.mean = sum / static_cast<double>(values.size());
  double squares = 0;
  for (double v : values) squares += (v - out.mean) * (v - out.mean);
  out.std = std::sqrt(squares / static_cast<double>(values.size()));
  return out;
}

// Scales each label (or the whole set) to [0, 1]. A constant label (or set) maps to zeros.
torch::Tensor normalise(const torch::Tensor& labels, Normalization how) {
  if (how == Normalization::kGlobal) {
    const double low = labels.min().item<double>(), high = labels.max().item<double>();
    return high > low ? (labels - low) / (high - low) : torch::zeros_like(labels);
  }
  const auto flat = labels.flatten(1);
  const auto low = std::get<0>(flat.min(1, true)), high = std::get<0>(flat.max(1, true));
  const auto span = high - low;
  const auto safe_span = torch::where(span > 0, span, torch::ones_like(span));
  return ((flat - low) / safe_span).view(labels.sizes());
}

}  // namespace

StatisticsOptions paper_statistics_options(const std::string& kind) {
  StatisticsOptions o;
  if (kind == "speech" || kind == "shuffle" || kind == "composite") {
    o.normalization = Normalization::kPerLabel;
    o.l1 = L1Norm::kMatrix;
    o.l2 = L2Norm::kFrobenius;
  } else {
    o.normalization = Normalization::kGlobal;
    o.l1 = L1Norm::kMatrix;
    o.l2 = L2Norm::kSpectral;
  }
  return o;
}

double shannon_entropy(const torch::Tensor& values) try {
  const auto flat = values.detach().to(torch::kCPU, torch::kFloat32).flatten().contiguous();
  const std::int64_t n = flat.numel();
  if (n == 0) throw InvalidArgument("shannon_entropy: no values");
  const auto sorted = std::get<0>(flat.sort());
  const float* p = sorted.data_ptr<float>();
  double entropy = 0;
  std::int64_t run = 1;
  for (std::int64_t i = 1; i <= n; ++i) {
    if (i < n && p[i] == p[i - 1]) {  // exact float32 equality, as numpy.unique
      ++run;
      continue;
    }
    const double probability = static_cast<double>(run) / static_cast<double>(n);
    entropy -= probability * std::log2(probability);
    run = 1;
  }
  return entropy == 0.0 ? 0.0 : entropy;  // no "-0"
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("shannon_entropy");
}

LabelStatistics label_statistics(const torch::Tensor& matrix, const StatisticsOptions& options) try {
  if (!matrix.defined() || matrix.dim() < 2)
    throw InvalidArgument("label_statistics: the label matrix must be [classes, ...] with at least 2 dimensions");
  const std::int64_t classes = matrix.size(0);
  if (classes < 2) throw InvalidArgument(fmt::format("label_statistics: needs at least 2 classes, got {}", classes));
  if (matrix[0].numel() == 0) throw InvalidArgument("label_statistics: labels are empty");
  const auto values = matrix.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (!torch::isfinite(values).all().item<bool>()) throw InvalidArgument("label_statistics: labels have non-finite values");

  LabelStatistics stats;
  stats.classes = classes;
  stats.label_shape.assign(values.sizes().begin() + 1, values.sizes().end());
  for (std::int64_t c = 0; c < classes; ++c) stats.entropy_per_label.push_back(shannon_entropy(values[c]));
  stats.entropy = mean_std(stats.entropy_per_label);

  // Distances in double; vectors are [C, D], matrices [C, R, K] (higher ranks fold into K).
  auto scaled = normalise(values.to(torch::kFloat64), options.normalization);
  const bool vectors = scaled.dim() == 2;
  if (scaled.dim() > 3) scaled = scaled.flatten(2);
  std::vector<double> l1, l2;
  l1.reserve(static_cast<std::size_t>(classes * (classes - 1) / 2));
  l2.reserve(l1.capacity());
  for (std::int64_t i = 0; i + 1 < classes; ++i) {
    const auto delta = scaled[i].unsqueeze(0) - scaled.slice(0, i + 1);  // [pairs, ...]
    const auto absolute = delta.abs();
    torch::Tensor d1, d2;
    if (vectors || options.l1 == L1Norm::kElementwise) {
      d1 = absolute.flatten(1).sum(1);
    } else {
      d1 = std::get<0>(absolute.sum(1).max(1));  // column sums, then the largest
    }
    if (vectors || options.l2 == L2Norm::kFrobenius) {
      d2 = delta.flatten(1).pow(2).sum(1).sqrt();
    } else {
      d2 = std::get<0>(torch::linalg_svdvals(delta).max(1));
    }
    const auto a = d1.contiguous(), b = d2.contiguous();
    l1.insert(l1.end(), a.data_ptr<double>(), a.data_ptr<double>() + a.numel());
    l2.insert(l2.end(), b.data_ptr<double>(), b.data_ptr<double>() + b.numel());
  }
  stats.l1 = mean_std(l1);
  stats.l2 = mean_std(l2);
  return stats;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("label_statistics");
}

}  // namespace labelrep::labels
