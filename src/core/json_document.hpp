#pragma once
// A user's JSON document (a run's config.json, a grid file, a label metadata sidecar) parsed with
// labelrep's errors (internal). One place decides how nlohmann's exceptions become FormatErrors, so
// every reader names the file, gives the byte offset of a syntax error, and turns a number too large
// for a double (out_of_range) into a FormatError too.
#include <nlohmann/json.hpp>

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

}  // namespace labelrep::detail
