#pragma once
// A test probe of checkpoint loading (internal header): how many archives this process has handed to
// libtorch's parser. Tests use it to show that damaged files never reach torch::load.
#include <cstdint>

#include "labelrep/export.hpp"

namespace labelrep::train::detail {

LABELREP_API std::uint64_t checkpoint_archive_parses() noexcept;

}  // namespace labelrep::train::detail
