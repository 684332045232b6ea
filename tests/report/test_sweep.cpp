// Experiment sweeps: grid files, stable run ids, shards without a coordinator, and `labelrep sweep`
// (two shards on one machine give the same merged result as one).
#include "catch.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/report/grid.hpp"
#include "support.hpp"

using namespace labelrep;
using labelrep_test::cli;
using labelrep_test::run_command;

CATCH_TEST_CASE("a grid file expands into runs with stable ids, nested dataset, encoder, label, level, seed", "[report]") {
  auto grid = report::GridSpec::from_json(R"({
    "base": {"epochs": 2, "seed": 5, "validation": 300},
    "datasets": ["fashion-mnist", "cifar10"],
    "encoders": ["small-cnn"],
    "labels": ["category", "/x/speech_v2.npy"],
    "levels": [1, 2.5],
    "seeds": 2,
    "data_dirs": {"cifar10": "/data/cifar-10-batches-bin"}})",
                                          "grid.json");
  grid.runs_dir = "out/runs";
  const auto plan = report::expand_grid(grid);
  CATCH_REQUIRE(plan.size() == 16);
  CATCH_CHECK(plan[0].id == "fashion-mnist-small-cnn-category-level1-seed5");
  CATCH_CHECK(plan[1].id == "fashion-mnist-small-cnn-category-level1-seed6");
  CATCH_CHECK(plan[2].config.level == 2.5);
  CATCH_CHECK(plan[4].config.label == "/x/speech_v2.npy");
  CATCH_CHECK(plan[15].id == "cifar10-small-cnn-speech_v2-level2.5-seed6");
  CATCH_CHECK(plan[15].config.out == "out/runs/cifar10-small-cnn-speech_v2-level2.5-seed6");
  CATCH_CHECK(plan[15].config.data_dir == "/data/cifar-10-batches-bin");
  CATCH_CHECK(plan[0].config.data_dir.empty());
  for (const auto& run : plan) {
    CATCH_CHECK(run.config.epochs == 2);
    CATCH_CHECK(run.id == report::run_id(run.config));
  }
  // The same run keeps its id when the grid grows.
  grid.seeds.push_back(9);
  CATCH_CHECK(report::expand_grid(grid)[0].id == plan[0].id);

  // Axes default to the base's values.
  report::GridSpec single;
  single.runs_dir = "r";
  CATCH_REQUIRE(report::expand_grid(single).size() == 1);
  CATCH_CHECK(report::expand_grid(single)[0].id == "fashion-mnist-resnet32-category-level100-seed0");

  CATCH_CHECK_THROWS_AS(report::GridSpec::from_json(R"({"label": ["category"]})", "g"), FormatError);          // typo
  CATCH_CHECK_THROWS_AS(report::GridSpec::from_json(R"({"base": {"out": "x"}})", "g"), FormatError);          // per-run
  CATCH_CHECK_THROWS_AS(report::GridSpec::from_json(R"({"base": {"epoch": 3}})", "g"), FormatError);          // typo in base
  CATCH_CHECK_THROWS_AS(report::GridSpec::from_json(R"({"levels": []})", "g"), FormatError);
  CATCH_CHECK_THROWS_AS(report::GridSpec::from_json(R"({"seeds": "three"})", "g"), FormatError);
  labelrep_test::check_throws_with<FormatError>([] { report::GridSpec::from_json(R"({"seeds": [1, 1.7]})", "g"); }, "got 1.7");
  labelrep_test::check_throws_with<FormatError>([] { report::GridSpec::from_json(R"({"seeds": [-1]})", "g"); }, "non-negative integers");
  CATCH_CHECK_THROWS_AS(report::GridSpec::from_json("[1, 2", "g"), FormatError);
  auto twice = report::GridSpec::from_json(R"({"labels": ["speech", "a/speech.npy"]})", "g");
  twice.runs_dir = "r";
  CATCH_CHECK_THROWS_AS(report::expand_grid(twice), InvalidArgument);
  auto bad_level = report::GridSpec::from_json(R"({"levels": [0]})", "g");
  bad_level.runs_dir = "r";
  CATCH_CHECK_THROWS_AS(report::expand_grid(bad_level), InvalidArgument);
  // A misspelt dataset, encoder or label kind stops the plan, naming the run (not each run when it starts).
  for (const auto& [axes, expected] : {std::pair<const char*, const char*>{R"({"datasets": ["fashion-mnist", "cifar11"]})", "unknown dataset 'cifar11'"},
                                       {R"({"encoders": ["resnet33"]})", "resnet33"},
                                       {R"({"labels": ["category", "spech"]})", "unknown label kind 'spech'"}}) {
    CATCH_INFO(axes);
    auto typo = report::GridSpec::from_json(axes, "g");
    typo.runs_dir = "r";
    labelrep_test::check_throws_with<InvalidArgument>([&] { report::expand_grid(typo); }, expected);
    labelrep_test::check_throws_with<InvalidArgument>([&] { report::expand_grid(typo); }, "grid: run ");
  }
  // A label file is checked when its run starts (on the machine that runs it), not in the plan.
  auto file = report::GridSpec::from_json(R"({"labels": ["/not/here/cifar10_speech.npy"]})", "g");
  file.runs_dir = "r";
  CATCH_CHECK(report::expand_grid(file).size() == 1);
}

CATCH_TEST_CASE("shards split a plan into disjoint parts that cover it", "[report]") {
  report::GridSpec grid;
  grid.labels = {"category", "lowdim", "uniform"};
  grid.seeds = {0, 1, 2, 3, 4};
  grid.runs_dir = "r";
  const auto plan = report::expand_grid(grid);
  std::multiset<std::string> covered;
  for (std::int64_t i = 0; i < 4; ++i)
    for (const auto& run : report::select_shard(plan, report::Shard::parse(std::to_string(i) + "/4"))) covered.insert(run.id);
  CATCH_CHECK(covered.size() == plan.size());
  CATCH_CHECK(std::set<std::string>(covered.begin(), covered.end()).size() == plan.size());
  CATCH_CHECK(report::select_shard(plan, report::Shard::parse("1/4"))[0].id == plan[1].id);
  CATCH_CHECK(report::select_shard(plan, report::Shard::parse("1/4"))[1].id == plan[5].id);
  CATCH_CHECK(report::select_shard(plan, report::Shard::parse("0/1")).size() == plan.size());
  for (const char* bad : {"4/4", "-1/4", "1/0", "1", "a/b", "1/4x", ""}) CATCH_CHECK_THROWS_AS(report::Shard::parse(bad), InvalidArgument);
}

CATCH_TEST_CASE("labelrep sweep plan reads a grid's relative data directories from the grid file's directory", "[cli]") {
  labelrep_test::TempDir dir;
  std::filesystem::create_directories(dir.file("grids"));
  {
    std::ofstream out(dir.file("grids/grid.json"));
    out << R"({"base": {"data_dir": "../data/any"}, "datasets": ["fashion-mnist", "cifar10"], "data_dirs": {"cifar10": "cifar-10-batches-bin"}})";
  }
  // Started from another directory, as a shard of a job array may be.
  const auto plan = run_command("cd / && " + cli() + " sweep plan --json " + dir.file("grids/grid.json") + " --out " + dir.file("sweep"));
  CATCH_INFO(plan.output);
  CATCH_REQUIRE(plan.exit_code == 0);
  const auto runs = nlohmann::json::parse(plan.output);
  CATCH_REQUIRE(runs.size() == 2);
  CATCH_CHECK(runs[0]["config"]["data_dir"] == (dir.path() / "data/any").string());
  CATCH_CHECK(runs[1]["config"]["data_dir"] == (dir.path() / "grids/cifar-10-batches-bin").string());
}

CATCH_TEST_CASE("labelrep sweep plan --check names the runs that would fail on this machine, and train --check the inputs of one", "[cli]") {
  labelrep_test::TempDir dir;
  write_npy(dir.file("three.npy"), torch::rand({3, 8}));
  const std::string grid = dir.file("grid.json");
  {
    std::ofstream out(grid);
    out << R"({"base": {"encoder": "small-cnn", "epochs": 1, "validation": 300, "level": 1},
               "labels": ["lowdim", "three.npy", "missing.npy"], "seeds": 2})";
  }
  // Label files are relative to the grid file, wherever a shard starts.
  const auto plan = run_command("cd / && " + cli() + " sweep plan " + grid + " --out " + dir.file("sweep") + " --check");
  CATCH_INFO(plan.output);
  CATCH_CHECK(plan.exit_code == 1);
  CATCH_CHECK(plan.output.find("fashion-mnist-small-cnn-lowdim-level1-seed1") != std::string::npos);
  CATCH_CHECK(plan.output.find("ok: 597 training images, labels 10") != std::string::npos);
  CATCH_CHECK(plan.output.find("would fail: label file " + dir.file("three.npy") + " has 3 classes but the dataset has 10") != std::string::npos);
  CATCH_CHECK(plan.output.find("would fail: " + dir.file("missing.npy")) != std::string::npos);
  CATCH_CHECK(plan.output.find("6 runs, 0 finished, 4 would fail on this machine") != std::string::npos);
  CATCH_CHECK(plan.output.find("4 of 6 runs would fail: fashion-mnist-small-cnn-three-level1-seed0") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("sweep")));

  const auto json = run_command("(" + cli() + " sweep plan --json --check " + grid + " --out " + dir.file("sweep") + " 2>/dev/null)");
  CATCH_CHECK(json.exit_code == 1);
  const auto runs = nlohmann::json::parse(json.output);
  CATCH_REQUIRE(runs.size() == 6);
  CATCH_CHECK(runs[1]["check"]["ok"] == true);
  CATCH_CHECK(runs[1]["check"]["train_images"] == 597);
  CATCH_CHECK(runs[2]["check"]["ok"] == false);
  CATCH_CHECK(runs[2]["check"]["error"].get<std::string>().find("3 classes") != std::string::npos);

  const auto one = run_command(cli() + " train --encoder small-cnn --label lowdim --level 1 --validation 300 --out " + dir.file("run") + " --check");
  CATCH_INFO(one.output);
  CATCH_CHECK(one.exit_code == 0);
  CATCH_CHECK(one.output.find("597 training, 300 validation, 10000 test images") != std::string::npos);
  CATCH_CHECK(one.output.find("labels: lowdim 10") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("run")));
}

CATCH_TEST_CASE("labelrep sweep: two shards give the same merged result as one, finished runs are skipped", "[cli]") {
  labelrep_test::TempDir dir;
  const std::string grid = dir.file("grid.json");
  {
    std::ofstream out(grid);
    out << R"({"base": {"encoder": "small-cnn", "epochs": 1, "validation": 300, "threads": 1, "progress": false},
               "labels": ["category", "lowdim"], "levels": [1], "seeds": 2})";
  }
  const auto plan = run_command(cli() + " sweep plan " + grid + " --out " + dir.file("two") + " --shards 2");
  CATCH_INFO(plan.output);
  CATCH_REQUIRE(plan.exit_code == 0);
  CATCH_CHECK(plan.output.find("fashion-mnist-small-cnn-lowdim-level1-seed1") != std::string::npos);
  CATCH_CHECK(plan.output.find("4 runs, 0 finished") != std::string::npos);

  // Two shards at the same time, as two machines of a job array would, and one shard alone.
  const auto both = run_command("(" + cli() + " sweep run " + grid + " --out " + dir.file("two") + " --shard 0/2 > " + dir.file("s0.log") +
                                " 2>&1; echo $? > " + dir.file("s0.rc") + ") & (" + cli() + " sweep run " + grid + " --out " +
                                dir.file("two") + " --shard 1/2 > " + dir.file("s1.log") + " 2>&1; echo $? > " + dir.file("s1.rc") + ") & wait");
  const auto one = run_command(cli() + " sweep run " + grid + " --out " + dir.file("one"));
  CATCH_INFO(one.output);
  CATCH_REQUIRE(one.exit_code == 0);
  for (const char* shard : {"s0", "s1"}) {
    std::ifstream rc(dir.file(std::string(shard) + ".rc")), log(dir.file(std::string(shard) + ".log"));
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    CATCH_INFO(text);
    int code = -1;
    rc >> code;
    CATCH_CHECK(code == 0);
    CATCH_CHECK(text.find("[2/2 of shard") != std::string::npos);  // two runs each
  }
  for (const char* out : {"two", "one"}) {
    const auto summary = run_command(cli() + " sweep summary " + grid + " --out " + dir.file(out));
    CATCH_INFO(summary.output);
    CATCH_CHECK(summary.exit_code == 0);
    CATCH_CHECK(summary.output.find("4 of 4 runs finished") != std::string::npos);
  }
  std::ifstream a(dir.file("two/summary.json")), b(dir.file("one/summary.json"));
  const auto merged = nlohmann::json::parse(a), single = nlohmann::json::parse(b);
  CATCH_CHECK(merged == single);
  CATCH_REQUIRE(merged.size() == 2);
  CATCH_CHECK(merged[0]["runs"] == 2);
  CATCH_CHECK(merged[1]["label"] == "lowdim");

  // Running a shard again trains nothing; the report reads the sweep's runs.
  const auto again = run_command(cli() + " sweep run " + grid + " --out " + dir.file("two") + " --shard 1/2");
  CATCH_CHECK(again.exit_code == 0);
  CATCH_CHECK(again.output.find("already finished") != std::string::npos);
  CATCH_CHECK(again.output.find("trained in") == std::string::npos);
  const auto report = run_command(cli() + " report " + dir.file("two/runs") + " --out " + dir.file("two/report"));
  CATCH_INFO(report.output);
  CATCH_CHECK(report.exit_code == 0);
  CATCH_CHECK(std::filesystem::exists(dir.file("two/report/index.html")));
  const auto bad = run_command(cli() + " sweep run " + grid + " --out " + dir.file("x") + " --shard 2/2");
  CATCH_CHECK(bad.exit_code == 2);
  CATCH_CHECK(bad.output.find("shard '2/2'") != std::string::npos);
  // A missing grid file is a missing file (exit 1, named), as for every other command.
  const auto missing = run_command(cli() + " sweep plan " + dir.file("nope.json"));
  CATCH_CHECK(missing.exit_code == 1);
  CATCH_CHECK(missing.output.find(dir.file("nope.json")) != std::string::npos);
}
