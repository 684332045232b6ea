#pragma once
// Private: the JSON sidecar `<labels>.npy.json` that keeps a label set's metadata.
#include <string>
#include <torch/types.h>

#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"

namespace labelrep::labels::detail {
std::string metadata_to_json(const LabelMetadata& metadata, const torch::Tensor& matrix);
/// Throws FormatError naming `path` for invalid JSON or wrongly typed fields. Exported for the fuzz
/// targets and tests only.
LABELREP_API LabelMetadata metadata_from_json(const std::string& text, const std::string& path);
}  // namespace labelrep::labels::detail
