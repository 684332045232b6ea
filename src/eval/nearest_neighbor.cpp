#include "labelrep/eval/nearest_neighbor.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep::eval {
namespace {
std::string shape_text(torch::IntArrayRef sizes) {
  std::string out = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}
}  // namespace

EvaluationTally::EvaluationTally(std::int64_t num_classes) try
    : classes_(num_classes), confusion_(torch::zeros({std::max<std::int64_t>(num_classes, 0), std::max<std::int64_t>(num_classes, 0)}, torch::kLong)) {
  if (num_classes < 0) throw InvalidArgument(fmt::format("EvaluationTally: num_classes must be >= 0, got {}", num_classes));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("EvaluationTally");
}

EvaluationTally& EvaluationTally::operator+=(const EvaluationTally& other) try {
  if (other.count_ == 0) return *this;
  if (count_ == 0 && classes_ == 0) {
    *this = other;
    confusion_ = other.confusion_.clone();
    return *this;
  }
  if (other.classes_ != classes_)
    throw InvalidArgument(fmt::format("cannot add tallies of {} and {} classes", classes_, other.classes_));
  count_ += other.count_;
  threshold_hits_ += other.threshold_hits_;
  has_threshold_ = has_threshold_ || other.has_threshold_;
  threshold_ = other.threshold_;
  range_min_ = other.range_min_;
  range_max_ = other.range_max_;
  confusion_ += other.confusion_;
  return *this;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("EvaluationTally::operator+=");
}

EvaluationResult EvaluationTally::result() const try {
  if (count_ == 0) throw InvalidArgument("evaluation result requested but no outputs were evaluated");
  EvaluationResult r;
  r.count = count_;
  const auto diagonal = confusion_.diagonal().to(torch::kDouble);
  const auto per_class = confusion_.sum(1).to(torch::kDouble);
  r.accuracy = diagonal.sum().item<double>() / static_cast<double>(count_);
  r.has_threshold = has_threshold_;
  r.threshold_accuracy = has_threshold_ ? static_cast<double>(threshold_hits_) / static_cast<double>(count_) : 0.0;
  r.threshold = threshold_;
  r.range_min = range_min_;
  r.range_max = range_max_;
  for (std::int64_t c = 0; c < classes_; ++c) {
    const double n = per_class[c].item<double>();
    r.per_class_accuracy.push_back(n > 0 ? diagonal[c].item<double>() / n : std::numeric_limits<double>::quiet_NaN());
  }
  r.confusion = confusion_.clone();
  return r;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("EvaluationTally::result");
}

NearestNeighborEvaluator::NearestNeighborEvaluator(std::shared_ptr<const labels::LabelRepresentation> labels,
                                                   NearestNeighborOptions options) try
    : labels_(std::move(labels)), options_(options) {
  if (!labels_) throw InvalidArgument("NearestNeighborEvaluator: labels are null");
  if (!(options_.threshold() > 0) || !std::isfinite(options_.threshold()))
    throw InvalidArgument(fmt::format("NearestNeighborEvaluator: threshold must be positive, got {}", options_.threshold()));
  const auto flat = labels_->matrix().flatten(1);  // [C, D]
  label_mean_ = flat.mean(0);
  centred_labels_ = (flat - label_mean_).contiguous();
  label_norms_ = centred_labels_.pow(2).sum(1);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("NearestNeighborEvaluator");
}

void NearestNeighborEvaluator::check_outputs(const torch::Tensor& outputs) const {
  if (!outputs.defined()) throw InvalidArgument("outputs is undefined");
  if (!outputs.is_floating_point())
    throw InvalidArgument(fmt::format("outputs must be floating point, got {}", c10::toString(outputs.scalar_type())));
  const auto expected = labels_->label_shape();
  const bool ok = outputs.dim() == static_cast<std::int64_t>(expected.size()) + 1 &&
                  std::equal(expected.begin(), expected.end(), outputs.sizes().begin() + 1);
  if (!ok)
    throw InvalidArgument(fmt::format("outputs has shape {} but the {} labels need [N, {}]", shape_text(outputs.sizes()),
                                      labels_->name(), shape_text(expected).substr(1)));
}

torch::Tensor NearestNeighborEvaluator::check_ids(const torch::Tensor& class_ids, std::int64_t n,
                                                  const torch::Device& device) const {
  if (!class_ids.defined() || class_ids.dim() != 1)
    throw InvalidArgument("class_ids must be a 1-D integer tensor [N]");
  if (class_ids.is_floating_point() || class_ids.scalar_type() == torch::kBool)
    throw InvalidArgument(fmt::format("class_ids must be integers, got {}", c10::toString(class_ids.scalar_type())));
  if (class_ids.size(0) != n)
    throw InvalidArgument(fmt::format("class_ids has {} entries but outputs has {} rows", class_ids.size(0), n));
  const auto ids = class_ids.to(device, torch::kLong);
  if (n > 0) {
    const auto low = ids.min().item<std::int64_t>(), high = ids.max().item<std::int64_t>();
    if (low < 0 || high >= labels_->num_classes())
      throw InvalidArgument(fmt::format("class id {} is out of range [0, {})", low < 0 ? low : high, labels_->num_classes()));
  }
  return ids;
}

torch::Tensor NearestNeighborEvaluator::distances(const torch::Tensor& outputs) const try {
  check_outputs(outputs);
  const auto flat = outputs.flatten(1).to(torch::kFloat32);
  const auto options = flat.options();
  const auto centred = flat - label_mean_.to(options);
  // ||o - l||² = ||o||² − 2 o·l + ||l||², all on the centred values.
  const auto cross = torch::matmul(centred, centred_labels_.to(options).t());
  const auto squared = centred.pow(2).sum(1, true) - 2 * cross + label_norms_.to(options).unsqueeze(0);
  return squared.clamp_min(0) / static_cast<double>(labels_->label_numel());
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("NearestNeighborEvaluator::distances");
}

torch::Tensor NearestNeighborEvaluator::predict(const torch::Tensor& outputs) const try {
  check_outputs(outputs);
  if (labels_->is_categorical()) return outputs.argmax(1);
  // ||o||² is the same for every class, so the nearest label minimises ||l||² − 2 o·l.
  const auto flat = outputs.flatten(1).to(torch::kFloat32);
  const auto options = flat.options();
  const auto centred = flat - label_mean_.to(options);
  const auto score = label_norms_.to(options).unsqueeze(0) - 2 * torch::matmul(centred, centred_labels_.to(options).t());
  return score.argmin(1);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("NearestNeighborEvaluator::predict");
}

torch::Tensor NearestNeighborEvaluator::within_threshold(const torch::Tensor& outputs, const torch::Tensor& class_ids) const try {
  check_outputs(outputs);
  if (labels_->is_categorical())
    throw InvalidArgument("the threshold rule applies to label regression, not to categorical labels");
  const auto ids = check_ids(class_ids, outputs.size(0), outputs.device());
  const auto target = labels_->targets(ids).to(outputs.scalar_type());
  const auto diff = (outputs - target).abs();
  const auto smooth_l1 = torch::where(diff < 1.0, 0.5 * diff * diff, diff - 0.5);  // β = 1
  return smooth_l1.flatten(1).mean(1) < options_.threshold();
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("NearestNeighborEvaluator::within_threshold");
}

EvaluationTally NearestNeighborEvaluator::tally(const torch::Tensor& outputs, const torch::Tensor& class_ids, torch::Tensor* predicted) const try {
  const auto decided = predict(outputs);
  const auto ids = check_ids(class_ids, outputs.size(0), outputs.device());
  const std::int64_t classes = labels_->num_classes();
  EvaluationTally t(classes);
  t.count_ = outputs.size(0);
  t.confusion_ = torch::bincount(ids * classes + decided, {}, classes * classes).view({classes, classes}).to(torch::kCPU, torch::kLong);
  t.range_min_ = labels_->metadata().range_min;
  t.range_max_ = labels_->metadata().range_max;
  if (!labels_->is_categorical()) {
    t.has_threshold_ = true;
    t.threshold_ = options_.threshold();
    t.threshold_hits_ = within_threshold(outputs, ids).sum().item<std::int64_t>();
  }
  if (predicted != nullptr) *predicted = decided;
  return t;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("NearestNeighborEvaluator::tally");
}

}  // namespace labelrep::eval
