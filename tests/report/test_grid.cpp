// Experiment grids: the data-efficiency study's configurations, run directories and summary.
#include "catch.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "labelrep/core/error.hpp"
#include "labelrep/report/grid.hpp"
#include "support.hpp"

using namespace labelrep;

CATCH_TEST_CASE("the data-efficiency grid nests labels, levels and seeds with stable run directories", "[report]") {
  train::ExperimentConfig base;
  base.encoder = "small-cnn";
  base.seed = 10;
  base.epochs = 3;
  const auto grid = report::data_efficiency_grid(base, {"category", "/data/my_labels.npy"}, {1, 2.5}, 2, "eff/runs");
  CATCH_REQUIRE(grid.size() == 8);
  CATCH_CHECK(grid[0].label == "category");
  CATCH_CHECK(grid[0].level == 1);
  CATCH_CHECK(grid[0].seed == 10);
  CATCH_CHECK(grid[1].seed == 11);
  CATCH_CHECK(grid[2].level == 2.5);
  CATCH_CHECK(grid[4].label == "/data/my_labels.npy");
  CATCH_CHECK(grid[0].out == "eff/runs/fashion-mnist-small-cnn-category-level1-seed10");
  CATCH_CHECK(grid[7].out == "eff/runs/fashion-mnist-small-cnn-my_labels-level2.5-seed11");
  for (const auto& c : grid) CATCH_CHECK(c.epochs == 3);  // everything else comes from the base

  CATCH_CHECK_THROWS_AS(report::data_efficiency_grid(base, {}, {1}, 1, "r"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(report::data_efficiency_grid(base, {"category"}, {}, 1, "r"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(report::data_efficiency_grid(base, {"category"}, {0}, 1, "r"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(report::data_efficiency_grid(base, {"category"}, {101}, 1, "r"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(report::data_efficiency_grid(base, {"category"}, {1}, 0, "r"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(report::data_efficiency_grid(base, {"speech", "a/speech.npy"}, {1}, 1, "r"), InvalidArgument);
}

CATCH_TEST_CASE("the grid summary is the mean and population std over seeds per label and level", "[report]") {
  train::ExperimentConfig base;
  const auto grid = report::data_efficiency_grid(base, {"category", "composite"}, {1, 10}, 2, "runs");
  std::vector<train::ExperimentResult> results(grid.size());
  const double accuracy[] = {0.5, 0.7, 0.8, 0.8, 0.4, 0.6, 0.9, 0.7};
  for (std::size_t i = 0; i < grid.size(); ++i) {
    results[i].test_accuracy = accuracy[i];
    results[i].has_threshold = grid[i].label == "composite";
    results[i].test_threshold_accuracy = accuracy[i] / 2;
  }
  const auto points = report::summarize_grid(grid, results);
  CATCH_REQUIRE(points.size() == 4);
  CATCH_CHECK(points[0].label == "category");
  CATCH_CHECK(points[0].level == 1);
  CATCH_CHECK(points[0].runs == 2);
  CATCH_CHECK(points[0].mean == labelrep_test::Approx(0.6));
  CATCH_CHECK(points[0].std == labelrep_test::Approx(0.1));
  CATCH_CHECK(points[1].std == 0);
  CATCH_CHECK_FALSE(points[0].has_threshold);
  CATCH_CHECK(points[3].has_threshold);
  CATCH_CHECK(points[3].threshold_mean == labelrep_test::Approx(0.4));
  const auto j = nlohmann::json::parse(report::grid_summary_json(points));
  CATCH_CHECK(j.size() == 4);
  CATCH_CHECK(j[3]["threshold_accuracy"]["mean"].get<double>() == labelrep_test::Approx(0.4));
  CATCH_CHECK_FALSE(j[0].contains("threshold_accuracy"));
  results.pop_back();
  CATCH_CHECK_THROWS_AS(report::summarize_grid(grid, results), InvalidArgument);
}
