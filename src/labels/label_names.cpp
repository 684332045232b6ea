#include "labels/label_names.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "labelrep/core/error.hpp"
#include "labelrep/labels/factory.hpp"

namespace labelrep::labels {

std::vector<std::string> label_kinds() {
  return {"category", "constant", "uniform", "lowdim", "composite", "speech", "shuffle", "glove", "bert"};
}

namespace detail {

bool is_label_file(const std::string& label) { return label.size() > 4 && label.compare(label.size() - 4, 4, ".npy") == 0; }

void require_known_label(const std::string& label) {
  const auto kinds = label_kinds();
  if (is_label_file(label) || std::find(kinds.begin(), kinds.end(), label) != kinds.end()) return;
  throw InvalidArgument(fmt::format("unknown label kind '{}' (known: {}, or a path to a .npy file)", label, fmt::join(kinds, ", ")));
}

}  // namespace detail
}  // namespace labelrep::labels
