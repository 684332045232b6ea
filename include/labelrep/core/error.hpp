#pragma once
/// \file error.hpp  The exceptions labelrep throws.
///
/// Every public labelrep function reports failure by throwing a subclass of labelrep::Error; the
/// message starts with "labelrep: " and names the file or argument and what was expected.
/// Example:
/// \code
///   try { auto t = labelrep::read_npy("labels.npy"); }
///   catch (const labelrep::FormatError& e) { std::cerr << e.what() << " (offset " << e.offset() << ")\n"; }
/// \endcode

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

#include "labelrep/export.hpp"

namespace labelrep {

/// Base of all labelrep errors.
class LABELREP_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
};

/// A function argument or option is out of its domain (shape, range, dtype, device, name).
class LABELREP_API InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A file could not be opened, read, written, synced or renamed. path() names it.
class LABELREP_API IoError : public Error {
 public:
  IoError(std::string path, const std::string& what);
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

/// A file's bytes do not follow its format. path() names the file; offset() is the byte offset where
/// the problem was found, or kNoOffset when it concerns the file as a whole.
class LABELREP_API FormatError : public Error {
 public:
  static constexpr std::uint64_t kNoOffset = ~std::uint64_t{0};
  FormatError(std::string path, std::uint64_t offset, const std::string& what);
  const std::string& path() const noexcept { return path_; }
  std::uint64_t offset() const noexcept { return offset_; }

 private:
  std::string path_;
  std::uint64_t offset_;
};

/// libtorch reported an error inside a labelrep call; the message is kept.
class LABELREP_API TorchError : public Error {
 public:
  using Error::Error;
};

/// An allocation failed (host or device memory).
class LABELREP_API OutOfMemory : public Error {
 public:
  using Error::Error;
};

/// Something labelrep did not expect (a bug); please report it with the message.
class LABELREP_API InternalError : public Error {
 public:
  using Error::Error;
};

/// The message of `error` without labelrep's "labelrep: " prefix, for re-throwing it inside a message of
/// one's own ("grid: run <id>: <reason>", "--attacks: <reason>") without the prefix appearing twice.
/// Any other exception's what() is returned as it is. Never throws except std::bad_alloc.
LABELREP_API std::string error_reason(const std::exception& error);

}  // namespace labelrep
