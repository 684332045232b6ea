// The umbrella header names every public header, so `#include <labelrep/labelrep.hpp>` is everything.
#include "catch.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

CATCH_TEST_CASE("labelrep.hpp includes every public header of every module", "[core]") {
  const std::filesystem::path include = std::filesystem::path(LABELREP_SOURCE_DIR) / "include";
  std::ifstream in(include / "labelrep" / "labelrep.hpp");
  CATCH_REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string umbrella = text.str();
  std::vector<std::string> headers;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(include / "labelrep"))
    if (entry.is_regular_file() && entry.path().extension() == ".hpp" && entry.path().parent_path() != include / "labelrep")
      headers.push_back(std::filesystem::relative(entry.path(), include).generic_string());
  std::sort(headers.begin(), headers.end());
  CATCH_REQUIRE(headers.size() >= 40);  // the modules' headers were found
  for (const auto& header : headers) {
    CATCH_INFO(header);
    CATCH_CHECK(umbrella.find("#include \"" + header + "\"") != std::string::npos);
  }
}
