// Reports from run directories: Table 1 numbers over seeds, curves, data-level plot, labels, HTML.
#include "catch.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "labelrep/analysis/plot.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/report/report.hpp"
#include "labelrep/train/run_directory.hpp"
#include "support.hpp"

using namespace labelrep;

namespace {
void fake_run(const std::string& dir, const std::string& label, std::uint64_t seed, double level, double accuracy, bool categorical) {
  train::RunDirectory run(dir);
  nlohmann::json config = {{"dataset", "fashion-mnist"}, {"encoder", "small-cnn"}, {"label", label}, {"seed", seed}, {"level", level},
                           {"label_size", 16}};
  run.write_config(config.dump());
  for (int e = 1; e <= 3; ++e) run.append_metrics({{"epoch", e}, {"validation_accuracy", accuracy * e / 3.0}});
  nlohmann::json test = {{"accuracy", accuracy}};
  if (!categorical) test["threshold_accuracy"] = accuracy / 2;
  nlohmann::json result = {{"test", test}, {"best_epoch", 3}, {"best_validation_accuracy", accuracy}, {"parameters", 1000},
                           {"labels", {{"kind", label}}}, {"config", config}};
  run.write_result(result.dump());
}
}  // namespace

CATCH_TEST_CASE("a report groups seeds, plots curves and levels, and draws the labels", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/a"), "composite", 0, 100, 0.90, false);
  fake_run(dir.file("runs/b"), "composite", 1, 100, 0.80, false);
  fake_run(dir.file("runs/c"), "category", 0, 100, 0.88, true);
  fake_run(dir.file("runs/d"), "category", 0, 10, 0.70, true);
  train::RunDirectory(dir.file("runs/unfinished")).write_config("{}");
  const auto runs = report::find_runs(dir.file("runs"));
  CATCH_CHECK(runs.size() == 4);
  CATCH_CHECK(runs[0].validation_curve.size() == 3);
  CATCH_CHECK(report::write_report(dir.file("runs"), dir.file("out")) == 4);
  const std::string html = read_file(dir.file("out/index.html"));
  const std::string md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(html.find("85.00 ± 5.00") != std::string::npos);  // composite over seeds 0 and 1
  CATCH_CHECK(html.find("42.50 ± 2.50") != std::string::npos);  // its threshold accuracy
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | category | 10 | 1 | 70.00 | – |") != std::string::npos);
  CATCH_CHECK(std::filesystem::exists(dir.file("out/data_efficiency.svg")));
  CATCH_CHECK(html.find("<svg") != std::string::npos);
  CATCH_CHECK(html.find("data:image/png;base64,iVBORw0KGgo") != std::string::npos);  // the PNG signature, embedded
  CATCH_CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));    // no external resources
  CATCH_CHECK(std::filesystem::exists(dir.file("out/labels_fashion_mnist_composite/labels.png")));
  CATCH_CHECK(md.find("| fashion-mnist | composite | 16×16 | 8.00 ± 0.00") != std::string::npos);

  CATCH_CHECK_THROWS_AS(report::write_report(dir.file("out"), dir.file("out2")), InvalidArgument);  // no runs there
  CATCH_CHECK_THROWS_AS(report::find_runs(dir.file("nowhere")), IoError);
  labelrep_test::write_bytes(dir.file("runs/a/result.json"), "{\"test\": 1}");
  CATCH_CHECK_THROWS_AS(report::find_runs(dir.file("runs")), FormatError);
}

CATCH_TEST_CASE("line plots: axes, series, error bands, escaping, validation", "[report]") {
  analysis::LinePlot plot("Accuracy <vs> ε", "epoch", "accuracy");
  plot.add_series("speech & co", {1, 2, 3}, {0.5, 0.7, 0.9}, {0.1, 0.05, 0.01});
  plot.add_series("category", {1, 2, 3}, {0.6, 0.7, 0.8});
  const auto svg = plot.svg();
  CATCH_CHECK(svg.rfind("<svg", 0) == 0);
  CATCH_CHECK(svg.find("Accuracy &lt;vs&gt; ε") != std::string::npos);
  CATCH_CHECK(svg.find("speech &amp; co") != std::string::npos);
  CATCH_CHECK(svg.find("<polygon") != std::string::npos);  // the error band
  CATCH_CHECK(svg.find("<polyline") != svg.rfind("<polyline"));  // two lines
  CATCH_CHECK_THROWS_AS(plot.add_series("bad", {1, 2}, {1}), InvalidArgument);
  CATCH_CHECK_THROWS_AS(plot.add_series("nan", {1}, {std::nan("")}), InvalidArgument);
  CATCH_CHECK_THROWS_AS(analysis::LinePlot("empty", "x", "y").svg(), InvalidArgument);
}
