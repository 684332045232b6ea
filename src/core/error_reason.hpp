#pragma once
// An error's message without labelrep's "labelrep: " prefix (internal), for re-throwing it inside a
// message of its own ("grid: run <id>: <reason>") without the prefix appearing twice.
#include <exception>
#include <string>

namespace labelrep::detail {

inline std::string error_reason(const std::exception& error) {
  const std::string message = error.what();
  const std::string prefix = "labelrep: ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

}  // namespace labelrep::detail
