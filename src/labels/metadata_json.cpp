#include "labels/metadata_json.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "labelrep/core/error.hpp"
#include "core/json_document.hpp"
#include "labelrep/version.hpp"

namespace labelrep::labels::detail {

std::string metadata_to_json(const LabelMetadata& metadata, const torch::Tensor& matrix) {
  nlohmann::json j;
  j["format"] = "labelrep-labels";
  j["labelrep_version"] = version();
  j["kind"] = metadata.kind;
  j["classes"] = matrix.size(0);
  j["label_shape"] = std::vector<std::int64_t>(matrix.sizes().begin() + 1, matrix.sizes().end());
  j["class_names"] = metadata.class_names;
  if (metadata.has_seed) j["seed"] = metadata.seed;
  j["range"] = {metadata.range_min, metadata.range_max};
  j["description"] = metadata.description;
  try {
    return j.dump(2) + "\n";
  } catch (const nlohmann::json::type_error& e) {  // 316: a string that is not valid UTF-8
    throw InvalidArgument(fmt::format("label metadata cannot be written as JSON: a class name or the description ('{}') is not valid "
                                      "UTF-8 ({})", metadata.description, e.what()));
  }
}

void check_metadata_fits(const std::string& text, const std::string& sidecar, const torch::Tensor& matrix, const std::string& path) {
  const auto j = labelrep::detail::parse_json_document(text, sidecar);
  const std::vector<std::int64_t> shape(matrix.sizes().begin() + 1, matrix.sizes().end());
  try {
    // Counts are read only from JSON integers (json_unsigned): "classes": 10.7 is not 10 classes.
    if (j.contains("classes") &&
        labelrep::detail::json_unsigned(j.at("classes"), "classes", sidecar) != static_cast<std::uint64_t>(matrix.size(0)))
      throw FormatError(sidecar, FormatError::kNoOffset,
                        fmt::format("says {} classes but {} has {}: the sidecar belongs to another label file", j.at("classes").dump(),
                                    path, matrix.size(0)));
    if (j.contains("label_shape")) {
      const auto& stated = j.at("label_shape");
      if (!stated.is_array()) throw FormatError(sidecar, FormatError::kNoOffset, "\"label_shape\" must be a list of sizes");
      std::vector<std::int64_t> stated_shape;
      for (const auto& size : stated)
        stated_shape.push_back(static_cast<std::int64_t>(labelrep::detail::json_unsigned(size, "label_shape", sidecar)));
      if (stated_shape != shape)
        throw FormatError(sidecar, FormatError::kNoOffset,
                          fmt::format("says labels of shape {} but {} holds {}: the sidecar belongs to another label file",
                                      stated.dump(), path, nlohmann::json(shape).dump()));
    }
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(sidecar, FormatError::kNoOffset, std::string("bad metadata field: ") + e.what());
  }
}

LabelMetadata metadata_from_json(const std::string& text, const std::string& path) {
  const auto j = labelrep::detail::parse_json_document(text, path);
  try {
    if (!j.is_object() || j.value("format", std::string()) != "labelrep-labels")
      throw FormatError(path, FormatError::kNoOffset, "not a labelrep label metadata file (\"format\" is not \"labelrep-labels\")");
    LabelMetadata m;
    m.kind = j.at("kind").get<std::string>();
    m.class_names = j.value("class_names", std::vector<std::string>{});
    if (j.contains("seed")) {
      m.has_seed = true;
      m.seed = labelrep::detail::json_unsigned(j.at("seed"), "seed", path);
    }
    if (j.contains("range")) {
      const auto range = j.at("range").get<std::vector<double>>();
      if (range.size() != 2) throw FormatError(path, FormatError::kNoOffset, "\"range\" must be [min, max]");
      m.range_min = range[0];
      m.range_max = range[1];
    }
    m.description = j.value("description", std::string());
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path, FormatError::kNoOffset, std::string("bad metadata field: ") + e.what());
  }
}

}  // namespace labelrep::labels::detail
