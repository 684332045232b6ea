// Fuzz target: GloVe text through read_glove's stream parser.
#include <sstream>

#include "fuzz_target.hpp"
#include "labelrep/labels/embeddings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::string> words = {"the", "cat", "dog", "aquarium", "fish", ".", "..."};
  labelrep_fuzz::run_parser("fuzz.txt", [&] {
    std::istringstream in(labelrep_fuzz::as_string(data, size));
    const auto found = labelrep::labels::read_glove(in, "fuzz.txt", words);
    std::size_t dimension = 0;
    for (const auto& [word, vector] : found) {
      if (dimension == 0) dimension = vector.size();
      labelrep_fuzz::require(vector.size() == dimension && dimension > 0, "GloVe rows of different widths were accepted");
    }
  });
  return 0;
}
