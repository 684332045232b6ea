#include "labelrep/core/error.hpp"

#include <fmt/format.h>

namespace labelrep {
namespace {
std::string with_prefix(const std::string& message) {
  return message.rfind("labelrep: ", 0) == 0 ? message : "labelrep: " + message;
}
}  // namespace

Error::Error(const std::string& message) : std::runtime_error(with_prefix(message)) {}

IoError::IoError(std::string path, const std::string& what)
    : Error(fmt::format("{}: {}", path, what)), path_(std::move(path)) {}

FormatError::FormatError(std::string path, std::uint64_t offset, const std::string& what)
    : Error(offset == kNoOffset ? fmt::format("{}: {}", path, what)
                                : fmt::format("{}: at byte {}: {}", path, offset, what)),
      path_(std::move(path)),
      offset_(offset) {}

}  // namespace labelrep
