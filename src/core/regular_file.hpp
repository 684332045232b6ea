#pragma once
// Private: a regular file opened for reading, the one way read_file and read_npy open what a user names.
#include <cstdint>
#include <string>

namespace labelrep::detail {

/// Opens `path` read-only and requires a regular file. Opened non-blocking, so that a FIFO is refused
/// at once instead of waiting for a writer; pipes, devices and /proc files (sizes of 0, or none)
/// would otherwise read as silent partial results. Throws IoError naming the path (cannot open or
/// stat, a directory, not a regular file). The descriptor closes with the object.
class RegularFile {
 public:
  explicit RegularFile(const std::string& path);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  int fd() const noexcept { return fd_; }
  std::uint64_t size() const noexcept { return size_; }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace labelrep::detail
