#pragma once
/// \file npy.hpp  NumPy .npy files, read and written interoperably with numpy.load / numpy.save.
///
/// Read: format versions 1.0, 2.0 and 3.0; dtypes float32, float64, int32, int64 (little or big
/// endian), uint8 and bool; C or Fortran order. The result is always a C-contiguous CPU tensor in
/// native byte order. Object dtypes and pickles are refused: a .npy from the internet cannot run code.
/// Write: version 1.0 (2.0 when the header needs it), little endian, C order, 64-byte aligned data.
///
/// Example:
/// \code
///   torch::Tensor labels = labelrep::read_npy("cifar10_speech.npy");   // [10, 64, 64] float32
///   labelrep::write_npy("copy.npy", labels);                           // atomic
/// \endcode

#include <string>
#include <torch/types.h>

#include "labelrep/export.hpp"

namespace labelrep {

/// Reads a .npy file. Throws IoError if it cannot be read; FormatError naming the file and the byte
/// offset for a bad magic string, unsupported version, malformed or oversized (>10,000 bytes) header,
/// missing or extra keys, unsupported dtype, shape whose byte size overflows, or data that is shorter
/// or longer than the shape says. Never allocates more than the file holds.
LABELREP_API torch::Tensor read_npy(const std::string& path);

/// Parses .npy bytes held in memory; `name` is used in error messages in place of a path.
LABELREP_API torch::Tensor decode_npy(const std::string& bytes, const std::string& name);

/// Serialises a tensor (any device; float32, float64, int32, int64, uint8, bool; at most 32
/// dimensions, numpy's limit) to .npy bytes. Throws InvalidArgument for other dtypes or more dimensions.
LABELREP_API std::string encode_npy(const torch::Tensor& tensor);

/// Writes a tensor as a .npy file atomically (see write_file_atomically). Throws InvalidArgument for
/// unsupported dtypes and IoError if the file cannot be written.
LABELREP_API void write_npy(const std::string& path, const torch::Tensor& tensor);

}  // namespace labelrep
