#pragma once
// Helpers shared by the tests: a scratch directory removed at the end, file writers, shared/ paths.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <sys/wait.h>

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

struct CommandResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs a shell command and captures its output and exit code.
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// The labelrep command-line program built with the tests.
inline std::string cli_path() {
#ifdef LABELREP_CLI_PATH
  return LABELREP_CLI_PATH;
#else
  return {};
#endif
}

/// Checks that `call` throws `E` with `fragment` in its message (include after catch.hpp).
template <typename E, typename F>
void check_throws_with(F&& call, const std::string& fragment) {
  try {
    call();
    CATCH_FAIL("no exception; expected one saying: " + fragment);
  } catch (const E& e) {
    CATCH_INFO("message: " << e.what());
    CATCH_CHECK(std::string(e.what()).find(fragment) != std::string::npos);
  }
}

/// The CLI path for a test that runs it; fails the test when the build has no CLI (include after catch.hpp).
inline std::string cli() {
  const std::string path = cli_path();
  CATCH_REQUIRE_FALSE(path.empty());  // built with LABELREP_BUILD_TOOLS
  return path;
}

}  // namespace labelrep_test
