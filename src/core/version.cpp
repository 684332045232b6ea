#include "labelrep/version.hpp"

namespace labelrep {
std::string version() { return LABELREP_VERSION_STRING; }
}  // namespace labelrep
