#include "models/encoder_names.hpp"

#include <fmt/format.h>

#include <cstdint>

#include "labelrep/core/error.hpp"

namespace labelrep::models::detail {

void require_known_encoder(const std::string& name) {
  if (name == "vgg19" || name == "small-cnn") return;
  // "resnet" + at most 4 digits: longer numbers would overflow nothing but are no ResNet anyone builds.
  if (name.rfind("resnet", 0) == 0 && name.size() > 6 && name.size() <= 10 && name.find_first_not_of("0123456789", 6) == std::string::npos) {
    const std::int64_t depth = std::stoll(name.substr(6));
    if (depth < 8 || (depth - 2) % 6 != 0)
      throw InvalidArgument(fmt::format("encoder '{}': a CIFAR ResNet's depth is 6n+2 (resnet20, resnet32, resnet56, resnet110, ...)", name));
    return;
  }
  throw InvalidArgument(fmt::format("unknown encoder '{}' (known: resnet<6n+2> such as resnet32 and resnet110, vgg19, small-cnn)", name));
}

}  // namespace labelrep::models::detail
