#include "labelrep/labels/label_representation.hpp"

#include <fmt/format.h>
#include <mutex>
#include <utility>
#include <vector>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labels/metadata_json.hpp"
#include "core/boundary.hpp"

namespace labelrep::labels {

struct LabelRepresentation::DeviceCopies {
  std::mutex mutex;
  std::vector<std::pair<torch::Device, torch::Tensor>> copies;
};

LabelRepresentation::~LabelRepresentation() = default;

LabelRepresentation::LabelRepresentation(torch::Tensor matrix, LabelMetadata metadata) try
    : metadata_(std::move(metadata)), device_copies_(std::make_unique<DeviceCopies>()) {
  if (!matrix.defined()) throw InvalidArgument("label matrix is undefined");
  if (matrix.dim() < 2)
    throw InvalidArgument(fmt::format("label matrix must be [classes, ...] with at least 2 dimensions, got {} dimension(s)",
                                      matrix.dim()));
  if (matrix.size(0) < 1) throw InvalidArgument("label matrix has no classes");
  if (matrix[0].numel() < 1) throw InvalidArgument("label matrix has empty labels");
  if (!matrix.is_floating_point() && matrix.scalar_type() != torch::kBool && matrix.scalar_type() != torch::kUInt8 &&
      matrix.scalar_type() != torch::kInt32 && matrix.scalar_type() != torch::kInt64)
    throw InvalidArgument(fmt::format("label matrix has unsupported dtype {}", c10::toString(matrix.scalar_type())));
  matrix_ = matrix.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (!torch::isfinite(matrix_).all().item<bool>())
    throw InvalidArgument("label matrix has non-finite values (NaN or infinity)");
  if (!metadata_.class_names.empty() && static_cast<std::int64_t>(metadata_.class_names.size()) != matrix_.size(0))
    throw InvalidArgument(fmt::format("label matrix has {} classes but {} class names were given", matrix_.size(0),
                                      metadata_.class_names.size()));
  if (!(metadata_.range_max > metadata_.range_min)) {
    metadata_.range_min = matrix_.min().item<double>();
    metadata_.range_max = matrix_.max().item<double>();
  }
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("LabelRepresentation");
}

std::vector<std::int64_t> LabelRepresentation::label_shape() const {
  const auto sizes = matrix_.sizes();
  return std::vector<std::int64_t>(sizes.begin() + 1, sizes.end());
}

std::int64_t LabelRepresentation::label_numel() const { return matrix_[0].numel(); }

torch::Tensor LabelRepresentation::targets(const torch::Tensor& class_ids) const try {
  if (!class_ids.defined()) throw InvalidArgument("targets: class_ids is undefined");
  if (class_ids.dim() != 1)
    throw InvalidArgument(fmt::format("targets: class_ids must be 1-D [N], got {} dimensions", class_ids.dim()));
  if (class_ids.is_floating_point() || class_ids.is_complex() || class_ids.scalar_type() == torch::kBool)
    throw InvalidArgument(fmt::format("targets: class_ids must be an integer tensor, got {}",
                                      c10::toString(class_ids.scalar_type())));
  const auto ids = class_ids.to(torch::kLong);
  if (ids.numel() > 0) {
    const auto bounds = torch::stack({ids.min(), ids.max()}).to(torch::kCPU);  // one copy to the host, not two
    const auto low = bounds[0].item<std::int64_t>();
    const auto high = bounds[1].item<std::int64_t>();
    if (low < 0 || high >= num_classes())
      throw InvalidArgument(fmt::format("targets: class id {} is out of range [0, {})", low < 0 ? low : high, num_classes()));
  }
  return matrix_on(ids.device()).index_select(0, ids);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("LabelRepresentation::targets");
}

torch::Tensor LabelRepresentation::matrix_on(const torch::Device& device) const try {
  if (device.is_cpu()) return matrix_;
  std::lock_guard<std::mutex> lock(device_copies_->mutex);
  for (const auto& [where, copy] : device_copies_->copies)
    if (where == device) return copy;
  // A copy from pageable host memory waits for the device: once per device, not once per batch.
  device_copies_->copies.emplace_back(device, matrix_.to(device));
  return device_copies_->copies.back().second;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("LabelRepresentation::matrix_on");
}

void LabelRepresentation::save(const std::string& path) const try {
  // The sidecar's text first: metadata that cannot be written (a name that is not UTF-8) must not
  // leave a new .npy beside an old sidecar.
  const std::string sidecar = detail::metadata_to_json(metadata_, matrix_);
  write_npy(path, matrix_);
  write_file_atomically(path + ".json", sidecar);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("LabelRepresentation::save");
}

}  // namespace labelrep::labels
