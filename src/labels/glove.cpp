// GloVe text files (word v1 ... vD per line). Kept apart from the label classes so that the parser can
// be built alone (fuzz/) and read from any stream.
#include "labelrep/labels/embeddings.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <limits>
#include <set>

#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep::labels {

std::vector<std::string> glove_words(const std::string& class_name) {
  std::vector<std::string> words;
  std::string word;
  for (char c : class_name) {
    if (c == '_' || c == ' ' || c == '/') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::map<std::string, std::vector<float>> read_glove(const std::string& path, const std::vector<std::string>& words) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path, "cannot open the GloVe file");
  return read_glove(in, path, words);
}

std::map<std::string, std::vector<float>> read_glove(std::istream& in, const std::string& path, const std::vector<std::string>& words) try {
  const std::set<std::string> wanted(words.begin(), words.end());
  std::map<std::string, std::vector<float>> found;
  std::string line;
  std::uint64_t offset = 0, row = 0;
  std::size_t dimension = 0;
  std::vector<float> values;
  while (std::getline(in, line)) {
    const std::uint64_t start = offset;
    offset += line.size() + 1;
    ++row;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t space = line.find(' ');
    if (line.empty() || space == 0 || space == std::string::npos)
      throw FormatError(path, start, fmt::format("row {} is not 'word v1 v2 ...'", row));
    values.clear();
    std::size_t pos = space + 1;
    while (true) {
      std::size_t end = line.find(' ', pos);
      if (end == std::string::npos) end = line.size();
      double v = 0.0;
      const auto [ptr, ec] = std::from_chars(line.data() + pos, line.data() + end, v);
      // Finite and within float's range: converting a larger double to float is undefined behaviour.
      if (pos == end || ec != std::errc() || ptr != line.data() + end || !std::isfinite(v) ||
          std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max()))
        throw FormatError(path, start + pos,
                          fmt::format("row {} value {} ('{}') is not a finite float32 number", row, values.size() + 1,
                                      line.substr(pos, end - pos)));
      values.push_back(static_cast<float>(v));
      if (end == line.size()) break;
      pos = end + 1;
    }
    if (dimension == 0) {
      dimension = values.size();
    } else if (values.size() != dimension) {
      // GloVe#150: some published files have tokens containing spaces, which shifts every value.
      throw FormatError(path, start, fmt::format("row {} has {} values but row 1 has {} (a word containing a space?)", row,
                                                 values.size(), dimension));
    }
    const std::string word = line.substr(0, space);
    if (wanted.count(word) != 0 && found.count(word) == 0) found.emplace(word, values);
  }
  if (in.bad()) throw IoError(path, "read error");
  if (dimension == 0) throw FormatError(path, 0, "the GloVe file has no rows");
  return found;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error(fmt::format("read_glove({})", path));
}

}  // namespace labelrep::labels
