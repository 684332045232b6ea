#pragma once
/// \file loaders.hpp  Fashion-MNIST (IDX, gzip), CIFAR-10 and CIFAR-100 (binary version) readers.
///
/// Every reader checks sizes against the bytes present before allocating and either returns a
/// complete dataset or throws: FormatError naming the file and byte offset (for .gz files the offset is
/// in the decompressed stream for structure errors and in the compressed file for gzip errors), or
/// IoError naming the path looked at and how to get the data.

#include <string>
#include <torch/types.h>

#include "labelrep/data/dataset.hpp"
#include "labelrep/export.hpp"

namespace labelrep::data {

/// Where Debian's `dataset-fashion-mnist` package installs the data.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Reads an IDX file (magic 0x00 0x00 0x08 D: unsigned bytes in D dimensions, e.g. 0x00000803 = 2051 for images
/// and 0x00000801 = 2049 for labels; then D big-endian uint32 sizes), raw or gzip-compressed (by the
/// gzip magic, not the name). Supports unsigned byte data (type 0x08) of 1 to 4 dimensions.
/// Returns a uint8 tensor of the declared dims.
LABELREP_API torch::Tensor read_idx(const std::string& path);

/// read_idx() on the bytes of an IDX file (raw or gzip) held in memory; `name` stands for the path in
/// error messages. Memory use is bounded by the bytes present (raw) or really inflated (gzip), not by
/// the declared dimensions.
LABELREP_API torch::Tensor decode_idx(const std::string& bytes, const std::string& name);

/// The two CIFAR binary layouts: a record is 1 label byte (CIFAR-10, < 10) or 2 (CIFAR-100: coarse
/// < 20, fine < 100), then 3,072 pixel bytes.
enum class CifarVariant { kCifar10, kCifar100 };

/// The records of one CIFAR binary file: images `[N, 3, 32, 32]` uint8, labels `[N, 1]` (CIFAR-10) or
/// `[N, 2]` (CIFAR-100: coarse, fine) int64.
struct LABELREP_API CifarBatch {
  torch::Tensor images;
  torch::Tensor labels;
};

/// Parses the bytes of a CIFAR binary file (e.g. data_batch_1.bin) held in memory; `name` stands for
/// the path in error messages. Throws FormatError (name, byte offset) for a size that is not a
/// positive multiple of the record or a label out of range.
LABELREP_API CifarBatch decode_cifar(const std::string& bytes, const std::string& name, CifarVariant variant);

/// Fashion-MNIST from `dir` (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-...): images
/// `[N, 1, 28, 28]`, labels checked to be < 10 and as many as the images.
LABELREP_API ImageDataset load_fashion_mnist(const std::string& dir = kFashionMnistDir, Split split = Split::kTrain);

/// CIFAR-10 binary version from `dir` (data_batch_1.bin … data_batch_5.bin, test_batch.bin, as in
/// cifar-10-binary.tar.gz): `[N, 3, 32, 32]`.
LABELREP_API ImageDataset load_cifar10(const std::string& dir, Split split = Split::kTrain);

/// CIFAR-100 binary version from `dir` (train.bin, test.bin): fine labels (100 classes) or coarse (20).
LABELREP_API ImageDataset load_cifar100(const std::string& dir, Split split = Split::kTrain, bool coarse = false);

/// By name: "fashion-mnist" (dir defaults to kFashionMnistDir when empty), "cifar10", "cifar100",
/// "cifar100-coarse".
/// Throws InvalidArgument for other names or a missing dir for CIFAR.
LABELREP_API ImageDataset load_dataset(const std::string& name, const std::string& dir, Split split);

}  // namespace labelrep::data
