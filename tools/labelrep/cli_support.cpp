#include <filesystem>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "labelrep/core/error.hpp"

namespace labelrep::cli {

void create_output_directory(const std::filesystem::path& directory) {
  if (directory.empty()) return;  // the working directory
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  // create_directories reports success for a path that exists as a file on some library versions.
  if (ec || !std::filesystem::is_directory(directory, ec))
    throw IoError(directory.string(), "cannot create the output directory" + (ec ? ": " + ec.message() : std::string(": a file is in the way")));
}

}  // namespace labelrep::cli
