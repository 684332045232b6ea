#include "labelrep/core/envelope.hpp"

#include <cstring>
#include <fmt/format.h>

#include "core/sha256.hpp"

namespace labelrep {
namespace {
constexpr char kMagic[8] = {'L', 'R', 'E', 'P', 'C', 'K', 'P', 'T'};
constexpr std::uint32_t kVersion = 1;

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
std::uint64_t get_le(const std::string& in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return value;
}
}  // namespace

std::string seal_envelope(const std::string& payload) {
  std::string out(kMagic, sizeof kMagic);
  put_le(out, kVersion, 4);
  put_le(out, payload.size(), 8);
  const auto digest = detail::sha256(payload.data(), payload.size());
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  out += payload;
  return out;
}

std::string open_envelope(const std::string& sealed, const std::string& name) {
  for (std::size_t i = 0; i < sizeof kMagic; ++i) {
    if (i >= sealed.size()) throw CorruptCheckpoint(name, i, "file ends inside the LREPCKPT magic");
    if (sealed[i] != kMagic[i]) throw CorruptCheckpoint(name, i, "not a labelrep checkpoint (magic LREPCKPT missing)");
  }
  if (sealed.size() < kEnvelopeHeaderSize)
    throw CorruptCheckpoint(name, sealed.size(), fmt::format("file ends inside the {}-byte header", kEnvelopeHeaderSize));
  const auto version = get_le(sealed, 8, 4);
  if (version != kVersion) throw CorruptCheckpoint(name, 8, fmt::format("unsupported checkpoint version {}", version));
  const auto length = get_le(sealed, 12, 8);
  const std::uint64_t present = sealed.size() - kEnvelopeHeaderSize;
  if (length != present)
    throw CorruptCheckpoint(name, length < present ? kEnvelopeHeaderSize + length : sealed.size(),
                            fmt::format("payload length says {} bytes, the file has {}", length, present));
  std::string payload = sealed.substr(kEnvelopeHeaderSize);
  const auto digest = detail::sha256(payload.data(), payload.size());
  if (std::memcmp(digest.data(), sealed.data() + 20, 32) != 0)
    throw CorruptCheckpoint(name, 20, "SHA-256 of the payload does not match: the file is damaged");
  return payload;
}

}  // namespace labelrep
