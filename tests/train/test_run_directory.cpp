// Run directories: config, metrics rows that survive a restart, results, and refusal of bad input.
#include "catch.hpp"

#include <torch/torch.h>

#include <filesystem>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/train/run_directory.hpp"
#include "support.hpp"

using labelrep::train::RunDirectory;

CATCH_TEST_CASE("a run directory keeps config, metrics and result across processes", "[train]") {
  labelrep_test::TempDir dir;
  const std::string path = dir.file("runs/speech-seed1");
  {
    RunDirectory run(path);
    run.write_config(R"({"label": "speech", "seed": 1})");
    run.append_metrics({{"epoch", 1}, {"loss", 0.5}, {"validation_accuracy", 0.25}});
    run.append_metrics({{"epoch", 2}, {"loss", 0.125}, {"validation_accuracy", 0.75}});
    CATCH_CHECK_FALSE(run.finished());
    CATCH_CHECK_THROWS_AS(run.read_result(), labelrep::IoError);
    CATCH_CHECK_THROWS_AS(run.append_metrics({{"epoch", 3}}), labelrep::InvalidArgument);
    CATCH_CHECK_THROWS_AS(run.append_metrics({{"a,b", 3}}), labelrep::InvalidArgument);
    CATCH_CHECK_THROWS_AS(run.write_config("[1, 2]"), labelrep::InvalidArgument);
    CATCH_CHECK_THROWS_AS(run.write_result("{oops"), labelrep::InvalidArgument);
  }
  labelrep_test::write_bytes(path + "/result.json.tmp.999999", "stale");  // a writer killed mid-write
  RunDirectory again(path);
  CATCH_CHECK_FALSE(std::filesystem::exists(path + "/result.json.tmp.999999"));
  CATCH_REQUIRE(again.metrics().size() == 2);
  CATCH_CHECK(again.metrics()[1].at("loss") == 0.125);
  CATCH_CHECK(again.read_config().find("speech") != std::string::npos);
  again.truncate_metrics(1);
  again.append_metrics({{"epoch", 2}, {"loss", 0.25}, {"validation_accuracy", 0.5}});
  CATCH_CHECK(RunDirectory(path).metrics().at(1).at("loss") == 0.25);
  again.write_result(R"({"test_accuracy": 0.9})");
  CATCH_CHECK(again.finished());
  CATCH_CHECK(again.read_result().find("0.9") != std::string::npos);

  labelrep_test::write_bytes(path + "/metrics.csv", "epoch,loss\n1,abc\n");
  CATCH_CHECK_THROWS_AS(RunDirectory(path), labelrep::FormatError);
  labelrep_test::write_bytes(path + "/metrics.csv", "epoch,loss\n1\n");
  CATCH_CHECK_THROWS_AS(RunDirectory(path), labelrep::FormatError);
  labelrep_test::write_bytes(dir.file("file"), "x");
  CATCH_CHECK_THROWS_AS(RunDirectory(dir.file("file")), labelrep::IoError);
}

CATCH_TEST_CASE("a run directory opened read-only creates, removes and writes nothing", "[train]") {
  labelrep_test::TempDir dir;
  const std::string path = dir.file("run");
  // Reading a run that does not exist is an error, not a new empty run.
  labelrep_test::check_throws_with<labelrep::IoError>([&] { RunDirectory::open_read_only(path); }, "does not exist");
  CATCH_CHECK_FALSE(std::filesystem::exists(path));
  {
    RunDirectory run(path);
    run.write_config(R"({"seed": 1})");
    run.append_metrics({{"epoch", 1}, {"loss", 0.5}});
  }
  // A temporary of a writer this process cannot see (another machine of a shared file system, where its
  // pid means nothing here) stays: only the writer of a run cleans up after killed writers.
  labelrep_test::write_bytes(path + "/result.json.tmp.999999", "in flight");
  const auto run = RunDirectory::open_read_only(path);
  CATCH_CHECK_FALSE(run.writable());
  CATCH_CHECK(std::filesystem::exists(path + "/result.json.tmp.999999"));
  CATCH_CHECK(run.metrics().size() == 1);
  CATCH_CHECK(run.read_config().find("seed") != std::string::npos);
  labelrep_test::check_throws_with<labelrep::InvalidArgument>([&] { run.write_result("{}"); }, "read-only");
  CATCH_CHECK_FALSE(run.finished());
  CATCH_CHECK_THROWS_AS(run.write_config("{}"), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(run.append_timings(1, 1.0, 1.0), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(run.snapshot_file(1), labelrep::InvalidArgument);
  CATCH_CHECK_FALSE(std::filesystem::exists(path + "/snapshots"));
  CATCH_CHECK_FALSE(std::filesystem::exists(path + "/timings.csv"));
  auto copy = run;
  CATCH_CHECK_THROWS_AS(copy.append_metrics({{"epoch", 2}, {"loss", 0.25}}), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(copy.truncate_metrics(0), labelrep::InvalidArgument);
  CATCH_CHECK(RunDirectory::open_read_only(path).metrics().size() == 1);
  labelrep_test::write_bytes(dir.file("file"), "x");
  CATCH_CHECK_THROWS_AS(RunDirectory::open_read_only(dir.file("file")), labelrep::IoError);
}
