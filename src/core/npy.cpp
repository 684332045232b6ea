// .npy reader and writer. The reader treats every file as hostile: the header is parsed by a small
// bounded parser (no eval), every size is checked against the bytes the file really has before any
// allocation, and every failure names the file and the byte offset.
#include "labelrep/core/npy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <vector>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"
#include "core/regular_file.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "labelrep's .npy code assumes a little-endian host");

namespace labelrep {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
// numpy refuses headers above this size without allow_pickle, because its parser is not safe for
// large inputs; labelrep keeps the same bound so that a file cannot make it parse megabytes of text.
constexpr std::size_t kMaxHeaderSize = 10000;

struct DtypeInfo {
  torch::ScalarType type;
  std::size_t item_size;
  bool big_endian;
};

struct Header {
  DtypeInfo dtype;
  std::vector<int64_t> shape;
  bool fortran_order = false;
  std::uint64_t data_offset = 0;
  std::uint64_t data_bytes = 0;
};

// A tiny recursive-descent parser for the Python dict literal of a .npy header.
class HeaderParser {
 public:
  HeaderParser(const std::string& name, const char* text, std::size_t size, std::uint64_t base)
      : name_(name), text_(text), size_(size), base_(base) {}

  Header parse() {
    std::optional<std::string> descr;
    std::optional<bool> fortran;
    std::optional<std::vector<int64_t>> shape;
    std::uint64_t descr_offset = 0;
    skip_space();
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::uint64_t key_offset = offset();
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (descr) fail(key_offset, "duplicate key 'descr'");
        descr_offset = offset();
        if (peek() == '[') fail(offset(), "structured dtypes are not supported (descr is a list)");
        descr = parse_string();
      } else if (key == "fortran_order") {
        if (fortran) fail(key_offset, "duplicate key 'fortran_order'");
        fortran = parse_bool();
      } else if (key == "shape") {
        if (shape) fail(key_offset, "duplicate key 'shape'");
        shape = parse_shape();
      } else {
        fail(key_offset, fmt::format("unexpected key '{}' (expected exactly descr, fortran_order, shape)", key));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail(offset(), "expected ',' or '}' in the header dictionary");
    }
    expect('}');
    skip_space();
    if (pos_ != size_) fail(offset(), "unexpected text after the header dictionary");
    if (!descr) fail(base_, "header has no 'descr' key");
    if (!fortran) fail(base_, "header has no 'fortran_order' key");
    if (!shape) fail(base_, "header has no 'shape' key");
    Header header;
    header.dtype = parse_descr(*descr, descr_offset);
    header.fortran_order = *fortran;
    header.shape = *shape;
    return header;
  }

 private:
  [[noreturn]] void fail(std::uint64_t at, const std::string& what) const { throw FormatError(name_, at, what); }
  std::uint64_t offset() const { return base_ + pos_; }
  char peek() const {
    if (pos_ >= size_) fail(offset(), "header ends too early");
    return text_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(offset(), fmt::format("expected '{}' in the header", c));
    ++pos_;
  }
  void skip_space() {
    while (pos_ < size_ && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) ++pos_;
  }
  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(offset(), "expected a quoted string in the header");
    ++pos_;
    std::string out;
    while (peek() != quote) {
      if (text_[pos_] == '\\') fail(offset(), "escape sequences are not supported in header strings");
      out.push_back(text_[pos_++]);
      if (out.size() > 64) fail(offset(), "header string is too long");
    }
    ++pos_;
    return out;
  }
  bool parse_bool() {
    if (size_ - pos_ >= 4 && std::memcmp(text_ + pos_, "True", 4) == 0) {
      pos_ += 4;
      return true;
    }
    if (size_ - pos_ >= 5 && std::memcmp(text_ + pos_, "False", 5) == 0) {
      pos_ += 5;
      return false;
    }
    fail(offset(), "fortran_order must be True or False");
  }
  std::vector<int64_t> parse_shape() {
    expect('(');
    std::vector<int64_t> dims;
    bool comma_after_last = false;
    while (true) {
      skip_space();
      if (peek() == ')') {
        // Python reads "(12)" as the integer 12, not a tuple, and numpy refuses it; so does labelrep.
        if (dims.size() == 1 && !comma_after_last) fail(offset(), "a one-element shape needs a trailing comma, as in (12,)");
        break;
      }
      const std::uint64_t at = offset();
      if (peek() < '0' || peek() > '9') fail(at, "shape entries must be non-negative integers");
      std::uint64_t value = 0;
      while (pos_ < size_ && text_[pos_] >= '0' && text_[pos_] <= '9') {
        // Checked before multiplying: value * 10 could wrap around 2^64 to a small, valid-looking size.
        const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
        if (value > (static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10)
          fail(at, "shape entry is too large");
        value = value * 10 + digit;
        ++pos_;
      }
      if (pos_ < size_ && text_[pos_] == 'L') ++pos_;  // Python 2 long literal, written by old numpy
      dims.push_back(static_cast<int64_t>(value));
      if (dims.size() > 32) fail(at, "shape has more than 32 dimensions");
      skip_space();
      comma_after_last = peek() == ',';
      if (comma_after_last) {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail(offset(), "expected ',' or ')' in the shape");
    }
    expect(')');
    return dims;
  }
  DtypeInfo parse_descr(const std::string& descr, std::uint64_t at) const {
    if (descr.size() < 2) fail(at, fmt::format("unsupported dtype '{}'", descr));
    const char order = descr[0];
    const std::string code = descr.substr(1);
    if (code == "O" || code.rfind("O", 0) == 0)
      fail(at, "object arrays are refused: they hold Python pickles, which can run code");
    if (order != '<' && order != '>' && order != '|' && order != '=')
      fail(at, fmt::format("unsupported byte-order character in dtype '{}'", descr));
    const bool big = order == '>';
    struct Known { const char* code; torch::ScalarType type; std::size_t size; };
    static const Known known[] = {{"f4", torch::kFloat32, 4}, {"f8", torch::kFloat64, 8},
                                  {"i4", torch::kInt32, 4},   {"i8", torch::kInt64, 8},
                                  {"u1", torch::kUInt8, 1},   {"b1", torch::kBool, 1}};
    for (const auto& k : known) {
      if (code == k.code) {
        if (k.size > 1 && order == '|') fail(at, fmt::format("dtype '{}' needs a byte order", descr));
        return DtypeInfo{k.type, k.size, big};
      }
    }
    fail(at, fmt::format("unsupported dtype '{}' (supported: f4, f8, i4, i8, u1, b1)", descr));
  }

  const std::string& name_;
  const char* text_;
  std::size_t size_;
  std::uint64_t base_;
  std::size_t pos_ = 0;
};

std::uint32_t little_u16(const unsigned char* p) { return p[0] | (p[1] << 8); }
std::uint32_t little_u32(const unsigned char* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

// Parses the preamble and header. `prefix` holds the first bytes of the file (at least the whole
// header when the file has it); `file_size` is the size of the whole file.
Header parse_header(const std::string& name, const std::string& prefix, std::uint64_t file_size) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(prefix.data());
  if (prefix.size() < kMagicSize || std::memcmp(prefix.data(), kMagic, kMagicSize) != 0) {
    std::uint64_t at = 0;
    while (at < std::min<std::uint64_t>(prefix.size(), kMagicSize) &&
           prefix[at] == kMagic[at]) ++at;
    throw FormatError(name, at, at == prefix.size() ? "file ends inside the magic string \\x93NUMPY"
                                                    : "not a .npy file (magic string \\x93NUMPY missing)");
  }
  if (prefix.size() < 8) throw FormatError(name, prefix.size(), "file ends before the format version");
  const unsigned major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    throw FormatError(name, 6, fmt::format("unsupported .npy format version {}.{} (expected 1.0, 2.0 or 3.0)", major, minor));
  const std::size_t length_size = major == 1 ? 2 : 4;
  if (prefix.size() < 8 + length_size)
    throw FormatError(name, prefix.size(), "file ends inside the header length");
  const std::uint64_t header_size = major == 1 ? little_u16(bytes + 8) : little_u32(bytes + 8);
  const std::uint64_t header_start = 8 + length_size;
  if (header_size > kMaxHeaderSize)
    throw FormatError(name, 8, fmt::format("header of {} bytes is larger than the limit of {}", header_size, kMaxHeaderSize));
  if (header_start + header_size > file_size)
    throw FormatError(name, file_size,
                      fmt::format("file ends inside the header ({} bytes declared, {} present)", header_size,
                                  file_size - header_start));
  const char* text = prefix.data() + header_start;
  std::size_t text_size = static_cast<std::size_t>(header_size);
  // numpy ends the header with '\n' and pads with spaces; the parser tolerates any whitespace.
  if (major != 3) {
    for (std::size_t i = 0; i < text_size; ++i)
      if (static_cast<unsigned char>(text[i]) > 127)
        throw FormatError(name, header_start + i, "non-ASCII byte in a version 1/2 header");
  }
  Header header = HeaderParser(name, text, text_size, header_start).parse();
  header.data_offset = header_start + header_size;

  // As numpy does ("array is too big"), the byte size over the non-zero dimensions must fit in int64,
  // even when another dimension is 0: torch would otherwise compute strides that overflow.
  std::int64_t nonzero_bytes = static_cast<std::int64_t>(header.dtype.item_size);
  bool empty = false;
  for (const int64_t d : header.shape) {
    if (d == 0) {
      empty = true;
      continue;
    }
    if (__builtin_mul_overflow(nonzero_bytes, d, &nonzero_bytes))
      throw FormatError(name, header_start, "the shape's byte size overflows a signed 64-bit integer");
  }
  header.data_bytes = empty ? 0 : static_cast<std::uint64_t>(nonzero_bytes);
  const std::uint64_t available = file_size - header.data_offset;
  if (available < header.data_bytes)
    throw FormatError(name, file_size,
                      fmt::format("data is short: the shape needs {} bytes after the header, the file has {}",
                                  header.data_bytes, available));
  if (available > header.data_bytes)
    throw FormatError(name, header.data_offset + header.data_bytes,
                      fmt::format("{} unexpected bytes after the data (shape needs {} bytes)",
                                  available - header.data_bytes, header.data_bytes));
  return header;
}

// Turns raw data in file order into the final C-contiguous native tensor.
torch::Tensor finish(const std::string& name, const Header& header, torch::Tensor raw) {
  if (header.dtype.big_endian && header.dtype.item_size > 1) {
    auto* p = static_cast<unsigned char*>(raw.data_ptr());
    const std::size_t n = static_cast<std::size_t>(raw.numel());
    const std::size_t w = header.dtype.item_size;
    for (std::size_t i = 0; i < n; ++i) std::reverse(p + i * w, p + (i + 1) * w);
  }
  if (header.dtype.type == torch::kBool) {
    const auto* p = static_cast<const unsigned char*>(raw.data_ptr());
    for (int64_t i = 0; i < raw.numel(); ++i)
      if (p[i] > 1)
        throw FormatError(name, header.data_offset + static_cast<std::uint64_t>(i),
                          fmt::format("bool element has byte value {} (expected 0 or 1)", p[i]));
  }
  if (header.fortran_order && header.shape.size() > 1) {
    std::vector<int64_t> order(header.shape.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(order.size() - 1 - i);
    raw = raw.permute(order).contiguous();
  }
  return raw;
}

torch::Tensor allocate_for(const Header& header) {
  std::vector<int64_t> file_shape = header.shape;
  if (header.fortran_order) std::reverse(file_shape.begin(), file_shape.end());
  return torch::empty(file_shape, torch::TensorOptions().dtype(header.dtype.type));
}

std::string descr_for(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return "<f4";
    case torch::kFloat64: return "<f8";
    case torch::kInt32: return "<i4";
    case torch::kInt64: return "<i8";
    case torch::kUInt8: return "|u1";
    case torch::kBool: return "|b1";
    default:
      throw InvalidArgument(fmt::format("cannot write dtype {} to .npy (supported: float32, float64, int32, int64, uint8, bool)",
                                        c10::toString(type)));
  }
}

}  // namespace

torch::Tensor decode_npy(const std::string& bytes, const std::string& name) try {
  const Header header = parse_header(name, bytes, bytes.size());
  torch::Tensor raw = allocate_for(header);
  if (header.data_bytes > 0) std::memcpy(raw.data_ptr(), bytes.data() + header.data_offset, header.data_bytes);
  return finish(name, header, std::move(raw));
} catch (...) {
  detail::rethrow_as_labelrep_error(fmt::format("decode_npy({})", name));
}

torch::Tensor read_npy(const std::string& path) try {
  const detail::RegularFile file(path);
  const int fd = file.fd();
  const std::uint64_t file_size = file.size();

  auto read_exactly = [&](void* destination, std::uint64_t count, std::uint64_t at) {
    auto* out = static_cast<char*>(destination);
    std::uint64_t got = 0;
    while (got < count) {
      const ssize_t n = ::pread(fd, out + got, static_cast<std::size_t>(std::min<std::uint64_t>(count - got, 1u << 30)),
                                static_cast<off_t>(at + got));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw IoError(path, std::string("read failed: ") + std::strerror(errno));
      }
      if (n == 0) throw FormatError(path, at + got, "file ended while reading (did it change?)");
      got += static_cast<std::uint64_t>(n);
    }
  };
  // The header is at most 12 + kMaxHeaderSize bytes; read just that much first.
  std::string prefix(static_cast<std::size_t>(std::min<std::uint64_t>(file_size, 12 + kMaxHeaderSize)), '\0');
  read_exactly(prefix.data(), prefix.size(), 0);
  const Header header = parse_header(path, prefix, file_size);
  torch::Tensor raw = allocate_for(header);
  read_exactly(raw.data_ptr(), header.data_bytes, header.data_offset);
  return finish(path, header, std::move(raw));
} catch (...) {
  detail::rethrow_as_labelrep_error(fmt::format("read_npy({})", path));
}

std::string encode_npy(const torch::Tensor& tensor) try {
  if (!tensor.defined()) throw InvalidArgument("encode_npy: tensor is undefined");
  if (tensor.layout() != torch::kStrided)
    throw InvalidArgument(fmt::format("encode_npy: a {} tensor has no .npy form; convert it to a dense one (to_dense())",
                                      c10::str(tensor.layout())));
  const std::string descr = descr_for(tensor.scalar_type());
  // numpy 1.x (NPY_MAXDIMS) and read_npy stop at 32 dimensions: never write a file they cannot read.
  if (tensor.dim() > 32)
    throw InvalidArgument(fmt::format("encode_npy: tensor has {} dimensions; .npy files hold at most 32", tensor.dim()));
  const torch::Tensor data = tensor.detach().to(torch::kCPU).contiguous();
  std::string shape = "(";
  for (std::size_t i = 0; i < static_cast<std::size_t>(data.dim()); ++i)
    shape += fmt::format("{}{}", data.size(static_cast<int64_t>(i)), data.dim() == 1 ? "," : (i + 1 < static_cast<std::size_t>(data.dim()) ? ", " : ""));
  shape += ")";
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // Pad with spaces and end with '\n' so that the data starts on a 64-byte boundary (numpy >= 1.14).
  // Version 1.0 has a 2-byte header length: the *padded* length must fit, else use version 2.0.
  auto padded_header_size = [&](std::size_t preamble) {
    return (preamble + dict.size() + 1 + 63) / 64 * 64 - preamble;
  };
  const bool v2 = padded_header_size(10) > 65535;
  const std::size_t preamble = v2 ? 12 : 10;
  const std::size_t header_size = padded_header_size(preamble);
  dict.append(header_size - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out;
  const std::size_t nbytes = static_cast<std::size_t>(data.numel()) * data.element_size();
  out.reserve(preamble + header_size + nbytes);
  out.append(kMagic, kMagicSize);
  out.push_back(static_cast<char>(v2 ? 2 : 1));
  out.push_back(0);
  out.push_back(static_cast<char>(header_size & 0xff));
  out.push_back(static_cast<char>((header_size >> 8) & 0xff));
  if (v2) {
    out.push_back(static_cast<char>((header_size >> 16) & 0xff));
    out.push_back(static_cast<char>((header_size >> 24) & 0xff));
  }
  out += dict;
  out.append(static_cast<const char*>(data.data_ptr()), nbytes);
  return out;
} catch (...) {
  detail::rethrow_as_labelrep_error("encode_npy");
}

void write_npy(const std::string& path, const torch::Tensor& tensor) try {
  write_file_atomically(path, encode_npy(tensor));
} catch (...) {
  detail::rethrow_as_labelrep_error(fmt::format("write_npy({})", path));
}

}  // namespace labelrep
