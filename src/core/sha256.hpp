#pragma once
// Private: SHA-256 (FIPS 180-4), used to seal checkpoints. Small and dependency-free.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "labelrep/export.hpp"

namespace labelrep::detail {

// Exported (though private) so that the tests can check it against the FIPS vectors.
class LABELREP_API Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  std::array<std::uint8_t, 32> finish();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;
};

LABELREP_API std::array<std::uint8_t, 32> sha256(const void* data, std::size_t size);
LABELREP_API std::string to_hex(const std::array<std::uint8_t, 32>& digest);

}  // namespace labelrep::detail
