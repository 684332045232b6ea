// The Trainer on a tiny synthetic problem: it learns, it selects by validation, it resumes exactly.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/envelope.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/data/split.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "labelrep/train/experiment.hpp"
#include "labelrep/train/trainer.hpp"
#include "fixtures.hpp"
#include "support.hpp"

using namespace labelrep;
using labelrep_test::quadrants;

namespace {

struct Setup {
  data::ImageDataset set = quadrants(240, 1);
  data::DataSplit split = data::make_split(240, 40, 3);
  data::ChannelStatistics stats{{0.3}, {0.3}};
};

train::Trainer make_trainer(const Setup& s, const std::shared_ptr<const labels::LabelRepresentation>& labels, const std::string& dir,
                            std::int64_t epochs, std::int64_t every = 0) {
  auto model = models::make_model("small-cnn", 1, *labels, /*seed=*/5);
  const auto options = train::TrainerOptions(train::TrainingRecipe().epochs(epochs).batch_size(32).learning_rate(0.05))
                           .seed(7)
                           .horizontal_flip(false)  // the quadrant classes are not mirror-symmetric
                           .crop_padding(2)
                           .progress(false)
                           .checkpoint_every_steps(every)
                           .config_json(R"({"test": true})");
  return train::Trainer(model, labels, s.set, s.split.train, s.split.validation, s.stats, options, train::RunDirectory(dir));
}

bool same_weights(models::Model& a, models::Model& b) {
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa)
    if (!torch::equal(item.value(), pb[item.key()])) return false;
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  for (const auto& item : ba)
    if (!torch::equal(item.value(), bb[item.key()])) return false;
  return true;
}
}  // namespace

CATCH_TEST_CASE("the trainer learns a tiny problem with category and label-matrix targets", "[train]") {
  torch::set_num_threads(1);
  const Setup s;
  labelrep_test::TempDir dir;
  const auto test_set = quadrants(80, 99);
  for (const bool categorical : {true, false}) {
    std::shared_ptr<const labels::LabelRepresentation> labels;
    if (categorical) labels = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(4));
    else labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(16).seed(2));
    const std::string run_dir = dir.file(categorical ? "category" : "composite");
    auto trainer = make_trainer(s, labels, run_dir, 6);
    const auto epochs = trainer.fit();
    CATCH_REQUIRE(epochs.size() == 6);
    CATCH_CHECK(epochs.back().train_loss < epochs.front().train_loss);
    const auto result = trainer.finish(test_set);
    CATCH_CHECK(result.accuracy >= 0.9);
    CATCH_CHECK(result.has_threshold == !categorical);
    // The run directory holds everything a report needs.
    const train::RunDirectory run(run_dir);
    CATCH_CHECK(run.finished());
    CATCH_CHECK(run.metrics().size() == 6);
    const auto j = nlohmann::json::parse(run.read_result());
    CATCH_CHECK(j["test"]["accuracy"].get<double>() == result.accuracy);
    CATCH_CHECK(j["config"]["test"] == true);
    CATCH_CHECK(j["best_epoch"].get<std::int64_t>() == trainer.state().best_epoch);
    CATCH_CHECK(j["selection"] == "validation");
    CATCH_CHECK(j["best_validation_accuracy"].get<double>() == trainer.state().best_validation_accuracy);
    CATCH_CHECK(std::filesystem::exists(run.file("best.ckpt")));
    CATCH_CHECK(nlohmann::json::parse(run.read_config())["test"] == true);
    // Each test image's true and predicted class, in order: they make the accuracy and the confusion.
    const auto predictions = read_npy(run.file(train::kTestPredictionsFile));
    CATCH_REQUIRE(predictions.sizes() == torch::IntArrayRef({80, 2}));
    CATCH_CHECK(predictions.scalar_type() == torch::kLong);
    CATCH_CHECK(torch::equal(predictions.select(1, 0), test_set.targets().to(torch::kLong)));
    CATCH_CHECK(torch::equal(predictions, torch::stack({result.targets, result.predictions}, 1)));
    CATCH_CHECK((predictions.select(1, 0) == predictions.select(1, 1)).to(torch::kDouble).mean().item<double>() == result.accuracy);
    CATCH_CHECK(torch::equal(torch::bincount(predictions.select(1, 0) * 4 + predictions.select(1, 1), {}, 16).view({4, 4}), result.confusion));
    CATCH_CHECK_THROWS_AS(trainer.train_epoch(), InvalidArgument);  // all epochs done
  }
}

CATCH_TEST_CASE("an epoch's last batch of one image is left out, so that batch normalisation can train", "[train]") {
  const Setup s;
  labelrep_test::TempDir dir;
  // Composite labels get the label decoder, which starts with BatchNorm1d: a batch of one image stops it.
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(16).seed(2));
  auto model = models::make_model("small-cnn", 1, *labels, 5);
  const auto options = train::TrainerOptions(train::TrainingRecipe().epochs(2).batch_size(32).learning_rate(0.05)).progress(false);
  train::Trainer trainer(model, labels, s.set, s.split.train.slice(0, 0, 33), s.split.validation, s.stats, options,
                         train::RunDirectory(dir.file("run")));
  const auto epochs = trainer.fit();
  CATCH_CHECK(epochs.size() == 2);
  CATCH_CHECK(trainer.state().step == 2);  // one batch of 32 per epoch; the 33rd image waits for another epoch's order
  // The decoder names the problem itself when a caller's own loop meets it.
  model->train();
  labelrep_test::check_throws_with<InvalidArgument>([&] { model->decoder().forward(torch::randn({1, model->decoder().in_features()})); },
                                                    "cannot train on a batch of one image");
  model->eval();
  CATCH_CHECK(model->decoder().forward(torch::randn({1, model->decoder().in_features()})).size(0) == 1);
}

CATCH_TEST_CASE("without a validation set every image trains and the last epoch's weights are the result", "[train]") {
  torch::set_num_threads(1);
  const Setup s;
  labelrep_test::TempDir dir;
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(16).seed(2));
  auto model = models::make_model("small-cnn", 1, *labels, /*seed=*/5);
  const auto options = train::TrainerOptions(train::TrainingRecipe().epochs(3).batch_size(32).learning_rate(0.05))
                           .seed(7)
                           .horizontal_flip(false)
                           .progress(false)
                           .config_json("{}");
  const auto everything = torch::arange(s.set.size(), torch::kLong);
  train::Trainer trainer(model, labels, s.set, everything, torch::empty({0}, torch::kLong), s.stats, options, train::RunDirectory(dir.file("run")));
  for (std::int64_t epoch = 1; epoch <= 3; ++epoch) {
    const auto summary = trainer.train_epoch();
    CATCH_CHECK(summary.best);
    CATCH_CHECK(std::isnan(summary.validation_accuracy));
    CATCH_CHECK(trainer.state().best_epoch == epoch);
    // best.ckpt is rewritten after every epoch: it holds the weights just trained.
    auto reloaded = models::make_model("small-cnn", 1, *labels, /*seed=*/6);
    train::load_checkpoint(trainer.run().file("best.ckpt"), *reloaded, nullptr);
    CATCH_CHECK(same_weights(reloaded, trainer.model()));
  }
  CATCH_CHECK(trainer.state().best_validation_accuracy == -1.0);
  const train::RunDirectory run(dir.file("run"));
  const auto rows = run.metrics();
  CATCH_REQUIRE(rows.size() == 3);
  for (const auto& row : rows) {
    CATCH_CHECK(row.count("validation_accuracy") == 0);
    CATCH_CHECK(row.count("train_loss") == 1);
  }
  const auto test = trainer.finish(quadrants(80, 99));
  const auto j = nlohmann::json::parse(run.read_result());
  CATCH_CHECK(j["selection"] == "last epoch");
  CATCH_CHECK(j["best_validation_accuracy"].is_null());
  CATCH_CHECK(j["best_epoch"] == 3);
  CATCH_CHECK(j["test"]["accuracy"].get<double>() == test.accuracy);
  const auto read_back = train::read_experiment_result(dir.file("run"));
  CATCH_CHECK(std::isnan(read_back.best_validation_accuracy));
  CATCH_CHECK(read_back.best_epoch == 3);
  CATCH_CHECK(read_back.test_accuracy == test.accuracy);
}

CATCH_TEST_CASE("mirror evaluation decides on the mean of each image's and its mirror image's outputs", "[train]") {
  torch::set_num_threads(1);
  const Setup s;
  labelrep_test::TempDir dir;
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(16).seed(2));
  auto trainer = make_trainer(s, labels, dir.file("run"), 4);
  trainer.fit();
  auto& model = trainer.model();
  const auto test_set = quadrants(70, 99);
  const eval::NearestNeighborEvaluator evaluator(labels);
  auto batches = train::evaluation_batches(test_set, torch::arange(70), s.stats, /*batch_size=*/32);  // 32, 32, 6
  const auto single = train::evaluate(model, evaluator, batches);
  model->train();
  const auto mirrored = train::evaluate(model, evaluator, batches, train::Precision::kFloat32, train::EvaluationViews::kImageAndMirror);
  CATCH_CHECK(model->is_training());  // evaluate restores the mode

  // The reference: each image and its mirror image through the model one at a time, outputs averaged.
  model->eval();
  torch::NoGradGuard no_grad;
  eval::EvaluationTally reference(4);
  std::int64_t threshold_hits = 0;
  batches.start_epoch(0);
  data::Batch batch;
  while (batches.next(batch))
    for (std::int64_t i = 0; i < batch.images.size(0); ++i) {
      const auto image = batch.images.slice(0, i, i + 1);
      const auto output = 0.5 * (model->forward(image) + model->forward(image.flip({3})));
      reference += evaluator.tally(output, batch.targets.slice(0, i, i + 1));
      threshold_hits += evaluator.within_threshold(output, batch.targets.slice(0, i, i + 1)).item<bool>();
    }
  const auto expected = reference.result();
  CATCH_CHECK(mirrored.count == 70);
  // evaluate() keeps each image's classes in the batcher's order (over batches of 32, 32 and 6).
  CATCH_REQUIRE(mirrored.predictions.sizes() == torch::IntArrayRef({70}));
  CATCH_CHECK(torch::equal(mirrored.targets, test_set.targets().to(torch::kLong)));
  CATCH_CHECK((mirrored.predictions == mirrored.targets).to(torch::kDouble).mean().item<double>() == mirrored.accuracy);
  CATCH_CHECK((single.predictions == single.targets).to(torch::kDouble).mean().item<double>() == single.accuracy);
  // One image apart at most: one image alone and a batch of 64 may round a near tie differently.
  CATCH_CHECK(std::abs(mirrored.accuracy - expected.accuracy) <= 1.0 / 70 + 1e-12);
  CATCH_CHECK(std::abs(mirrored.threshold_accuracy - static_cast<double>(threshold_hits) / 70) <= 1.0 / 70 + 1e-12);
  CATCH_CHECK(torch::abs(mirrored.confusion - expected.confusion).sum().item<std::int64_t>() <= 2);
  // The quadrant classes are not mirror-symmetric (a mirror image is another class's image), so the
  // mean with the mirror image's output must cost this model accuracy: evidence the mirror is used.
  CATCH_CHECK(single.accuracy >= 0.9);
  CATCH_CHECK(mirrored.accuracy < single.accuracy - 0.2);
}

CATCH_TEST_CASE("resuming from a checkpoint gives bit-identical weights to an uninterrupted run", "[train]") {
  torch::set_num_threads(1);
  const Setup s;
  labelrep_test::TempDir dir;
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(16).seed(2));
  auto straight = make_trainer(s, labels, dir.file("straight"), 4);
  straight.fit();
  {
    auto interrupted = make_trainer(s, labels, dir.file("resumed"), 4);
    interrupted.train_epoch();
    interrupted.train_epoch();
  }  // the process "dies" here; the run directory holds last.ckpt after epoch 2
  auto resumed = make_trainer(s, labels, dir.file("resumed"), 4);
  CATCH_CHECK(resumed.state().epoch == 2);
  resumed.fit();
  CATCH_CHECK(same_weights(straight.model(), resumed.model()));
  const train::RunDirectory a(dir.file("straight")), b(dir.file("resumed"));
  CATCH_REQUIRE(b.metrics().size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CATCH_CHECK(a.metrics()[i].at("train_loss") == b.metrics()[i].at("train_loss"));

  // Mid-epoch: stop after 10 steps (epoch 2, batch 3 of 7), "die", resume.
  {
    auto partial = make_trainer(s, labels, dir.file("mid"), 4);
    const auto done = partial.fit(10);
    CATCH_REQUIRE(done.size() == 2);
    CATCH_CHECK_FALSE(done.back().complete);
    CATCH_CHECK(partial.state().step == 10);
    CATCH_CHECK(partial.state().batch_in_epoch == 3);
  }
  auto rest = make_trainer(s, labels, dir.file("mid"), 4);
  CATCH_CHECK(rest.state().epoch == 1);
  rest.fit();
  CATCH_CHECK(same_weights(straight.model(), rest.model()));
  const train::RunDirectory c(dir.file("mid"));
  CATCH_REQUIRE(c.metrics().size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CATCH_CHECK(a.metrics()[i].at("train_loss") == c.metrics()[i].at("train_loss"));
}

CATCH_TEST_CASE("a resume keeps best.ckpt and its record together when the replayed epoch differs", "[train]") {
  // A run stopped between best.ckpt and last.ckpt of epoch 2 resumes from epoch 1 and replays epoch 2.
  // On the CPU the replay is bit-identical; on a GPU it may not be. Simulated here with a best.ckpt of
  // epoch 2 whose record (validation accuracy 0.999) no replay reaches: it must stay the run's best, with
  // its record, rather than be named by a record of epoch 1 or overwritten by a worse replayed epoch.
  torch::set_num_threads(1);
  const Setup s;
  labelrep_test::TempDir dir;
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(16).seed(2));
  const std::string run_dir = dir.file("run");
  train::TrainingState other_attempt;
  {
    auto first = make_trainer(s, labels, run_dir, 3);
    first.train_epoch();  // last.ckpt after epoch 1
    other_attempt = first.state();
    other_attempt.epoch = 2;
    other_attempt.step *= 2;
    other_attempt.best_validation_accuracy = 0.999;
    other_attempt.best_epoch = 2;
    train::save_checkpoint(dir.file("run/best.ckpt"), *first.model(), nullptr, other_attempt);
  }
  const std::string best_bytes = read_file(dir.file("run/best.ckpt"));
  auto resumed = make_trainer(s, labels, run_dir, 3);
  CATCH_CHECK(resumed.state().epoch == 1);
  CATCH_CHECK(resumed.state().best_validation_accuracy == 0.999);
  CATCH_CHECK(resumed.state().best_epoch == 2);
  resumed.fit();
  resumed.finish(quadrants(40, 99));
  CATCH_CHECK(read_file(dir.file("run/best.ckpt")) == best_bytes);
  const auto result = nlohmann::json::parse(train::RunDirectory::open_read_only(run_dir).read_result());
  CATCH_CHECK(result["best_epoch"] == 2);
  CATCH_CHECK(result["best_validation_accuracy"] == 0.999);
  CATCH_CHECK(train::read_checkpoint_state(dir.file("run/best.ckpt")).best_validation_accuracy == 0.999);

  // A best.ckpt of an epoch the resume does not replay is the record's own: nothing is adopted.
  const std::string other_dir = dir.file("other");
  {
    auto first = make_trainer(s, labels, other_dir, 3);
    first.train_epoch();
  }
  const auto record = train::read_checkpoint_state(dir.file("other/last.ckpt"));
  auto again = make_trainer(s, labels, other_dir, 3);
  CATCH_CHECK(again.state().best_validation_accuracy == record.best_validation_accuracy);
  CATCH_CHECK(again.state().best_epoch == 1);
  // A damaged best.ckpt stops the resume, naming it (finish() would otherwise test broken weights).
  labelrep_test::write_bytes(dir.file("other/best.ckpt"), "not a checkpoint");
  labelrep_test::check_throws_with<CorruptCheckpoint>([&] { make_trainer(s, labels, other_dir, 3); }, "best.ckpt");
}

CATCH_TEST_CASE("trainer inputs are checked", "[train]") {
  const Setup s;
  labelrep_test::TempDir dir;
  const auto five = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(5));
  auto model = models::make_model("small-cnn", 1, *five, 1);
  const auto options = train::TrainerOptions(train::TrainingRecipe().epochs(1)).progress(false);
  CATCH_CHECK_THROWS_AS(train::Trainer(model, five, s.set, s.split.train, s.split.validation, s.stats, options,
                                       train::RunDirectory(dir.file("a"))),
                        InvalidArgument);  // 5 labels for 4 classes
  const auto four = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(4));
  auto good = models::make_model("small-cnn", 1, *four, 1);
  labelrep_test::check_throws_with<InvalidArgument>(  // a validation index past the 240 images
      [&] { train::Trainer(good, four, s.set, s.split.train, torch::tensor({3, 240}, torch::kLong), s.stats, options, train::RunDirectory(dir.file("b"))); },
      "out of range");
  CATCH_CHECK_THROWS_AS(train::Trainer(good, four, s.set, s.split.train, s.split.validation, s.stats,
                                       train::TrainerOptions(train::TrainingRecipe().epochs(0)), train::RunDirectory(dir.file("c"))),
                        InvalidArgument);
  // A run directory opened for reading cannot be trained into.
  std::filesystem::create_directories(dir.file("d"));
  labelrep_test::check_throws_with<InvalidArgument>(
      [&] { train::Trainer(good, four, s.set, s.split.train, s.split.validation, s.stats, options, train::RunDirectory::open_read_only(dir.file("d"))); },
      "read-only");
  CATCH_CHECK(std::filesystem::is_empty(dir.file("d")));
  // config_json must be a JSON object for every run, also one that resumes.
  labelrep_test::check_throws_with<InvalidArgument>(
      [&] {
        train::Trainer(good, four, s.set, s.split.train, s.split.validation, s.stats, train::TrainerOptions(options).config_json("[1, 2"),
                       train::RunDirectory(dir.file("e")));
      },
      "config_json is not valid JSON");
  // One training image makes no batch batch normalisation can train on.
  labelrep_test::check_throws_with<InvalidArgument>(
      [&] { train::Trainer(good, four, s.set, torch::tensor({5}, torch::kLong), s.split.validation, s.stats, options, train::RunDirectory(dir.file("f"))); },
      "1 training images make no batch");
  // Same seed, same initial weights; the global generator is left as it was.
  torch::manual_seed(11);
  const auto expected = torch::rand({3});
  torch::manual_seed(11);
  auto m1 = models::make_model("small-cnn", 1, *four, 42);
  auto m2 = models::make_model("small-cnn", 1, *four, 42);
  CATCH_CHECK(torch::equal(torch::rand({3}), expected));
  CATCH_CHECK(same_weights(m1, m2));
}
