// Experiment configurations (JSON both ways, checked fields) and whole runs on the real Fashion-MNIST.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <filesystem>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/data/loaders.hpp"
#include "labelrep/train/experiment.hpp"
#include "support.hpp"

using namespace labelrep;

CATCH_TEST_CASE("an experiment configuration survives JSON and refuses typos and bad values", "[train]") {
  train::ExperimentConfig c;
  c.label = "composite";
  c.encoder = "small-cnn";
  c.epochs = 7;
  c.milestones = {0.3, 0.9};
  c.level = 8;
  c.level_base = data::LevelBase::kTrainingSet;
  c.crop_padding = 2;
  c.pad_to = 36;
  c.horizontal_flip = false;
  c.has_label_seed = true;
  c.label_seed = 12;
  c.out = "/tmp/somewhere";
  const auto back = train::ExperimentConfig::from_json(c.to_json(), "config.json");
  CATCH_CHECK(back.to_json() == c.to_json());
  CATCH_CHECK(back.label_seed == 12);
  CATCH_CHECK_FALSE(back.horizontal_flip);
  CATCH_CHECK(back.level_base == data::LevelBase::kTrainingSet);
  CATCH_CHECK(back.padded_side() == 36);
  // Automatic padding: 32 for the CIFAR encoders (the reference's Pad(2)), none for the small CNN.
  train::ExperimentConfig automatic;
  CATCH_CHECK(automatic.padded_side() == 32);
  automatic.encoder = "small-cnn";
  CATCH_CHECK(automatic.padded_side() == 0);

  CATCH_CHECK_THROWS_AS(train::ExperimentConfig::from_json(R"({"epoch": 3})", "c.json"), FormatError);  // typo
  CATCH_CHECK_THROWS_AS(train::ExperimentConfig::from_json(R"({"epochs": "3"})", "c.json"), FormatError);
  CATCH_CHECK_THROWS_AS(train::ExperimentConfig::from_json(R"([1, 2])", "c.json"), FormatError);
  CATCH_CHECK_THROWS_AS(train::ExperimentConfig::from_json(R"({"epochs": 3,)", "c.json"), FormatError);
  try {
    train::ExperimentConfig::from_json(R"({"epoch": 3})", "grid/c.json");
    CATCH_FAIL("no error");
  } catch (const FormatError& e) {
    CATCH_CHECK(std::string(e.what()).find("grid/c.json") != std::string::npos);
    CATCH_CHECK(std::string(e.what()).find("epoch") != std::string::npos);
  }

  auto bad = c;
  bad.level = 0;
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  bad = c;
  bad.device = "tpu";
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  bad = c;
  bad.crop_padding = -1;
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  bad = c;
  bad.pad_to = -2;
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  bad = c;
  bad.out.clear();
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  // The recipe's values are checked before any data is read: NaN or a stray negative weight decay is
  // a mistake, not a request for the paper's value (-1 is).
  const auto refused = [&](auto change, const char* field) {
    auto b = c;
    change(b);
    labelrep_test::check_throws_with<InvalidArgument>([&] { b.validate(); }, field);
  };
  refused([](auto& b) { b.weight_decay = std::nan(""); }, "weight_decay");
  refused([](auto& b) { b.weight_decay = -3; }, "weight_decay");
  refused([](auto& b) { b.weight_decay = std::numeric_limits<double>::infinity(); }, "weight_decay");
  refused([](auto& b) { b.learning_rate = -1; }, "learning_rate");
  refused([](auto& b) { b.momentum = 1.5; }, "momentum");
  refused([](auto& b) { b.milestones = {2.0}; }, "milestones");
  refused([](auto& b) { b.warmup_epochs = 1e9; }, "warmup_epochs");
  refused([](auto& b) { b.threshold = -1; }, "threshold");
  refused([](auto& b) { b.checkpoint_every_steps = -5; }, "checkpoint_every_steps");
  refused([](auto& b) { b.validation = -1; }, "validation");
  // Text that config.json cannot hold (a Linux path need not be UTF-8) is refused by name, not later by the JSON writer.
  refused([](auto& b) { b.out = "runs/bad\xff"; }, "out");
  refused([](auto& b) { b.label = "labels/\xc3("; }, "label");
  auto paper = c;
  paper.weight_decay = -1;
  CATCH_CHECK_NOTHROW(paper.validate());
  paper.validation = 0;  // no validation set: the last epoch is the result
  CATCH_CHECK_NOTHROW(paper.validate());
}

CATCH_TEST_CASE("a run directory another process is training in is refused, and left as it was", "[train]") {
  labelrep_test::TempDir dir;
  const std::string run = dir.file("busy");
  std::filesystem::create_directories(run);
  labelrep_test::write_bytes(run + "/metrics.csv", "epoch,train_loss\n1,0.5\n");
  // Another open file description holding the lock stands for another process (flock locks conflict
  // between descriptions, also within one process).
  const int held = ::open(run.c_str(), O_RDONLY | O_DIRECTORY);
  CATCH_REQUIRE(held >= 0);
  CATCH_REQUIRE(::flock(held, LOCK_EX | LOCK_NB) == 0);
  train::ExperimentConfig c;
  c.encoder = "small-cnn";
  c.epochs = 1;
  c.out = run;
  c.progress = false;
  labelrep_test::check_throws_with<IoError>([&] { train::run_experiment(c); }, "another process is training this run");
  CATCH_CHECK(labelrep::read_file(run + "/metrics.csv") == "epoch,train_loss\n1,0.5\n");
  ::close(held);
}

CATCH_TEST_CASE("check_experiment_inputs finds what a run would train on, and what would stop it, and writes nothing", "[train]") {
  labelrep_test::TempDir dir;
  train::ExperimentConfig c;
  c.encoder = "small-cnn";
  c.label = "lowdim";
  c.level = 1;
  c.validation = 300;
  c.out = dir.file("not-yet");
  const auto found = train::check_experiment_inputs(c);
  CATCH_CHECK(found.classes == 10);
  CATCH_CHECK(found.train_images == 597);  // 1 % of the 59,700 images left after the hold-out
  CATCH_CHECK(found.validation_images == 300);
  CATCH_CHECK(found.test_images == 10000);
  CATCH_CHECK(found.image_shape == std::vector<std::int64_t>{1, 28, 28});  // small-cnn: no padding
  CATCH_CHECK(found.label_shape == std::vector<std::int64_t>{10});
  CATCH_CHECK(found.label_kind == "lowdim");
  CATCH_CHECK(found.parameters > 0);
  CATCH_CHECK_FALSE(std::filesystem::exists(c.out));

  c.level = 0.002;  // one image of the pool
  labelrep_test::check_throws_with<InvalidArgument>([&] { train::check_experiment_inputs(c); }, "leaves 1 training image");
  c.level = 1;
  c.encoder = "resnet20";
  CATCH_CHECK(train::check_experiment_inputs(c).image_shape == std::vector<std::int64_t>{1, 32, 32});
  c.encoder = "small-cnn";

  // A label file of another class count, a missing one, and another experiment in the run directory.
  write_npy(dir.file("three.npy"), torch::rand({3, 8}));
  c.label = dir.file("three.npy");
  labelrep_test::check_throws_with<InvalidArgument>([&] { train::check_experiment_inputs(c); }, "has 3 classes but the dataset has 10");
  c.label = dir.file("missing.npy");
  labelrep_test::check_throws_with<IoError>([&] { train::check_experiment_inputs(c); }, "missing.npy");
  c.label = "lowdim";
  train::ExperimentConfig other = c;
  other.epochs = c.epochs + 1;
  std::filesystem::create_directories(dir.file("taken"));
  auto recorded = nlohmann::json::parse(other.to_json());
  recorded.erase("out");
  write_file_atomically(dir.file("taken/config.json"), recorded.dump());
  c.out = dir.file("taken");
  labelrep_test::check_throws_with<InvalidArgument>([&] { train::check_experiment_inputs(c); }, "holds a run with epochs");
  // The same experiment there is fine, and the directory is left as it was.
  c.epochs = other.epochs;
  CATCH_CHECK(train::check_experiment_inputs(c).train_images == 597);
  CATCH_CHECK(labelrep::read_file(dir.file("taken/config.json")) == recorded.dump());
  CATCH_CHECK(std::distance(std::filesystem::directory_iterator(dir.file("taken")), std::filesystem::directory_iterator()) == 1);

  // A device labelrep does not train on is refused by validate(); one that is not there, by the run
  // before anything is read or written.
  train::ExperimentConfig elsewhere = c;
  elsewhere.label_size = 5000;
  labelrep_test::check_throws_with<InvalidArgument>([&] { elsewhere.validate(); }, "label_size must be in [1, 4096]");
  elsewhere.label_size = 64;
  elsewhere.has_label_seed = true;
  elsewhere.label_seed = std::uint64_t{1} << 32;
  labelrep_test::check_throws_with<InvalidArgument>([&] { elsewhere.validate(); }, "label_seed must be below 2^32");
  elsewhere.has_label_seed = false;
  elsewhere.device = "meta";
  labelrep_test::check_throws_with<InvalidArgument>([&] { elsewhere.validate(); }, "device 'meta' is not cpu, cuda or cuda:N");
  if (!torch::cuda::is_available()) {
    elsewhere.device = "cuda:0";
    elsewhere.out = dir.file("no-gpu");
    labelrep_test::check_throws_with<InvalidArgument>([&] { train::run_experiment(elsewhere); }, "CUDA is not available");
    CATCH_CHECK_FALSE(std::filesystem::exists(elsewhere.out));
  }
}

// The stated accuracy of the small CNN: 20% of the Fashion-MNIST pool (11,000 images), 5 epochs,
// categorical and composite labels, at least 75% on all 10,000 test images (measured on the 2-core
// development machine: category 82.3%, composite 79.3%). About 3 minutes on 2 cores.
CATCH_TEST_CASE("the small CNN learns Fashion-MNIST from 20% of the pool", "[train][slow]") {
  // quickstart.sh installs dataset-fashion-mnist.
  CATCH_REQUIRE(std::filesystem::exists(std::string(data::kFashionMnistDir) + "/train-images-idx3-ubyte.gz"));
  labelrep_test::TempDir dir;
  for (const std::string label : {"category", "composite"}) {
    train::ExperimentConfig c;
    c.encoder = "small-cnn";
    c.label = label;
    c.epochs = 5;
    c.level = 20;
    c.progress = false;
    c.out = dir.file(label);
    const auto result = train::run_experiment(c);
    CATCH_CHECK(result.trained_now);
    std::printf("[slow] small-cnn, %s labels, 20%% of the pool, 5 epochs: test accuracy %.2f%%\n", label.c_str(), 100 * result.test_accuracy);
    CATCH_CHECK(result.test_accuracy >= 0.75);
    // A finished run is read, not trained again.
    const auto again = train::run_experiment(c);
    CATCH_CHECK_FALSE(again.trained_now);
    CATCH_CHECK(again.test_accuracy == result.test_accuracy);
  }
}
