// Crash-safe writes, bounded whole-file reads, and the clean-up of temporaries left by killed writers.
#include "catch.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <atomic>
#include <vector>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "support.hpp"

namespace fs = std::filesystem;

namespace {

std::set<std::string> names_in(const fs::path& directory) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.insert(entry.path().filename().string());
  return names;
}

int temporaries_in(const fs::path& directory) {
  int n = 0;
  for (const auto& name : names_in(directory)) n += name.find(".tmp.") != std::string::npos ? 1 : 0;
  return n;
}

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `write` and returns the IoError it must throw; reports any other outcome as a failure.
template <typename F>
labelrep::IoError expect_io_error(F&& write) {
  try {
    write();
  } catch (const labelrep::IoError& e) {
    return e;
  } catch (const std::exception& e) {
    CATCH_FAIL("expected IoError, got: " << e.what());
  }
  CATCH_FAIL("expected IoError, nothing was thrown");
  return labelrep::IoError("", "unreachable: CATCH_FAIL throws");
}

// Lowers this process's file-size limit and ignores SIGXFSZ, so that a write past the limit fails with
// EFBIG (as on a full disk) instead of killing the process. Restores both when destroyed, before any
// assertion runs.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = saved_;
    lowered.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &lowered) == 0;
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = nullptr;
  bool ok_ = false;
};

// The pid of a process that has exited and been reaped, so kill(pid, 0) fails with ESRCH.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

}  // namespace

CATCH_TEST_CASE("write_file_atomically replaces the content and leaves no temporary file", "[core][atomic]") {
  labelrep_test::TempDir dir;
  const std::string path = dir.file("out.bin");
  labelrep::write_file_atomically(path, "first version, rather long");
  CATCH_CHECK(contents(path) == "first version, rather long");
  // A shorter replacement must not keep the old tail (the file is replaced, not overwritten in place).
  labelrep::write_file_atomically(path, "short");
  CATCH_CHECK(contents(path) == "short");
  const std::string binary("\0\x01\xff\n\r\0end", 9);
  labelrep::write_file_atomically(path, binary);
  CATCH_CHECK(contents(path) == binary);
  labelrep::write_file_atomically(path, "");
  CATCH_CHECK(fs::exists(path));
  CATCH_CHECK(fs::file_size(path) == 0);
  const std::string big(3 << 20, 'z');  // more than one write() may take at once on some systems
  labelrep::write_file_atomically(path, big);
  CATCH_CHECK(contents(path) == big);
  CATCH_CHECK(temporaries_in(dir.path()) == 0);
  CATCH_CHECK(names_in(dir.path()) == std::set<std::string>({"out.bin"}));
  CATCH_CHECK_THROWS_AS(labelrep::write_file_atomically("", "x"), labelrep::InvalidArgument);
}

CATCH_TEST_CASE("write_file_atomically failures throw IoError naming the path and keep the old file", "[core][atomic]") {
  labelrep_test::TempDir dir;

  CATCH_SECTION("missing directory") {
    const std::string path = dir.file("no-such-dir/out.bin");
    const auto e = expect_io_error([&] { labelrep::write_file_atomically(path, "data"); });
    CATCH_CHECK(e.path() == path);
    CATCH_CHECK(std::string(e.what()).rfind("labelrep: " + path, 0) == 0);
    CATCH_CHECK_FALSE(fs::exists(dir.file("no-such-dir")));
  }
  CATCH_SECTION("a parent that is a regular file (unwritable location, even for root)") {
    labelrep_test::write_bytes(dir.file("plain"), "I am a file");
    const std::string path = dir.file("plain/out.bin");
    const auto e = expect_io_error([&] { labelrep::write_file_atomically(path, "data"); });
    CATCH_CHECK(e.path() == path);
    CATCH_CHECK(contents(dir.file("plain")) == "I am a file");
  }
  CATCH_SECTION("the destination is a directory: the rename fails, the temporary is removed") {
    fs::create_directories(dir.file("taken/inner"));
    const std::string path = dir.file("taken");
    const auto e = expect_io_error([&] { labelrep::write_file_atomically(path, "data"); });
    CATCH_CHECK(e.path() == path);
    CATCH_CHECK(fs::is_directory(dir.file("taken/inner")));
    CATCH_CHECK(temporaries_in(dir.path()) == 0);
  }
  CATCH_SECTION("the disk fills up mid-write (file-size limit): the old file stays byte-identical") {
    const std::string path = dir.file("model.ckpt");
    const std::string old_content = "old checkpoint, still valid";
    labelrep::write_file_atomically(path, old_content);
    std::string error_path, error_text;
    bool threw_io_error = false, limit_ok = false;
    {
      FileSizeLimit limit(4096);
      limit_ok = limit.ok();
      try {
        labelrep::write_file_atomically(path, std::string(1 << 20, 'n'));
      } catch (const labelrep::IoError& e) {
        threw_io_error = true;
        error_path = e.path();
        error_text = e.what();
      }
    }
    CATCH_REQUIRE(limit_ok);
    CATCH_INFO(error_text);
    CATCH_CHECK(threw_io_error);
    CATCH_CHECK(error_path == path);
    CATCH_CHECK(contents(path) == old_content);
    CATCH_CHECK(temporaries_in(dir.path()) == 0);
  }
}

CATCH_TEST_CASE("read_file reads whole files up to a limit and names the file in errors", "[core][atomic]") {
  labelrep_test::TempDir dir;
  const std::string path = dir.file("data.bin");
  const std::string bytes("a\0b\xff\n", 5);
  labelrep_test::write_bytes(path, bytes);
  CATCH_CHECK(labelrep::read_file(path) == bytes);
  CATCH_CHECK(labelrep::read_file(path, 5) == bytes);  // the limit is inclusive
  const auto too_big = expect_io_error([&] { labelrep::read_file(path, 4); });
  CATCH_CHECK(too_big.path() == path);
  CATCH_CHECK(std::string(too_big.what()).find("limit") != std::string::npos);

  labelrep_test::write_bytes(dir.file("empty"), "");
  CATCH_CHECK(labelrep::read_file(dir.file("empty"), 0).empty());

  const auto missing = expect_io_error([&] { labelrep::read_file(dir.file("missing")); });
  CATCH_CHECK(missing.path() == dir.file("missing"));
  const auto directory = expect_io_error([&] { labelrep::read_file(dir.path().string()); });
  CATCH_CHECK(directory.path() == dir.path().string());
}

CATCH_TEST_CASE("read_file and read_npy refuse pipes and devices instead of hanging or reading nothing", "[core][atomic]") {
  labelrep_test::TempDir dir;
  const std::string fifo = dir.file("pipe.npy");
  CATCH_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // With no writer, opening a FIFO for reading would wait forever; it must fail at once instead.
  for (const std::string& path : {fifo, std::string("/dev/null")}) {
    CATCH_INFO(path);
    const auto file_error = expect_io_error([&] { labelrep::read_file(path); });
    CATCH_CHECK(file_error.path() == path);
    CATCH_CHECK(std::string(file_error.what()).find("not a regular file") != std::string::npos);
    try {
      labelrep::read_npy(path);
      CATCH_FAIL("read_npy accepted " + path);
    } catch (const labelrep::IoError& e) {
      CATCH_CHECK(e.path() == path);
    }
  }
}

CATCH_TEST_CASE("remove_stale_temporaries removes dead writers' files only", "[core][atomic]") {
  labelrep_test::TempDir dir;
  const std::string dead = std::to_string(dead_pid());
  const std::string alive = std::to_string(::getpid());
  CATCH_REQUIRE(::kill(std::stoi(dead), 0) != 0);
  const std::set<std::string> kept = {
      "labels.npy",                              // a real file
      "labels.npy.tmp." + alive,                 // this process is still writing it
      "labels.npy.tmp." + alive + ".7",          // the same, as named now
      "notes.tmp." + dead + ".txt",              // a pid, but not followed by a write number
      "notes.tmp.txt",                           // not a pid
      "empty.tmp.",                              // no pid at all
      "huge.tmp.99999999999999999999",           // not a pid of this system
      "folder.tmp." + dead,                      // a directory: never made by write_file_atomically
  };
  for (const auto& name : kept) {
    if (name.rfind("folder", 0) == 0) fs::create_directories(dir.file(name + "/inside"));
    else labelrep_test::write_bytes(dir.file(name), "x");
  }
  labelrep_test::write_bytes(dir.file("labels.npy.tmp." + dead), "torn");
  labelrep_test::write_bytes(dir.file("model.ckpt.tmp." + dead), "torn");
  labelrep_test::write_bytes(dir.file("result.json.tmp." + dead + ".12"), "torn");

  CATCH_CHECK(labelrep::remove_stale_temporaries(dir.path().string()) == 3);
  CATCH_CHECK(names_in(dir.path()) == kept);
  CATCH_CHECK(labelrep::remove_stale_temporaries(dir.path().string()) == 0);

  const auto e = expect_io_error([&] { labelrep::remove_stale_temporaries(dir.file("missing")); });
  CATCH_CHECK(e.path() == dir.file("missing"));
}

CATCH_TEST_CASE("concurrent writes of one file never share a temporary or follow a planted link", "[core][atomic]") {
  labelrep_test::TempDir dir;
  const std::string path = dir.file("result.json");
  // The name the old `<path>.tmp.<pid>` scheme used and the first 50 of the new `<path>.tmp.<pid>.<n>`
  // (this process's first writes, when ctest runs this test alone) are links to a file that must not
  // be touched: the writer skips names that exist.
  const std::string victim = dir.file("victim");
  labelrep_test::write_bytes(victim, "keep me");
  const std::string pid = std::to_string(::getpid());
  fs::create_symlink(victim, path + ".tmp." + pid);
  for (int n = 0; n < 50; ++n) fs::create_symlink(victim, path + ".tmp." + pid + "." + std::to_string(n));
  // Eight threads write the same destination 50 times each: each write must be whole, and the
  // temporaries must all be gone afterwards.
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      const std::string text(1000 + t, static_cast<char>('a' + t));
      for (int i = 0; i < 50; ++i) {
        try {
          labelrep::write_file_atomically(path, text);
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  CATCH_CHECK(failures == 0);
  const std::string final_text = contents(path);
  CATCH_REQUIRE(final_text.size() >= 1000);
  CATCH_CHECK(final_text == std::string(final_text.size(), final_text[0]));
  CATCH_CHECK(final_text.size() == 1000 + static_cast<std::size_t>(final_text[0] - 'a'));
  CATCH_CHECK(contents(victim) == "keep me");
  CATCH_CHECK(temporaries_in(dir.path()) == 51);  // only the planted links
}
