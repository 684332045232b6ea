// Crash safety and determinism of `labelrep train`, tested from outside the process: the trainer is
// killed with SIGKILL at random moments and restarted; after every kill the checkpoints present must
// verify and load, temporaries of the killed writer must be gone after the restart, and the run that
// finally completes must be byte-identical to an uninterrupted run with the same seed (CPU, 1 thread).
// Also: two same-seed runs into two directories write byte-identical files.
#include "catch.hpp"

#include <torch/torch.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/envelope.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "idx_files.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using labelrep_test::be32;
using labelrep_test::gzip;

namespace {

// A tiny Fashion-MNIST-shaped data set (the loader's file names and format): 10 classes of 12×12
// images, class c a bright bar in row c + 1 over seeded noise; 400 training and 100 test images.
// Synthetic data keeps one launch to a second or two, so that a hundred kills take minutes.
void write_bars(const std::string& dir, const std::string& prefix, std::uint32_t n, std::uint32_t seed) {
  std::string pixels = be32(2051) + be32(n) + be32(12) + be32(12), labels = be32(2049) + be32(n);
  std::uint32_t state = seed;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t c = (i * 7 + seed) % 10;
    for (std::uint32_t p = 0; p < 144; ++p) {
      state = state * 1664525u + 1013904223u;
      const std::uint32_t noise = (state >> 24) % 80;
      pixels.push_back(static_cast<char>(p / 12 == c + 1 ? 170 + noise : noise));
    }
    labels.push_back(static_cast<char>(c));
  }
  labelrep_test::write_bytes(dir + "/" + prefix + "-images-idx3-ubyte.gz", gzip(pixels));
  labelrep_test::write_bytes(dir + "/" + prefix + "-labels-idx1-ubyte.gz", gzip(labels));
}
void write_data(const std::string& dir) {
  fs::create_directories(dir);
  write_bars(dir, "train", 400, 1);
  write_bars(dir, "t10k", 100, 2);
}

// The small CNN on that data: 300 training images after 100 for validation, 2 epochs of 10 steps,
// composite labels, 1 thread, a checkpoint every 2 steps as well as after each epoch (so that kills
// often land in a save).
std::vector<std::string> train_arguments(const std::string& data_dir, const std::string& run_dir, int seed = 5,
                                         const std::string& checkpoint_every = "2") {
  return {labelrep_test::cli(), "train", "--dataset", "fashion-mnist", "--data-dir", data_dir, "--encoder", "small-cnn", "--label", "composite",
          "--label-size", "16", "--epochs", "2", "--validation", "100", "--batch-size", "32", "--no-flip", "--threads", "1",
          "--checkpoint-every", checkpoint_every, "--seed", std::to_string(seed), "--out", run_dir};
}

struct LaunchOptions {
  std::string fault;                 // LABELREP_FAULT_INJECTION for the child, if not empty
  std::uint64_t file_size_limit = 0;  // RLIMIT_FSIZE in bytes for the child, if not 0
};

// Starts the CLI with its output in `log` (the last launch's output is kept for diagnosis).
pid_t spawn(const std::vector<std::string>& arguments, const std::string& log, const LaunchOptions& options = {}) {
  std::vector<char*> argv;
  for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (options.fault.empty()) ::unsetenv("LABELREP_FAULT_INJECTION");
    else ::setenv("LABELREP_FAULT_INJECTION", options.fault.c_str(), 1);
    if (options.file_size_limit > 0) {
      const struct rlimit limit {options.file_size_limit, options.file_size_limit};
      ::setrlimit(RLIMIT_FSIZE, &limit);
      ::signal(SIGXFSZ, SIG_DFL);  // the program must protect itself: an ignored signal would survive exec
    }
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for the child up to `seconds`; returns its exit code, or -1 if it is still running.
int wait_for(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

int run_to_completion(const std::vector<std::string>& arguments, const std::string& log) {
  return wait_for(spawn(arguments, log), 600);
}

std::set<std::string> temporaries_in(const std::string& dir) {
  std::set<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) names.insert(e.path().filename().string());
  return names;
}

// Every file of a run except timings.csv (wall-clock seconds, apart by design), name → bytes.
std::map<std::string, std::string> deterministic_files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name == "timings.csv") continue;
    files[name] = labelrep::read_file(e.path().string());
  }
  return files;
}

void check_identical(const std::string& expected_dir, const std::string& actual_dir) {
  const auto expected = deterministic_files(expected_dir), actual = deterministic_files(actual_dir);
  std::set<std::string> expected_names, actual_names;
  for (const auto& [name, bytes] : expected) expected_names.insert(name);
  for (const auto& [name, bytes] : actual) actual_names.insert(name);
  CATCH_CHECK(actual_names == expected_names);
  for (const auto& [name, bytes] : expected) {
    CATCH_INFO(actual_dir << "/" << name);
    CATCH_CHECK(actual.count(name) == 1);
    if (actual.count(name)) CATCH_CHECK(actual.at(name) == bytes);
  }
}

// After a kill: every checkpoint present verifies and loads into the run's model (weights, and for
// last.ckpt the optimizer state too). Returns how many checkpoints were checked.
int check_checkpoints_load(const std::string& run_dir) {
  int checked = 0;
  for (const char* name : {"last.ckpt", "best.ckpt"}) {
    const std::string path = run_dir + "/" + name;
    if (!fs::exists(path)) continue;
    CATCH_INFO(path);
    // A checkpoint exists only after labels.npy and config.json were written (run_experiment's order).
    CATCH_REQUIRE(fs::exists(run_dir + "/labels.npy"));
    CATCH_REQUIRE(fs::exists(run_dir + "/config.json"));
    const labelrep::labels::FileLabels labels(run_dir + "/labels.npy");
    auto model = labelrep::models::make_model("small-cnn", 1, labels);
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    CATCH_CHECK_NOTHROW(labelrep::open_envelope(labelrep::read_file(path), path));
    CATCH_CHECK_NOTHROW(labelrep::train::load_checkpoint(path, *model, std::string(name) == "last.ckpt" ? &optimizer : nullptr));
    ++checked;
  }
  return checked;
}

// Launches of the trainer that continue one run directory after each interruption. A launch that
// completes must give the reference's files and leave no temporary; the chain then starts over in a
// new directory, so that one test compares several interrupted-and-resumed runs.
class RunChain {
 public:
  RunChain(std::string data, std::string reference, std::string work)
      : data_(std::move(data)), reference_(std::move(reference)), work_(std::move(work)) {}
  const std::string& run() const { return run_; }
  std::string log() const { return work_ + "/launch.log"; }
  pid_t launch(const LaunchOptions& options = {}) const { return spawn(train_arguments(data_, run_), log(), options); }
  int completions() const { return completions_; }

  // A launch exited with `code` before its interruption: it must have succeeded and match the reference.
  void completed(int code) {
    CATCH_INFO(labelrep::read_file(log()));
    CATCH_REQUIRE(code == 0);
    check_completed();
    fs::remove_all(run_);
    run_ = work_ + "/run" + std::to_string(++sequence_);
  }
  // The last launch, uninterrupted: it must complete and match the reference (the run directory stays).
  void finish() {
    const int code = run_to_completion(train_arguments(data_, run_), log());
    CATCH_INFO(labelrep::read_file(log()));
    CATCH_REQUIRE(code == 0);
    check_completed();
  }

 private:
  void check_completed() {
    check_identical(reference_, run_);
    CATCH_CHECK(temporaries_in(run_).empty());
    ++completions_;
  }
  std::string data_, reference_, work_;
  std::string run_ = work_ + "/run0";
  int sequence_ = 0, completions_ = 0;
};

struct KillReport {
  int kills = 0, completions = 0, checkpoints_checked = 0, temporaries_seen = 0;
  double seconds = 0;
};

// Kills the trainer `kills` times at uniformly random moments in [0, window) after its start, restarting
// it each time. A launch that completes before its kill moment is compared with the reference and the
// run starts over, so several complete killed-and-resumed runs are compared.
KillReport kill_and_resume(const std::string& data, const std::string& reference, const std::string& work, int kills, double window,
                           std::uint32_t seed) {
  KillReport report;
  const auto start = std::chrono::steady_clock::now();
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> moment(0.0, window);
  RunChain chain(data, reference, work);
  std::set<std::string> left_by_killed;  // temporaries a killed writer left, to be cleaned by the restart
  while (report.kills < kills) {
    const pid_t pid = chain.launch();
    const double delay = moment(random);
    const int code = wait_for(pid, delay);
    if (code >= 0) {  // finished before the kill
      chain.completed(code);
      left_by_killed.clear();
      continue;
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ++report.kills;
    // The restart that was killed now had its chance to clean the previous writer's temporaries... unless
    // it was killed before opening the run directory; those must still be cleaned by a later start.
    report.checkpoints_checked += check_checkpoints_load(chain.run());
    const auto now = temporaries_in(chain.run());
    report.temporaries_seen += static_cast<int>(now.size());
    left_by_killed.insert(now.begin(), now.end());
  }
  // The last launch runs to the end: the temporaries of every killed writer are gone, the result is
  // the reference's, byte for byte.
  chain.finish();
  for (const auto& name : left_by_killed) CATCH_CHECK_FALSE(fs::exists(chain.run() + "/" + name));
  report.completions = chain.completions();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

// The uninterrupted reference run; returns its wall time in seconds.
double reference_run(const std::string& data, const std::string& dir) {
  const auto start = std::chrono::steady_clock::now();
  const int code = run_to_completion(train_arguments(data, dir), dir + ".log");
  CATCH_INFO(labelrep::read_file(dir + ".log"));
  CATCH_REQUIRE(code == 0);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void kill_test(int kills, std::uint32_t seed) {
  labelrep_test::TempDir dir;
  write_data(dir.file("data"));
  const std::string reference = dir.file("reference");
  const double window = reference_run(dir.file("data"), reference);
  const auto report = kill_and_resume(dir.file("data"), reference, dir.path().string(), kills, window, seed);
  std::printf("kill test: %d SIGKILLs at uniform moments in [0, %.2f s), %d checkpoints verified and loaded after kills, %d temporaries "
              "left by killed writers (all cleaned on restart), %d complete runs byte-identical to the reference, %.1f s\n",
              report.kills, window, report.checkpoints_checked, report.temporaries_seen, report.completions, report.seconds);
  CATCH_CHECK(report.kills == kills);
  CATCH_CHECK(report.completions >= 1);
}

// The fault hook (src/core/fault_injection.hpp) stops the trainer at each step of an atomic write:
// `per_point` times at each of the 5 points, the N-th write chosen at random (for mid-write also the
// byte where the file is cut). After each stop the checkpoints present verify and load; the launches
// chain on one run directory, and the last, without a fault, must end byte-identical to the reference.
void fault_test(int per_point, std::uint32_t seed) {
  labelrep_test::TempDir dir;
  const std::string data = dir.file("data"), reference = dir.file("reference");
  write_data(data);
  reference_run(data, reference);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> arrival(1, 12);
  std::uniform_int_distribution<int> cut_byte(0, 65535);
  std::vector<std::string> faults;
  for (const char* point : {"mid-write", "before-fsync", "after-fsync", "after-rename", "after-directory-fsync"})
    for (int i = 0; i < per_point; ++i) {
      std::string name = point;
      if (name == "mid-write") name += "@" + std::to_string(cut_byte(random));
      faults.push_back(name + ":" + std::to_string(arrival(random)));
    }
  std::shuffle(faults.begin(), faults.end(), random);
  const auto start = std::chrono::steady_clock::now();
  int stopped = 0, checked = 0;
  RunChain chain(data, reference, dir.path().string());
  for (const auto& fault : faults) {
    CATCH_INFO("LABELREP_FAULT_INJECTION=" << fault);
    const int code = wait_for(chain.launch({fault}), 600);
    if (code != 86) {  // 86: the hook's exit code; 0: the run had fewer writes left than the fault's N
      chain.completed(code);  // requires 0: anything else is a crash or an error
      continue;
    }
    ++stopped;
    checked += check_checkpoints_load(chain.run());
  }
  chain.finish();
  std::printf("fault test: %d stops at the 5 points of an atomic write (%d requested), %d checkpoints verified and loaded after "
              "stops, %d complete runs byte-identical to the reference, %.1f s\n",
              stopped, static_cast<int>(faults.size()), checked, chain.completions(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  // Most faults must land: a run has more than 12 atomic writes, so only resumed runs near their end escape.
  CATCH_CHECK(stopped * 2 > static_cast<int>(faults.size()));
}

}  // namespace

CATCH_TEST_CASE("the trainer stopped at each step of an atomic write resumes to the uninterrupted result", "[train][kill][cli]") {
  fault_test(2, 86);
}

// 50 stops at each of the 5 points (G2.2 of RELIABILITY.md): several minutes.
CATCH_TEST_CASE("the trainer stopped 50 times at each step of an atomic write resumes to the uninterrupted result",
                "[train][kill][cli][slow]") {
  fault_test(50, 2021);
}

// With checkpoints only after each epoch, a run stopped during epoch 1's writes (best.ckpt, metrics.csv,
// timings.csv, then last.ckpt) has no last.ckpt and starts again: the rows it wrote must not stay.
CATCH_TEST_CASE("a run stopped before its first checkpoint starts again without the rows it had written", "[train][kill][cli]") {
  labelrep_test::TempDir dir;
  const std::string data = dir.file("data"), reference = dir.file("reference");
  write_data(data);
  CATCH_REQUIRE(run_to_completion(train_arguments(data, reference, 5, "0"), dir.file("reference.log")) == 0);
  int stopped_without_checkpoint = 0;
  for (int n = 1; n <= 8; ++n) {
    const std::string run = dir.file("run" + std::to_string(n));
    const std::string fault = "after-directory-fsync:" + std::to_string(n);
    CATCH_INFO("LABELREP_FAULT_INJECTION=" << fault);
    CATCH_REQUIRE(wait_for(spawn(train_arguments(data, run, 5, "0"), dir.file("launch.log"), {fault}), 600) == 86);
    if (fs::exists(run + "/metrics.csv") && !fs::exists(run + "/last.ckpt")) ++stopped_without_checkpoint;
    CATCH_REQUIRE(run_to_completion(train_arguments(data, run, 5, "0"), dir.file("launch.log")) == 0);
    check_identical(reference, run);
  }
  CATCH_CHECK(stopped_without_checkpoint >= 1);  // the case this test is for was reached
}

// Once a run has a checkpoint, the labels it trained on (labels.npy) and the precision it recorded are
// part of it: an edited label file, or "auto" precision on another device, must not continue it.
CATCH_TEST_CASE("a run resumes only with the labels and the precision it started with", "[train][kill][cli]") {
  labelrep_test::TempDir dir;
  const std::string data = dir.file("data"), run = dir.file("run"), log = dir.file("launch.log"), label_file = dir.file("given.npy");
  write_data(data);
  torch::manual_seed(3);
  const torch::Tensor given = torch::rand({10, 16, 16}) * 80;
  labelrep::write_npy(label_file, given);
  auto arguments = train_arguments(data, run, 5, "0");
  std::replace(arguments.begin(), arguments.end(), std::string("composite"), label_file);
  // Stop the run just after its first last.ckpt.
  for (int n = 1; n <= 16 && !fs::exists(run + "/last.ckpt"); ++n) {
    fs::remove_all(run);
    CATCH_REQUIRE(wait_for(spawn(arguments, log, {"after-directory-fsync:" + std::to_string(n)}), 600) == 86);
  }
  CATCH_REQUIRE(fs::exists(run + "/last.ckpt"));
  CATCH_REQUIRE_FALSE(fs::exists(run + "/result.json"));
  const std::string trained_on = labelrep::read_file(run + "/labels.npy");

  labelrep::write_npy(label_file, given / 2);  // the label file was edited since
  CATCH_CHECK(run_to_completion(arguments, log) == 2);
  const std::string refusal = labelrep::read_file(log);
  CATCH_INFO(refusal);
  CATCH_CHECK(refusal.find(run + "/labels.npy") != std::string::npos);
  CATCH_CHECK(labelrep::read_file(run + "/labels.npy") == trained_on);  // kept, not overwritten
  labelrep::write_npy(label_file, given);

  // As if it had started on a GPU: "auto" resolves to fp32 on this CPU, the run recorded bf16.
  const std::string config = labelrep::read_file(run + "/config.json");
  const auto at = config.find("\"precision_used\":\"fp32\"");
  CATCH_REQUIRE(at != std::string::npos);
  std::string as_bf16 = config;
  as_bf16.replace(at, std::string("\"precision_used\":\"fp32\"").size(), "\"precision_used\":\"bf16\"");
  labelrep_test::write_bytes(run + "/config.json", as_bf16);
  CATCH_CHECK(run_to_completion(arguments, log) == 2);
  CATCH_CHECK(labelrep::read_file(log).find("resume it with --precision bf16") != std::string::npos);
  labelrep_test::write_bytes(run + "/config.json", config);

  CATCH_CHECK(run_to_completion(arguments, log) == 0);  // as it was: it resumes and finishes
  CATCH_CHECK(fs::exists(run + "/result.json"));
}

CATCH_TEST_CASE("a malformed LABELREP_FAULT_INJECTION is an argument error naming the variable", "[train][kill][cli]") {
  labelrep_test::TempDir dir;
  write_data(dir.file("data"));
  for (const char* bad : {"after-fsync", "sideways:1", "after-fsync:0", "after-fsync:x", "before-fsync@3:1"}) {
    CATCH_INFO(bad);
    CATCH_CHECK(wait_for(spawn(train_arguments(dir.file("data"), dir.file("run")), dir.file("log"), {bad}), 600) == 2);
    const std::string log = labelrep::read_file(dir.file("log"));
    CATCH_CHECK(log.find("LABELREP_FAULT_INJECTION=") != std::string::npos);
  }
}

// A full disk or `ulimit -f`: the save fails with an IoError naming the file (exit code 1), instead of
// SIGXFSZ killing the program, and no temporary file is left behind.
CATCH_TEST_CASE("labelrep train under a file-size limit fails with an IoError and leaves no temporary file", "[train][kill][cli]") {
  labelrep_test::TempDir dir;
  write_data(dir.file("data"));
  const std::string run = dir.file("run");
  // 32 KiB: labels.npy (10 KiB) and config.json fit, a checkpoint of the small CNN does not.
  const int code = wait_for(spawn(train_arguments(dir.file("data"), run), dir.file("log"), {"", 32768}), 600);
  const std::string log = labelrep::read_file(dir.file("log"));
  CATCH_INFO(log);
  CATCH_CHECK(code == 1);
  CATCH_CHECK(log.find(".ckpt") != std::string::npos);
  CATCH_CHECK(log.find("File too large") != std::string::npos);
  CATCH_CHECK(temporaries_in(run).empty());
}

CATCH_TEST_CASE("two runs with the same seed write byte-identical files and another seed does not", "[train][determinism][cli]") {
  labelrep_test::TempDir dir;
  write_data(dir.file("data"));
  for (const char* name : {"a", "b"}) CATCH_REQUIRE(run_to_completion(train_arguments(dir.file("data"), dir.file(name)), dir.file("log")) == 0);
  check_identical(dir.file("a"), dir.file("b"));
  const auto files = deterministic_files(dir.file("a"));
  for (const char* name : {"result.json", "metrics.csv", "labels.npy", "config.json", "last.ckpt", "best.ckpt"}) CATCH_CHECK(files.count(name) == 1);
  CATCH_CHECK(fs::exists(dir.file("a/timings.csv")));  // the wall-clock figures live apart
  // The comparison can fail: another seed changes the weights and so the checkpoints.
  CATCH_REQUIRE(run_to_completion(train_arguments(dir.file("data"), dir.file("c"), 6), dir.file("log")) == 0);
  CATCH_CHECK(labelrep::read_file(dir.file("c/last.ckpt")) != files.at("last.ckpt"));
}

CATCH_TEST_CASE("the trainer killed 3 times resumes to the uninterrupted result", "[train][kill][cli]") { kill_test(3, 2021); }

// About 3 minutes on 2 busy cores (175 s measured): set LABELREP_KILLS for another count.
CATCH_TEST_CASE("the trainer killed with SIGKILL at 100 random moments resumes to the uninterrupted result", "[train][kill][cli][slow]") {
  const char* env = std::getenv("LABELREP_KILLS");
  kill_test(env ? std::atoi(env) : 100, 7);
}
