#pragma once
// Shared by the fuzz targets: what counts as an accepted outcome. A parser may return normally or
// throw a labelrep::Error; a FormatError or IoError must name the input. Anything else (another
// exception type, a crash, a sanitizer report, a leak, a large allocation) is a finding: another
// exception escapes LLVMFuzzerTestOneInput and ends the process through std::terminate.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>

#include "labelrep/core/error.hpp"

namespace labelrep_fuzz {

/// Aborts (a finding) with a message when an invariant of a target does not hold.
inline void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

/// Runs `parse`, accepting a normal return or a labelrep::Error that names `name`.
template <typename Parse>
void run_parser(const char* name, Parse&& parse) {
  try {
    parse();
  } catch (const labelrep::FormatError& e) {
    require(e.path() == name && std::string(e.what()).find(name) != std::string::npos, "a FormatError does not name the input");
  } catch (const labelrep::IoError& e) {
    require(e.path() == name, "an IoError does not name the input");
  } catch (const labelrep::Error&) {
  }
}

inline std::string as_string(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace labelrep_fuzz
