// Dataset file readers. Files come from anywhere, so every size is checked against the bytes present
// before anything is allocated, and a file is either read completely or rejected.
#include "labelrep/data/loaders.hpp"

#include <zlib.h>

#include <cstring>
#include <fmt/ranges.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep::data {
namespace {

namespace fs = std::filesystem;

// A gzip stream that is inflated on demand, so that the IDX header can be checked before the
// payload is allocated. Offsets in errors about the gzip layer are compressed-file offsets.
class GzipReader {
 public:
  GzipReader(const std::string& path, const std::string& compressed) : path_(path), compressed_(compressed) {
    std::memset(&stream_, 0, sizeof stream_);
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) throw OutOfMemory(path + ": cannot initialise zlib");
    refill();
  }
  ~GzipReader() { inflateEnd(&stream_); }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Fills `out` completely or throws; `what` names the part being read for the message.
  void read(void* out, std::size_t size, std::uint64_t decompressed_offset, const char* what) {
    stream_.next_out = static_cast<Bytef*>(out);
    std::size_t remaining = size;
    while (remaining > 0) {
      refill();
      const auto chunk = static_cast<uInt>(std::min<std::size_t>(remaining, 1u << 30));
      stream_.avail_out = chunk;
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      remaining -= chunk - stream_.avail_out;
      if (rc == Z_STREAM_END) {
        if (next_member()) continue;
        if (remaining > 0) {
          throw FormatError(path_, decompressed_offset + size - remaining,
                            fmt::format("decompressed data ends inside the {} ({} of {} bytes missing)", what, remaining, size));
        }
        ended_ = true;
        break;
      }
      if (rc == Z_BUF_ERROR && stream_.avail_in == 0 && fed_ == compressed_.size())
        throw FormatError(path_, compressed_.size(), fmt::format("gzip stream is truncated (in the {})", what));
      if (rc == Z_BUF_ERROR && stream_.avail_in == 0) continue;  // the next piece of input
      if (rc != Z_OK)
        throw FormatError(path_, compressed_offset(),
                          fmt::format("gzip data is corrupt: {}", stream_.msg != nullptr ? stream_.msg : "zlib error"));
    }
  }
  // After the payload: the stream (every member of it) must end here, with nothing left over.
  void expect_end(std::uint64_t decompressed_offset) {
    unsigned char extra = 0;
    while (!ended_) {
      refill();
      stream_.next_out = &extra;
      stream_.avail_out = 1;
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      // Any byte out is one too many, also when zlib reached the end of the stream in the same call
      // (exactly one extra byte gives Z_STREAM_END, not Z_OK).
      if ((rc == Z_OK || rc == Z_STREAM_END) && stream_.avail_out == 0)
        throw FormatError(path_, decompressed_offset, "more data than the IDX dimensions declare");
      if (rc == Z_STREAM_END) {
        if (!next_member()) ended_ = true;
        continue;
      }
      if (rc == Z_BUF_ERROR && stream_.avail_in == 0 && fed_ == compressed_.size())
        throw FormatError(path_, compressed_.size(), "gzip stream is truncated (its end marker and checksum are missing)");
      if (rc == Z_BUF_ERROR && stream_.avail_in == 0) continue;  // the next piece of input
      if (rc != Z_OK)
        throw FormatError(path_, compressed_offset(), fmt::format("gzip data is corrupt: {}", stream_.msg != nullptr ? stream_.msg : "zlib error"));
      // Z_OK without output: zlib read the trailer or the next member's header; go on.
    }
  }

 private:
  // zlib counts input in 32-bit units: hand it the file in pieces of at most 1 GiB.
  void refill() {
    if (stream_.avail_in > 0 || fed_ >= compressed_.size()) return;
    const std::size_t piece = std::min<std::size_t>(compressed_.size() - fed_, std::size_t{1} << 30);
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed_.data() + fed_));
    stream_.avail_in = static_cast<uInt>(piece);
    fed_ += piece;
  }
  std::uint64_t compressed_offset() const { return fed_ - stream_.avail_in; }
  // At the end of a gzip member: a file may hold several (`cat a.gz b.gz`, pigz, bgzip), which gzip
  // reads as one stream; so does this. Returns false at the end of the file; bytes after a member that
  // do not start another one are refused, never ignored.
  bool next_member() {
    const std::uint64_t at = compressed_offset();
    if (at == compressed_.size()) return false;
    const auto byte = [&](std::uint64_t i) { return static_cast<unsigned char>(compressed_[static_cast<std::size_t>(i)]); };
    if (compressed_.size() - at < 2 || byte(at) != 0x1f || byte(at + 1) != 0x8b)
      throw FormatError(path_, at, "unexpected bytes after the gzip stream (neither the end of the file nor another gzip member)");
    if (inflateReset(&stream_) != Z_OK) throw FormatError(path_, at, "cannot restart zlib for the next gzip member");
    return true;
  }
  std::size_t fed_ = 0;
  std::string path_;
  const std::string& compressed_;
  z_stream stream_;
  bool ended_ = false;
};

std::uint32_t big_endian(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// IDX: 4-byte magic (0, 0, type, dims), then `dims` big-endian uint32 sizes, then the data.
// `read_header` fills a buffer or throws; `read_data(shape, count, at)` returns the data tensor.
template <typename ReadFn, typename DataFn>
torch::Tensor parse_idx(const std::string& path, std::uint64_t size_bound, ReadFn&& read_header, DataFn&& read_data) {
  unsigned char magic[4];
  read_header(magic, 4, 0, "IDX magic number");
  if (magic[0] != 0 || magic[1] != 0) throw FormatError(path, 0, "not an IDX file (magic number must start with two zero bytes)");
  if (magic[2] != 0x08)
    throw FormatError(path, 2, fmt::format("IDX data type 0x{:02x} is not supported (only unsigned bytes, 0x08)", magic[2]));
  const int dims = magic[3];
  if (dims < 1 || dims > 4) throw FormatError(path, 3, fmt::format("IDX has {} dimensions (expected 1 to 4)", dims));
  std::vector<unsigned char> header(static_cast<std::size_t>(4 * dims));
  read_header(header.data(), header.size(), 4, "IDX dimensions");
  std::vector<std::int64_t> shape;
  // As for .npy: the product of the non-zero sizes must fit in int64 even when another size is 0,
  // or torch's strides would overflow.
  std::int64_t nonzero = 1;
  bool empty = false;
  for (int d = 0; d < dims; ++d) {
    const std::uint32_t n = big_endian(header.data() + 4 * d);
    shape.push_back(static_cast<std::int64_t>(n));
    if (n == 0) empty = true;
    else if (__builtin_mul_overflow(nonzero, static_cast<std::int64_t>(n), &nonzero))
      throw FormatError(path, 4 + 4 * static_cast<std::uint64_t>(d), "IDX dimensions overflow");
  }
  const std::uint64_t count = empty ? 0 : static_cast<std::uint64_t>(nonzero);
  if (count > size_bound)
    throw FormatError(path, 4, fmt::format("IDX dimensions declare {} bytes of data, more than the file can hold ({})", count, size_bound));
  return read_data(shape, count, 4 + 4 * static_cast<std::uint64_t>(dims));
}

std::string missing_dataset_advice(const std::string& name) {
  if (name == "fashion-mnist") return "install it with `apt-get install dataset-fashion-mnist` (Debian) or pass the directory holding the four .gz files";
  if (name == "cifar10")
    return "download the binary version, cifar-10-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html and pass the "
           "extracted cifar-10-batches-bin directory";
  return "download the binary version, cifar-100-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html and pass the "
         "extracted cifar-100-binary directory";
}

// Checks that every expected file exists before reading any, and names them all when one is missing.
void require_files(const std::vector<std::string>& paths, const std::string& dataset) {
  std::vector<std::string> missing;
  // The error_code forms: a path the file system refuses (too long, no permission) is an IoError naming it.
  const auto regular = [](const fs::path& p) {
    std::error_code ec;
    const bool is = fs::is_regular_file(p, ec);
    if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) throw IoError(p.string(), ec.message());
    return is;
  };
  const auto exists = [](const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec);
  };
  for (const auto& p : paths)
    if (!regular(p)) missing.push_back(p);
  if (missing.empty()) return;
  const fs::path dir = fs::path(paths.front()).parent_path();
  std::string hint;
  // The python-pickle version has files without the .bin suffix: say what we need instead.
  if (exists(dir / "data_batch_1") || exists(dir / "train") || exists(dir / "batches.meta"))
    hint = " This directory holds the python-pickle version; labelrep reads the binary version.";
  std::vector<std::string> names;
  for (const auto& p : paths) names.push_back(fs::path(p).filename().string());
  throw IoError(missing.front(), fmt::format("{} file not found (expected in {}: {}).{} To get it: {}", dataset, dir.string(),
                                             fmt::join(names, ", "), hint, missing_dataset_advice(dataset)));
}

// The [rows, cols] an IDX image file (3 dimensions) declares, from the first bytes of the file alone (a
// few inflated for gzip). Empty when they cannot be read as such: that file's own loading reports why.
std::optional<std::pair<std::uint32_t, std::uint32_t>> idx_image_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(64 * 1024, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  unsigned char header[16];
  try {
    if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f && static_cast<unsigned char>(head[1]) == 0x8b) {
      GzipReader gzip(path, head);
      gzip.read(header, sizeof header, 0, "IDX header");
    } else {
      if (head.size() < sizeof header) return std::nullopt;
      std::memcpy(header, head.data(), sizeof header);
    }
  } catch (const FormatError&) {
    return std::nullopt;
  }
  if (header[0] != 0 || header[1] != 0 || header[2] != 0x08 || header[3] != 3) return std::nullopt;
  return std::make_pair(big_endian(header + 8), big_endian(header + 12));
}

// Reads a CIFAR file and appends its images and the targets of label byte `use`.
void read_cifar_file(const std::string& path, CifarVariant variant, std::size_t use, std::vector<torch::Tensor>& images,
                     std::vector<torch::Tensor>& targets) {
  const CifarBatch batch = decode_cifar(read_file(path), path, variant);
  images.push_back(batch.images);
  targets.push_back(batch.labels.select(1, static_cast<std::int64_t>(use)).contiguous());
}

}  // namespace

torch::Tensor read_idx(const std::string& path) try {
  return decode_idx(read_file(path), path);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error(fmt::format("read_idx({})", path));
}

torch::Tensor decode_idx(const std::string& bytes, const std::string& path) try {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f && static_cast<unsigned char>(bytes[1]) == 0x8b) {
    GzipReader gzip(path, bytes);
    // deflate cannot expand data by more than ~1032:1, so a larger declared size is a lie (or a bomb).
    const std::uint64_t bound = static_cast<std::uint64_t>(bytes.size()) * 1032;
    std::uint64_t end = 0;
    auto read_header = [&](void* out, std::size_t n, std::uint64_t at, const char* what) {
      gzip.read(out, n, at, what);
      end = at + n;
    };
    // The payload is allocated as it is inflated (growing geometrically), never from the declared
    // dimensions alone: a small file that declares a large image set fails after using about as much
    // memory as it really decompresses to.
    auto read_data = [&](const std::vector<std::int64_t>& shape, std::uint64_t count, std::uint64_t at) {
      auto payload = std::make_unique<std::string>();
      std::uint64_t filled = 0;
      while (filled < count) {
        const std::uint64_t target = std::min<std::uint64_t>(count, std::max<std::uint64_t>(filled * 2, std::uint64_t{1} << 20));
        payload->resize(static_cast<std::size_t>(target));
        gzip.read(payload->data() + filled, static_cast<std::size_t>(target - filled), at + filled, "IDX data");
        filled = target;
      }
      end = at + count;
      std::string* owned = payload.release();
      return torch::from_blob(owned->data(), shape, [owned](void*) { delete owned; }, torch::kUInt8);
    };
    auto tensor = parse_idx(path, bound, read_header, read_data);
    gzip.expect_end(end);
    return tensor;
  }
  auto read_header = [&](void* out, std::size_t n, std::uint64_t at, const char* what) {
    if (at + n > bytes.size())
      throw FormatError(path, bytes.size(), fmt::format("file ends inside the {} ({} bytes needed, {} present)", what, n, bytes.size() - at));
    std::memcpy(out, bytes.data() + at, n);
  };
  auto read_data = [&](const std::vector<std::int64_t>& shape, std::uint64_t count, std::uint64_t at) {
    if (at + count > bytes.size())
      throw FormatError(path, bytes.size(), fmt::format("file ends inside the IDX data ({} bytes needed, {} present)", count, bytes.size() - at));
    auto out = torch::empty(shape, torch::kUInt8);
    if (count > 0) std::memcpy(out.data_ptr(), bytes.data() + at, static_cast<std::size_t>(count));
    return out;
  };
  auto tensor = parse_idx(path, bytes.size(), read_header, read_data);
  const std::uint64_t used = 4 + 4 * static_cast<std::uint64_t>(tensor.dim()) + static_cast<std::uint64_t>(tensor.numel());
  if (used != bytes.size()) throw FormatError(path, used, fmt::format("{} unexpected bytes after the IDX data", bytes.size() - used));
  return tensor;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("decode_idx");
}

CifarBatch decode_cifar(const std::string& bytes, const std::string& path, CifarVariant variant) try {
  // Record: the label bytes (CIFAR-100: coarse, fine), each below its class count, then 3×32×32 pixels
  // (R, G, B planes, rows top to bottom).
  const std::vector<unsigned> ranges = variant == CifarVariant::kCifar10 ? std::vector<unsigned>{10} : std::vector<unsigned>{20, 100};
  const std::size_t label_bytes = ranges.size();
  const std::size_t record = label_bytes + 3072;
  const std::size_t size = bytes.size();
  if (size == 0 || size % record != 0)
    throw FormatError(path, size - size % record,
                      fmt::format("file size {} is not a positive multiple of the {}-byte CIFAR record", size, record));
  const std::size_t n = size / record;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t b = 0; b < label_bytes; ++b)
      if (p[i * record + b] >= ranges[b])
        throw FormatError(path, i * record + b, fmt::format("label {} of record {} is out of range [0, {})", p[i * record + b], i, ranges[b]));
  CifarBatch batch;
  const auto count = static_cast<std::int64_t>(n);
  batch.images = torch::empty({count, 3, 32, 32}, torch::kUInt8);
  batch.labels = torch::empty({count, static_cast<std::int64_t>(label_bytes)}, torch::kLong);
  auto* pixels = batch.images.data_ptr<std::uint8_t>();
  auto* labels = batch.labels.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t b = 0; b < label_bytes; ++b) labels[i * label_bytes + b] = p[i * record + b];
    std::memcpy(pixels + i * 3072, p + i * record + label_bytes, 3072);
  }
  return batch;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("decode_cifar");
}

ImageDataset load_fashion_mnist(const std::string& dir, Split split) try {
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  const std::string image_path = (fs::path(dir) / (prefix + "-images-idx3-ubyte.gz")).string();
  const std::string label_path = (fs::path(dir) / (prefix + "-labels-idx1-ubyte.gz")).string();
  require_files({image_path, label_path}, "fashion-mnist");
  auto images = read_idx(image_path);
  auto labels = read_idx(label_path);
  if (images.dim() != 3) throw FormatError(image_path, 3, fmt::format("image file has {} dimensions, expected 3 (N, rows, cols)", images.dim()));
  if (labels.dim() != 1) throw FormatError(label_path, 3, fmt::format("label file has {} dimensions, expected 1", labels.dim()));
  if (images.size(0) == 0) throw FormatError(image_path, 4, "the image file holds no images");
  if (images.size(1) == 0 || images.size(2) == 0)
    throw FormatError(image_path, images.size(1) == 0 ? 8 : 12, fmt::format("the images are {}x{} pixels", images.size(1), images.size(2)));
  // A test set of another image size than the training set would be evaluated without a word (the CIFAR
  // encoders pool globally): it is refused here, from the training file's header.
  if (split == Split::kTest) {
    const std::string train_path = (fs::path(dir) / "train-images-idx3-ubyte.gz").string();
    const auto train_size = idx_image_size(train_path);
    if (train_size && (std::int64_t{train_size->first} != images.size(1) || std::int64_t{train_size->second} != images.size(2)))
      throw FormatError(image_path, 8, fmt::format("the test images are {}x{} but the training images ({}) are {}x{}", images.size(1),
                                                   images.size(2), train_path, train_size->first, train_size->second));
  }
  if (labels.size(0) != images.size(0))
    throw FormatError(label_path, 4, fmt::format("{} labels for {} images in {}", labels.size(0), images.size(0), image_path));
  const auto too_big = ((labels < 0) | (labels >= 10)).nonzero();
  if (too_big.numel() > 0) {
    const auto i = too_big[0][0].item<std::int64_t>();
    throw FormatError(label_path, static_cast<std::uint64_t>(8 + i),
                      fmt::format("label {} of image {} is out of range [0, 10)", labels[i].item<int>(), i));
  }
  return ImageDataset(images.unsqueeze(1), labels.to(torch::kLong), dataset_class_names("fashion-mnist"), "fashion-mnist");
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("load_fashion_mnist");
}

ImageDataset load_cifar10(const std::string& dir, Split split) try {
  std::vector<std::string> files;
  if (split == Split::kTrain) {
    for (int i = 1; i <= 5; ++i) files.push_back((fs::path(dir) / fmt::format("data_batch_{}.bin", i)).string());
  } else {
    files.push_back((fs::path(dir) / "test_batch.bin").string());
  }
  require_files(files, "cifar10");
  std::vector<torch::Tensor> images, targets;
  for (const auto& f : files) read_cifar_file(f, CifarVariant::kCifar10, 0, images, targets);
  return ImageDataset(torch::cat(images), torch::cat(targets), dataset_class_names("cifar10"), "cifar10");
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("load_cifar10");
}

ImageDataset load_cifar100(const std::string& dir, Split split, bool coarse) try {
  const std::string file = (fs::path(dir) / (split == Split::kTrain ? "train.bin" : "test.bin")).string();
  require_files({file}, "cifar100");
  std::vector<torch::Tensor> images, targets;
  read_cifar_file(file, CifarVariant::kCifar100, coarse ? 0 : 1, images, targets);  // labels: coarse, fine
  return coarse ? ImageDataset(images[0], targets[0], dataset_class_names("cifar100-coarse"), "cifar100-coarse")
                : ImageDataset(images[0], targets[0], dataset_class_names("cifar100"), "cifar100");
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("load_cifar100");
}

ImageDataset load_dataset(const std::string& name, const std::string& dir, Split split) try {
  if (name == "fashion-mnist") return load_fashion_mnist(dir.empty() ? kFashionMnistDir : dir, split);
  if (name == "cifar10" || name == "cifar100" || name == "cifar100-coarse") {
    if (dir.empty())
      throw InvalidArgument(fmt::format("dataset {} needs its directory: {}", name, missing_dataset_advice(name == "cifar10" ? name : "cifar100")));
    if (name == "cifar10") return load_cifar10(dir, split);
    return load_cifar100(dir, split, name == "cifar100-coarse");
  }
  throw InvalidArgument(fmt::format("unknown dataset '{}' (known: fashion-mnist, cifar10, cifar100, cifar100-coarse)", name));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("load_dataset");
}

}  // namespace labelrep::data
