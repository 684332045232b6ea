// Standardized label regression: StandardizedDecoder's outputs are in label units, the loss is the
// standardized regression's, the model saves, loads and copies with its scale, and training with it
// works through the Trainer and `labelrep train` configurations.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>

#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/data/split.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "labelrep/train/experiment.hpp"
#include "labelrep/train/loss.hpp"
#include "labelrep/train/trained_run.hpp"
#include "labelrep/train/trainer.hpp"
#include "fixtures.hpp"
#include "support.hpp"

using namespace labelrep;

namespace {
// Labels far from mean 0 and std 1, as speech spectrograms in dB are: uniform on [0, 80).
std::shared_ptr<const labels::LabelRepresentation> shifted_labels() {
  return std::make_shared<const labels::UniformLabels>(labels::UniformLabelsOptions(4).height(8).width(8).value_range(80).seed(3));
}
}  // namespace

CATCH_TEST_CASE("standardize() takes the label set's mean and population standard deviation", "[models]") {
  const auto labels = shifted_labels();
  torch::manual_seed(1);
  auto model = models::make_model("small-cnn", 1, *labels);
  const auto decoder = models::standardize(model->decoder_ptr(), *labels);
  const auto* standardized = dynamic_cast<const models::StandardizedDecoderImpl*>(decoder.get());
  CATCH_REQUIRE(standardized != nullptr);
  const auto values = labels->matrix().to(torch::kDouble);
  CATCH_CHECK(standardized->mean() == Approx(values.mean().item<double>()).epsilon(1e-12));
  CATCH_CHECK(standardized->standard_deviation() == Approx(std::sqrt((values - values.mean()).pow(2).mean().item<double>())).epsilon(1e-12));
  CATCH_CHECK(standardized->mean() > 30);  // far from 0: the case standardization is for
  CATCH_CHECK(decoder->output_shape() == labels->label_shape());
  CATCH_CHECK(decoder->loss_scale().item<double>() == Approx(standardized->standard_deviation()).epsilon(1e-6));
  CATCH_CHECK_FALSE(model->decoder().loss_scale().defined());  // other decoders: no scale
}

CATCH_TEST_CASE("standardize() refuses what it cannot standardize", "[models]") {
  torch::manual_seed(2);
  const auto labels = shifted_labels();
  auto model = models::make_model("small-cnn", 1, *labels);
  const labels::CategoryLabels category(labels::CategoryLabelsOptions(4));
  auto category_model = models::make_model("small-cnn", 1, category);
  CATCH_CHECK_THROWS_AS(models::standardize(category_model->decoder_ptr(), category), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::standardize(nullptr, *labels), InvalidArgument);
  const labels::UniformLabels other_shape(labels::UniformLabelsOptions(4).height(16).width(16));
  CATCH_CHECK_THROWS_AS(models::standardize(model->decoder_ptr(), other_shape), InvalidArgument);
  labelrep_test::TempDir dir;
  write_npy(dir.file("flat.npy"), torch::full({4, 8, 8}, 3.0));
  const labels::FileLabels flat(dir.file("flat.npy"));
  try {
    models::standardize(model->decoder_ptr(), flat);
    CATCH_FAIL("labels whose values are all equal were standardized");
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("all equal") != std::string::npos);
  }
  CATCH_CHECK_THROWS_AS(models::StandardizedDecoderImpl(model->decoder_ptr(), 0.0, 0.0), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::StandardizedDecoderImpl(model->decoder_ptr(), std::nan(""), 1.0), InvalidArgument);
}

CATCH_TEST_CASE("a standardized model answers in label units and trains on the standardized loss", "[models][train]") {
  torch::manual_seed(3);
  const auto labels = shifted_labels();
  auto plain = models::make_model("small-cnn", 1, *labels);
  models::Model model(plain->encoder_ptr(), models::standardize(plain->decoder_ptr(), *labels));
  const auto& standardized = dynamic_cast<const models::StandardizedDecoderImpl&>(model->decoder());
  const double mean = standardized.mean(), deviation = standardized.standard_deviation();
  model->eval();
  const auto images = torch::randn({6, 1, 28, 28});
  const auto ids = torch::tensor({0, 1, 2, 3, 1, 2}, torch::kLong);

  // Outputs: mean + std · (the inner decoder's outputs), float32.
  const auto z = plain->forward(images).detach();
  const auto outputs = model->forward(images);
  CATCH_CHECK(outputs.scalar_type() == torch::kFloat);
  CATCH_CHECK(torch::allclose(outputs, z * deviation + mean, 1e-5, 1e-4));

  // The loss with the decoder's scale is the smooth L1 of the standardized regression, its gradient too.
  const auto standardized_targets = (labels->targets(ids) - mean) / deviation;
  const auto expected = torch::smooth_l1_loss(z, standardized_targets);
  const auto loss = train::label_loss(outputs, ids, *labels, train::LossKind::kAuto, model->decoder().loss_scale());
  CATCH_CHECK(loss.item<double>() == Approx(expected.item<double>()).epsilon(1e-4));
  // Without the scale it is the raw regression's, in dB-like units: much larger here.
  CATCH_CHECK(train::label_loss(outputs, ids, *labels).item<double>() > 5 * loss.item<double>());
  const auto mse = train::label_loss(outputs, ids, *labels, train::LossKind::kMse, model->decoder().loss_scale());
  CATCH_CHECK(mse.item<double>() == Approx(torch::mse_loss(z, standardized_targets).item<double>()).epsilon(1e-4));
  CATCH_CHECK_THROWS_AS(train::label_loss(outputs, ids, *labels, train::LossKind::kAuto, torch::ones({2})), InvalidArgument);
  const labels::CategoryLabels category(labels::CategoryLabelsOptions(4));
  CATCH_CHECK_THROWS_AS(train::label_loss(torch::randn({6, 4}), ids, category, train::LossKind::kAuto, torch::tensor(2.0)), InvalidArgument);

  // Nearest-label decisions are the same whether the outputs are compared in label units or both
  // sides standardized: one scalar scales every distance alike.
  const eval::NearestNeighborEvaluator evaluator(labels);
  const auto noisy = labels->targets(torch::arange(4).repeat({8})) + 25 * torch::randn({32, 8, 8});
  labelrep_test::TempDir dir;
  write_npy(dir.file("s.npy"), (labels->matrix() - mean) / deviation);
  const auto standardized_set = std::make_shared<const labels::FileLabels>(dir.file("s.npy"));
  const eval::NearestNeighborEvaluator standardized_evaluator(standardized_set);
  CATCH_CHECK(torch::equal(evaluator.predict(noisy), standardized_evaluator.predict((noisy - mean) / deviation)));
}

CATCH_TEST_CASE("a standardized model saves, loads and copies with its scale", "[models][checkpoint]") {
  torch::manual_seed(4);
  const auto labels = shifted_labels();
  auto plain = models::make_model("small-cnn", 1, *labels);
  models::Model model(plain->encoder_ptr(), models::standardize(plain->decoder_ptr(), *labels));
  const auto names = model->named_buffers();
  CATCH_CHECK(names.contains("decoder.label_mean"));
  CATCH_CHECK(names.contains("decoder.label_std"));
  bool inner_names = true;
  for (const auto& item : model->named_parameters())
    if (item.key().rfind("decoder.", 0) == 0) inner_names = inner_names && item.key().rfind("decoder.inner.", 0) == 0;
  CATCH_CHECK(inner_names);

  model->eval();
  const auto images = torch::randn({3, 1, 28, 28});
  const auto before = model->forward(images).detach();
  auto copy = models::deep_copy(model);
  CATCH_CHECK(torch::equal(copy->forward(images), before));
  CATCH_CHECK(dynamic_cast<const models::StandardizedDecoderImpl&>(copy->decoder()).mean() ==
              dynamic_cast<const models::StandardizedDecoderImpl&>(model->decoder()).mean());

  labelrep_test::TempDir dir;
  train::save_checkpoint(dir.file("m.ckpt"), *model, nullptr, train::TrainingState());
  torch::manual_seed(99);
  auto other_plain = models::make_model("small-cnn", 1, *labels);
  models::Model loaded(other_plain->encoder_ptr(), models::standardize(other_plain->decoder_ptr(), *labels));
  train::load_checkpoint(dir.file("m.ckpt"), *loaded, nullptr);
  loaded->eval();
  CATCH_CHECK(torch::equal(loaded->forward(images), before));
  // An unstandardized model does not take a standardized checkpoint silently (its names differ).
  auto unstandardized = models::make_model("small-cnn", 1, *labels);
  CATCH_CHECK_THROWS_AS(train::load_checkpoint(dir.file("m.ckpt"), *unstandardized, nullptr), Error);
}

CATCH_TEST_CASE("experiments record standardize_labels and refuse it for categories", "[train]") {
  train::ExperimentConfig config;
  config.label = "uniform";
  config.standardize_labels = true;
  config.out = "/tmp/x";
  const auto back = train::ExperimentConfig::from_json(config.to_json(), "test");
  CATCH_CHECK(back.standardize_labels);
  CATCH_CHECK_FALSE(train::ExperimentConfig::from_json(train::ExperimentConfig{}.to_json(), "test").standardize_labels);
  config.label = "category";
  CATCH_CHECK_THROWS_AS(config.validate(), InvalidArgument);
}

CATCH_TEST_CASE("the Trainer learns with a standardized model", "[train]") {
  torch::set_num_threads(1);
  const auto set = labelrep_test::quadrants(240, 1);
  const auto split = data::make_split(240, 40, 3);
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(16).seed(2));
  auto plain = models::make_model("small-cnn", 1, *labels, /*seed=*/5);
  models::Model model(plain->encoder_ptr(), models::standardize(plain->decoder_ptr(), *labels));
  labelrep_test::TempDir dir;
  const auto options = train::TrainerOptions(train::TrainingRecipe().epochs(6).batch_size(32).learning_rate(0.05))
                           .seed(7)
                           .horizontal_flip(false)
                           .crop_padding(2)
                           .progress(false)
                           .config_json("{}");
  train::Trainer trainer(model, labels, set, split.train, split.validation, data::ChannelStatistics{{0.3}, {0.3}}, options,
                         train::RunDirectory(dir.file("run")));
  const auto epochs = trainer.fit();
  CATCH_CHECK(epochs.back().train_loss < 0.5 * epochs.front().train_loss);
  const auto result = trainer.finish(labelrep_test::quadrants(80, 99));
  CATCH_CHECK(result.accuracy >= 0.9);
  CATCH_CHECK(result.has_threshold);  // the threshold rule in label units still applies
}

CATCH_TEST_CASE("labelrep train --standardize-labels: the run reloads standardized", "[cli][train]") {
  labelrep_test::TempDir dir;
  const std::string run_dir = dir.file("run");
  const std::string common = " --dataset fashion-mnist --label-size 32 --encoder small-cnn --level 1 --validation 300 --no-flip --epochs 1";
  const auto trained = labelrep_test::run_command(labelrep_test::cli() + " train --label composite --standardize-labels" + common + " --out " + run_dir);
  CATCH_INFO(trained.output);
  CATCH_REQUIRE(trained.exit_code == 0);
  auto run = train::load_trained_run(run_dir);
  const auto* decoder = dynamic_cast<const models::StandardizedDecoderImpl*>(&run.model->decoder());
  CATCH_REQUIRE(decoder != nullptr);
  CATCH_CHECK(decoder->mean() == Approx(run.labels->matrix().to(torch::kDouble).mean().item<double>()).epsilon(1e-9));
  CATCH_CHECK(run.config.standardize_labels);

  const auto refused = labelrep_test::run_command(labelrep_test::cli() + " train --label category --standardize-labels" + common + " --out " +
                                                  dir.file("category"));
  CATCH_CHECK(refused.exit_code == 2);
  CATCH_CHECK(refused.output.find("standardize_labels") != std::string::npos);

  // A label file with nothing to standardize by: the error names the file.
  const std::string flat = dir.file("flat.npy");
  write_npy(flat, torch::full({10, 32, 32}, -40.0));
  const auto nothing = labelrep_test::run_command(labelrep_test::cli() + " train --label " + flat + " --standardize-labels" + common +
                                                  " --out " + dir.file("flat"));
  CATCH_INFO(nothing.output);
  CATCH_CHECK(nothing.exit_code == 2);
  CATCH_CHECK(nothing.output.find(flat) != std::string::npos);
  CATCH_CHECK(nothing.output.find("all equal") != std::string::npos);
}
