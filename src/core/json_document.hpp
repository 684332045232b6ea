#pragma once
// A user's JSON document (a run's config.json, a grid file, a label metadata sidecar) parsed with
// labelrep's errors (internal). One place decides how nlohmann's exceptions become FormatErrors, so
// every reader names the file, gives the byte offset of a syntax error, and turns a number too large
// for a double (out_of_range) into a FormatError too.
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "labelrep/core/error.hpp"

namespace labelrep::detail {

/// Parses `text`, read from `source`. Throws FormatError(source, offset of the error) for malformed JSON.
inline nlohmann::json parse_json_document(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(source, e.byte > 0 ? e.byte - 1 : 0, std::string("invalid JSON: ") + e.what());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source, FormatError::kNoOffset, std::string("invalid JSON: ") + e.what());
  }
}

/// `j` as JSON text (`indent` as nlohmann's dump). JSON strings must be UTF-8: a path or name that is
/// not (possible on Linux) throws InvalidArgument saying what could not be written, never nlohmann's
/// type_error.
inline std::string dump_json_document(const nlohmann::json& j, int indent, const std::string& what) {
  try {
    return j.dump(indent);
  } catch (const nlohmann::json::type_error& e) {
    throw InvalidArgument(fmt::format("{} cannot be written as JSON: a text in it is not valid UTF-8 ({})", what, e.what()));
  }
}

/// `value` (the field `key` of a document read from `source`) as a non-negative integer. Integer fields
/// are read only from JSON integers: nlohmann's get<integer>() on a float such as 1e300 would convert
/// out of range (undefined behaviour), and a negative one would wrap. Throws FormatError otherwise.
inline std::uint64_t json_unsigned(const nlohmann::json& value, const std::string& key, const std::string& source) {
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<std::int64_t>() >= 0))
    throw FormatError(source, FormatError::kNoOffset, fmt::format("field '{}' must be a non-negative integer, got {}", key, value.dump()));
  return value.get<std::uint64_t>();
}

/// Throws InvalidArgument naming `field` unless `text` is valid UTF-8 (JSON's rule, so that whatever
/// passes can be written to a JSON file later).
inline void require_utf8(const std::string& text, const std::string& field) {
  try {
    (void)nlohmann::json(text).dump();
  } catch (const nlohmann::json::type_error&) {
    throw InvalidArgument(fmt::format("{} is not valid UTF-8 text; labelrep records it in JSON files, which need UTF-8", field));
  }
}

}  // namespace labelrep::detail
