#include "labelrep/core/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include "core/fault_injection.hpp"
#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"
#include "core/regular_file.hpp"

namespace labelrep {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string parent_directory(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// Closes the descriptor and removes the temporary file unless committed. Errors name the destination,
// the path the caller asked for, and mention the temporary file in the message.
class TemporaryFile {
 public:
  // Creates `<destination>.tmp.<pid>.<n>` with a name nobody holds: O_EXCL never opens (or truncates
  // through a symbolic link) a file that is already there, whether another thread of this process
  // writes the same destination or a dead process with a recycled pid left one.
  explicit TemporaryFile(std::string destination) : destination_(std::move(destination)) {
    static std::atomic<unsigned> next_number{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
      path_ = fmt::format("{}.tmp.{}.{}", destination_, ::getpid(), next_number.fetch_add(1));
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd_ >= 0 || errno != EEXIST) break;
    }
    if (fd_ < 0) throw IoError(destination_, fmt::format("cannot create temporary file {}: {}", path_, errno_text()));
  }
  const std::string& path() const noexcept { return path_; }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  void close_or_throw() {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw IoError(destination_, fmt::format("close of {} failed: {}", path_, errno_text()));
  }
  void mark_committed() { committed_ = true; }

 private:
  std::string path_;
  std::string destination_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  if (path.empty()) throw InvalidArgument("output path is empty");
  TemporaryFile file(path);
  // The crash-safety tests stop the process at each step below (core/fault_injection.hpp).
  const auto cut = detail::mid_write_cut(bytes.size());
  const std::size_t to_write = cut ? *cut : bytes.size();
  std::size_t written = 0;
  while (written < to_write) {
    const ssize_t n = ::write(file.fd(), bytes.data() + written, to_write - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(path, fmt::format("write failed after {} of {} bytes: {}", written, bytes.size(),
                                      errno_text()));
    }
    written += static_cast<std::size_t>(n);
  }
  if (cut) detail::end_process_for_fault();
  detail::reach_fault_point(detail::FaultPoint::kBeforeFsync);
  if (::fsync(file.fd()) != 0) throw IoError(path, "fsync failed: " + errno_text());
  file.close_or_throw();
  detail::reach_fault_point(detail::FaultPoint::kAfterFsync);
  if (::rename(file.path().c_str(), path.c_str()) != 0)
    throw IoError(path, "cannot rename the temporary file into place: " + errno_text());
  file.mark_committed();
  detail::reach_fault_point(detail::FaultPoint::kAfterRename);
  // The rename is durable only once the directory entry is on disk.
  const std::string directory = parent_directory(path);
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) throw IoError(directory, "cannot open directory to fsync it: " + errno_text());
  const int rc = ::fsync(dir_fd);
  const int saved_errno = errno;
  ::close(dir_fd);
  if (rc != 0) throw IoError(directory, std::string("directory fsync failed: ") + std::strerror(saved_errno));
  detail::reach_fault_point(detail::FaultPoint::kAfterDirectoryFsync);
}

namespace detail {

RegularFile::RegularFile(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw IoError(path, "cannot open: " + errno_text());
  struct stat info {};
  const auto fail = [&](const std::string& why) {
    ::close(fd_);
    throw IoError(path, why);
  };
  if (::fstat(fd_, &info) != 0) fail("cannot stat: " + errno_text());
  if (S_ISDIR(info.st_mode)) fail("is a directory, expected a file");
  if (!S_ISREG(info.st_mode)) fail("not a regular file");
  size_ = static_cast<std::uint64_t>(info.st_size);
}

RegularFile::~RegularFile() { ::close(fd_); }

}  // namespace detail

std::string read_file(const std::string& path, std::uint64_t max_bytes) try {
  const detail::RegularFile file(path);
  const int fd = file.fd();
  if (file.size() > max_bytes) throw IoError(path, fmt::format("file has {} bytes, more than the limit of {}", file.size(), max_bytes));
  std::string bytes;
  bytes.resize(static_cast<std::size_t>(file.size()));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(path, "read failed: " + errno_text());
    }
    if (n == 0) break;  // the file shrank while we read it
    got += static_cast<std::size_t>(n);
  }
  if (got != bytes.size())
    throw IoError(path, fmt::format("short read: {} of {} bytes (file changed while reading?)", got, bytes.size()));
  return bytes;
} catch (...) {
  detail::rethrow_as_labelrep_error(fmt::format("read_file({})", path));
}

int remove_stale_temporaries(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int removed = 0;
  fs::directory_iterator it(directory, ec);
  if (ec) throw IoError(directory, "cannot list directory: " + ec.message());
  // Iterate with increment(ec): the throwing operator++ would let a std::filesystem_error escape.
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto marker = name.rfind(".tmp.");
    if (marker == std::string::npos) continue;
    // `.tmp.<pid>.<n>` (and `.tmp.<pid>` of earlier versions): the pid is what tells a dead writer.
    std::string pid_text = name.substr(marker + 5);
    if (const auto dot = pid_text.find('.'); dot != std::string::npos) {
      const std::string number = pid_text.substr(dot + 1);
      if (number.empty() || number.size() > 10 || number.find_first_not_of("0123456789") != std::string::npos) continue;
      pid_text.resize(dot);
    }
    // write_file_atomically only makes regular files named with a real pid; anything else is not ours.
    // (A number beyond pid_t would wrap to -1 or another process: kill(-1, 0) asks about every process.)
    if (pid_text.empty() || pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
    const bool alive = pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    if (alive) continue;
    std::error_code remove_ec;
    if (fs::remove(it->path(), remove_ec)) {
      ++removed;
    } else if (remove_ec) {
      throw IoError(it->path().string(), "cannot remove stale temporary file: " + remove_ec.message());
    }
  }
  if (ec) throw IoError(directory, "cannot list directory: " + ec.message());
  return removed;
}

}  // namespace labelrep
