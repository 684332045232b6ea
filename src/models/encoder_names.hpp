#pragma once
// The encoder names make_encoder() builds (internal), checked without building a network, so that an
// experiment's configuration (and every run of a grid) is checked before anything is trained.
#include <string>

namespace labelrep::models::detail {

// Throws InvalidArgument for a name make_encoder() does not know or a ResNet depth that is not 6n+2.
void require_known_encoder(const std::string& name);

}  // namespace labelrep::models::detail
