// Label smoothing of category labels in experiments: recorded in config.json, checked, and trained on
// (the run's labels.npy holds the smoothed rows the cross-entropy used).
#include "catch.hpp"

#include <torch/torch.h>

#include <string>

#include "labelrep/core/error.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/train/experiment.hpp"
#include "labelrep/train/trained_run.hpp"
#include "support.hpp"

using namespace labelrep;

CATCH_TEST_CASE("experiments record label smoothing and refuse it where it does not apply", "[train]") {
  train::ExperimentConfig config;
  config.label_smoothing = 0.2;
  config.out = "/tmp/x";
  config.validate();
  const auto back = train::ExperimentConfig::from_json(config.to_json(), "test");
  CATCH_CHECK(back.label_smoothing == 0.2);
  CATCH_CHECK(train::ExperimentConfig::from_json(train::ExperimentConfig{}.to_json(), "test").label_smoothing == 0.0);
  // A config.json written before the field existed reads as no smoothing.
  CATCH_CHECK(train::ExperimentConfig::from_json(R"({"label": "category"})", "old.json").label_smoothing == 0.0);

  auto bad = config;
  bad.label_smoothing = 1.0;
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  bad.label_smoothing = -0.1;
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  bad = config;
  bad.label = "uniform";  // a regression label has no classes' probabilities to smooth
  try {
    bad.validate();
    CATCH_FAIL("no error");
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("uniform") != std::string::npos);
  }
}

CATCH_TEST_CASE("labelrep train --label-smoothing trains on the smoothed rows", "[cli][train]") {
  labelrep_test::TempDir dir;
  const std::string run_dir = dir.file("run");
  const std::string common = " --dataset fashion-mnist --encoder small-cnn --level 1 --validation 300 --no-flip --epochs 1";
  const auto trained = labelrep_test::run_command(labelrep_test::cli() + " train --label category --label-smoothing 0.3" + common +
                                                  " --out " + run_dir);
  CATCH_INFO(trained.output);
  CATCH_REQUIRE(trained.exit_code == 0);
  const auto run = train::load_trained_run(run_dir);
  CATCH_CHECK(run.config.label_smoothing == 0.3);
  CATCH_CHECK(run.labels->is_categorical());
  const auto matrix = run.labels->matrix().to(torch::kDouble);
  CATCH_REQUIRE(matrix.sizes() == torch::IntArrayRef({10, 10}));
  // ε = 0.3 over 10 classes: 1 − 0.3 + 0.03 on the diagonal, 0.03 elsewhere; each row sums to 1.
  CATCH_CHECK(matrix[4][4].item<double>() == Approx(0.73).epsilon(1e-6));
  CATCH_CHECK(matrix[4][5].item<double>() == Approx(0.03).epsilon(1e-6));
  CATCH_CHECK(matrix.sum(1).sub(1).abs().max().item<double>() < 1e-6);

  const auto refused = labelrep_test::run_command(labelrep_test::cli() + " train --label composite --label-smoothing 0.1" + common +
                                                  " --out " + dir.file("composite"));
  CATCH_CHECK(refused.exit_code == 2);
  CATCH_CHECK(refused.output.find("label smoothing") != std::string::npos);
}
