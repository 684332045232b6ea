#pragma once
// Helpers shared by the tests: a scratch directory removed at the end, file writers, shared/ paths.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace labelrep_test {

/// A fresh directory under the system temp dir, removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("labelrep-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The project's shared/ folder (the paper's golden data), from LABELREP_SHARED_DIR or the default
/// location beside the checkout; empty if absent.
inline std::string shared_dir() {
  if (const char* env = std::getenv("LABELREP_SHARED_DIR")) return env;
#ifdef LABELREP_DEFAULT_SHARED_DIR
  if (std::filesystem::exists(LABELREP_DEFAULT_SHARED_DIR)) return LABELREP_DEFAULT_SHARED_DIR;
#endif
  return {};
}

}  // namespace labelrep_test
