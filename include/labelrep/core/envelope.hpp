#pragma once
/// \file envelope.hpp  A sealed container for checkpoint bytes.
///
/// libtorch loads damaged archives silently wrong in about 10 % of cases and crashes on some
/// (shared/RELIABILITY.md §0), so labelrep never hands unverified bytes to torch::load. A sealed file
/// is: the magic "LREPCKPT" (8 bytes), the format version (uint32 little endian, 1), the payload length
/// (uint64 little endian), the SHA-256 of the payload (32 bytes), then the payload.
/// A hash detects corruption, not tampering: checkpoints from others remain untrusted code-like data.

#include <cstddef>
#include <cstdint>
#include <string>

#include "labelrep/core/error.hpp"
#include "labelrep/export.hpp"

namespace labelrep {

/// A checkpoint whose envelope does not verify (truncated, extended, flipped bytes, wrong magic).
class LABELREP_API CorruptCheckpoint : public FormatError {
 public:
  using FormatError::FormatError;
};

/// Size of the envelope header in bytes.
inline constexpr std::size_t kEnvelopeHeaderSize = 52;

/// Wraps `payload` in an envelope.
LABELREP_API std::string seal_envelope(const std::string& payload);

/// Verifies an envelope and returns its payload. `name` is used in error messages.
/// Throws CorruptCheckpoint (with the byte offset) if anything does not match.
LABELREP_API std::string open_envelope(const std::string& sealed, const std::string& name);

}  // namespace labelrep
