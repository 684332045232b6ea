#pragma once
// Private: the JSON sidecar `<labels>.npy.json` that keeps a label set's metadata.
#include <string>
#include <torch/types.h>

#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"

namespace labelrep::labels::detail {
/// Throws InvalidArgument when a class name or the description is not valid UTF-8.
std::string metadata_to_json(const LabelMetadata& metadata, const torch::Tensor& matrix);
/// Throws FormatError naming `path` for invalid JSON or wrongly typed fields. Exported for the fuzz
/// targets and tests only.
LABELREP_API LabelMetadata metadata_from_json(const std::string& text, const std::string& path);
/// Throws FormatError naming `sidecar` when its "classes" or "label_shape" differ from `matrix` (read
/// from `path`): a sidecar left beside another label file must not describe it.
void check_metadata_fits(const std::string& text, const std::string& sidecar, const torch::Tensor& matrix, const std::string& path);
}  // namespace labelrep::labels::detail
