#include "labelrep/core/error.hpp"

#include <c10/util/Exception.h>

#include <exception>
#include <fmt/format.h>
#include <new>

#include "core/boundary.hpp"

namespace labelrep {
namespace {
constexpr const char* kPrefix = "labelrep: ";

std::string with_prefix(const std::string& message) {
  return message.rfind(kPrefix, 0) == 0 ? message : kPrefix + message;
}
}  // namespace

Error::Error(const std::string& message) : std::runtime_error(with_prefix(message)) {}

std::string error_reason(const std::exception& error) {
  const std::string message = error.what();
  const std::string prefix = kPrefix;
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

IoError::IoError(std::string path, const std::string& what)
    : Error(fmt::format("{}: {}", path, what)), path_(std::move(path)) {}

FormatError::FormatError(std::string path, std::uint64_t offset, const std::string& what)
    : Error(offset == kNoOffset ? fmt::format("{}: {}", path, what)
                                : fmt::format("{}: at byte {}: {}", path, offset, what)),
      path_(std::move(path)),
      offset_(offset) {}

namespace detail {
namespace {
// libtorch messages can end in a newline or carry "Exception raised from ..." lines in some builds;
// keep the text a user can act on.
std::string concise(std::string text) {
  const auto raised = text.find("\nException raised from");
  if (raised != std::string::npos) text.erase(raised);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}
}  // namespace

void rethrow_as_labelrep_error(const char* where) {
  try {
    throw;
  } catch (const Error&) {
    throw;
  } catch (const c10::OutOfMemoryError& e) {
    throw OutOfMemory(fmt::format("{}: out of memory: {}", where, concise(e.what_without_backtrace())));
  } catch (const c10::Error& e) {
    const std::string text = concise(e.what_without_backtrace());
    // CPU allocation failures are plain c10::Errors ("DefaultCPUAllocator: can't allocate memory").
    if (text.find("can't allocate memory") != std::string::npos || text.find("out of memory") != std::string::npos)
      throw OutOfMemory(fmt::format("{}: out of memory: {}", where, text));
    throw TorchError(fmt::format("{}: libtorch error: {}", where, text));
  } catch (const std::bad_alloc& e) {
    throw OutOfMemory(fmt::format("{}: out of memory ({})", where, e.what()));
  } catch (const std::exception& e) {
    throw InternalError(fmt::format("{}: unexpected error: {}", where, e.what()));
  } catch (...) {
    throw InternalError(fmt::format("{}: unexpected exception of unknown type", where));
  }
}

void rethrow_as_labelrep_error(const std::string& where) { rethrow_as_labelrep_error(where.c_str()); }

}  // namespace detail
}  // namespace labelrep
