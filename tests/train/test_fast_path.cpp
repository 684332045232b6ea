// The fast path's logic, checked on the CPU: bf16 autocast (the same code runs on CUDA), the
// one-cycle schedule against PyTorch's OneCycleLR formulas, and the trainer learning with both.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>

#include "labelrep/core/error.hpp"
#include "labelrep/data/split.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/train/experiment.hpp"
#include "labelrep/train/precision.hpp"
#include "labelrep/train/recipe.hpp"
#include "labelrep/train/trainer.hpp"
#include "fixtures.hpp"
#include "support.hpp"

using namespace labelrep;
using labelrep_test::Approx;

CATCH_TEST_CASE("precision names parse and the default is bf16 on CUDA only", "[train][precision]") {
  CATCH_CHECK(train::parse_precision("bf16") == train::Precision::kBFloat16);
  CATCH_CHECK(train::parse_precision("float32") == train::Precision::kFloat32);
  CATCH_CHECK(std::string(train::precision_name(train::Precision::kBFloat16)) == "bf16");
  CATCH_CHECK_THROWS_AS(train::parse_precision("fp16"), InvalidArgument);
  CATCH_CHECK(train::default_precision(torch::Device("cuda:0")) == train::Precision::kBFloat16);
  CATCH_CHECK(train::default_precision(torch::Device("cpu")) == train::Precision::kFloat32);
  CATCH_CHECK(train::resolve_precision("auto", torch::Device("cuda:0")) == train::Precision::kBFloat16);
  CATCH_CHECK(train::resolve_precision("auto", torch::Device("cpu")) == train::Precision::kFloat32);
  CATCH_CHECK(train::resolve_precision("bf16", torch::Device("cpu")) == train::Precision::kBFloat16);
  labelrep_test::check_throws_with<InvalidArgument>([] { train::resolve_precision("fp16", torch::Device("cpu")); }, "'fp16' is not auto");
}

CATCH_TEST_CASE("AutocastGuard runs convolutions in bf16 inside its scope and restores the state", "[train][precision]") {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(2, 3, 3));
  const auto x = torch::randn({1, 2, 5, 5});
  CATCH_CHECK(conv->forward(x).scalar_type() == torch::kFloat);
  {
    train::AutocastGuard outer(torch::kCPU, train::Precision::kBFloat16);
    CATCH_CHECK(conv->forward(x).scalar_type() == torch::kBFloat16);
    {
      train::AutocastGuard inner(torch::kCPU, train::Precision::kFloat32);  // fp32 leaves autocast as it is
      CATCH_CHECK(conv->forward(x).scalar_type() == torch::kBFloat16);
    }
    CATCH_CHECK(conv->forward(x).scalar_type() == torch::kBFloat16);
  }
  CATCH_CHECK(conv->forward(x).scalar_type() == torch::kFloat);
  CATCH_CHECK(conv->weight.scalar_type() == torch::kFloat);
  CATCH_CHECK_THROWS_AS(train::AutocastGuard(torch::kMeta, train::Precision::kBFloat16), InvalidArgument);
}

CATCH_TEST_CASE("train_step in bf16 computes the fp32 loss up to bf16 rounding and keeps fp32 weights", "[train][precision]") {
  torch::set_num_threads(1);
  const auto set = labelrep_test::quadrants(16, 4);
  const labels::CompositeLabels labels(labels::CompositeLabelsOptions(4).size(16).seed(2));
  const data::ChannelStatistics stats{{0.3}, {0.3}};
  const auto batches = [&] {
    return data::Batcher(set, torch::arange(16), data::BatcherOptions(stats.mean, stats.std).batch_size(16).shuffle(false).crop_padding(0).horizontal_flip(false));
  };
  double losses[2];
  for (const auto precision : {train::Precision::kFloat32, train::Precision::kBFloat16}) {
    auto model = models::make_model("small-cnn", 1, labels, /*seed=*/5);
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01));
    auto batcher = batches();
    batcher.start_epoch(0);
    data::Batch batch;
    CATCH_REQUIRE(batcher.next(batch));
    const auto loss = train::train_step(model, optimizer, batch, labels, train::LossKind::kAuto, precision);
    CATCH_CHECK(loss.scalar_type() == torch::kFloat);
    for (const auto& p : model->parameters()) CATCH_CHECK(p.scalar_type() == torch::kFloat);
    losses[precision == train::Precision::kBFloat16] = loss.item<double>();
  }
  CATCH_CHECK(std::isfinite(losses[1]));
  // bf16 keeps 8 bits of mantissa: the same loss to well within a percent, but not bit-equal.
  CATCH_CHECK(losses[1] == Approx(losses[0]).epsilon(0.02));
}

CATCH_TEST_CASE("the one-cycle schedule follows PyTorch's OneCycleLR (cosine, div 25, final div 1e4)", "[train][schedule]") {
  const auto r = train::TrainingRecipe().epochs(20).learning_rate(0.2).schedule(train::Schedule::kOneCycle).one_cycle_rise(0.25);
  CATCH_CHECK_NOTHROW(r.validate());
  CATCH_CHECK(train::learning_rate_at(r, 0) == Approx(0.2 / 25));
  CATCH_CHECK(train::learning_rate_at(r, 2.5) == Approx(0.2 / 25 + (0.2 - 0.2 / 25) / 2));  // half-way up: the cosine's middle
  CATCH_CHECK(train::learning_rate_at(r, 5) == Approx(0.2));
  CATCH_CHECK(train::learning_rate_at(r, 20) == Approx(0.2 / 25 / 1e4));
  CATCH_CHECK(train::momentum_at(r, 0) == Approx(0.95));
  CATCH_CHECK(train::momentum_at(r, 5) == Approx(0.85));
  CATCH_CHECK(train::momentum_at(r, 20) == Approx(0.95));
  double previous = 1.0;
  for (double e = 5; e <= 20; e += 0.5) {  // falls monotonically after the peak
    CATCH_CHECK(train::learning_rate_at(r, e) <= previous);
    previous = train::learning_rate_at(r, e);
  }
  CATCH_CHECK(train::momentum_at(train::TrainingRecipe().momentum(0.7), 3) == Approx(0.7));  // step schedule: fixed
  CATCH_CHECK(train::parse_schedule("one-cycle") == train::Schedule::kOneCycle);
  CATCH_CHECK_THROWS_AS(train::parse_schedule("cosine"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::TrainingRecipe().schedule(train::Schedule::kOneCycle).warmup_epochs(1).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::TrainingRecipe().one_cycle_rise(1.0).validate(), InvalidArgument);
  torch::optim::SGD sgd(std::vector<torch::Tensor>{torch::zeros({1}, torch::requires_grad())}, torch::optim::SGDOptions(1.0).momentum(0.9));
  train::apply_schedule(sgd, r, 5);
  const auto& options = static_cast<const torch::optim::SGDOptions&>(sgd.param_groups()[0].options());
  CATCH_CHECK(options.lr() == Approx(0.2));
  CATCH_CHECK(options.momentum() == Approx(0.85));
}

CATCH_TEST_CASE("the fast path (bf16 autocast, one-cycle, Nesterov) learns the tiny problem", "[train][precision]") {
  torch::set_num_threads(1);
  const auto set = labelrep_test::quadrants(240, 1);
  const auto split = data::make_split(240, 40, 3);
  const data::ChannelStatistics stats{{0.3}, {0.3}};
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(16).seed(2));
  labelrep_test::TempDir dir;
  auto model = models::make_model("small-cnn", 1, *labels, /*seed=*/5);
  const auto recipe = train::TrainingRecipe().epochs(6).batch_size(32).learning_rate(0.1).nesterov(true).schedule(train::Schedule::kOneCycle);
  const auto options = train::TrainerOptions(recipe).seed(7).horizontal_flip(false).crop_padding(2).progress(false).precision(train::Precision::kBFloat16);
  train::Trainer trainer(model, labels, set, split.train, split.validation, stats, options, train::RunDirectory(dir.file("run")));
  const auto epochs = trainer.fit();
  CATCH_REQUIRE(epochs.size() == 6);
  CATCH_CHECK(epochs.back().train_loss < epochs.front().train_loss);
  CATCH_CHECK(trainer.finish(labelrep_test::quadrants(80, 99)).accuracy >= 0.9);
}

// Registered only where libtorch has CUDA (LABELREP_CUDA_TESTS); hidden from a bare run of the binary.
CATCH_TEST_CASE("on CUDA, bf16 autocast runs the forward pass in bf16 and the fast path learns", "[train][.cuda]") {
  CATCH_REQUIRE(torch::cuda::is_available());
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(2, 3, 3));
  conv->to(torch::kCUDA);
  const auto x = torch::randn({1, 2, 5, 5}, torch::kCUDA);
  {
    train::AutocastGuard autocast(torch::kCUDA, train::Precision::kBFloat16);
    CATCH_CHECK(conv->forward(x).scalar_type() == torch::kBFloat16);
  }
  CATCH_CHECK(conv->forward(x).scalar_type() == torch::kFloat);

  const auto set = labelrep_test::quadrants(240, 1).to(torch::kCUDA);
  const auto split = data::make_split(240, 40, 3);
  const data::ChannelStatistics stats{{0.3}, {0.3}};
  const auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(16).seed(2));
  labelrep_test::TempDir dir;
  auto model = models::make_model("small-cnn", 1, *labels, /*seed=*/5);
  model->to(torch::kCUDA);
  const auto recipe = train::TrainingRecipe().epochs(6).batch_size(32).learning_rate(0.1).nesterov(true).schedule(train::Schedule::kOneCycle);
  const auto options = train::TrainerOptions(recipe).seed(7).horizontal_flip(false).crop_padding(2).progress(false).precision(train::Precision::kBFloat16);
  train::Trainer trainer(model, labels, set, split.train, split.validation, stats, options, train::RunDirectory(dir.file("run")));
  trainer.fit();
  CATCH_CHECK(trainer.finish(labelrep_test::quadrants(80, 99).to(torch::kCUDA)).accuracy >= 0.9);
}

CATCH_TEST_CASE("experiment configs carry precision, schedule and Nesterov and reject bad values", "[train][precision]") {
  train::ExperimentConfig c;
  c.out = "runs/x";
  CATCH_CHECK(c.precision == "auto");
  CATCH_CHECK(c.schedule == "step");
  c.precision = "bf16";
  c.schedule = "one-cycle";
  c.nesterov = true;
  CATCH_CHECK_NOTHROW(c.validate());
  const auto back = train::ExperimentConfig::from_json(c.to_json(), "config.json");
  CATCH_CHECK(back.precision == "bf16");
  CATCH_CHECK(back.schedule == "one-cycle");
  CATCH_CHECK(back.nesterov);
  auto bad = c;
  bad.precision = "fp16";
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  bad = c;
  bad.schedule = "cosine";
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  bad = c;
  bad.warmup_epochs = 1;  // one-cycle has its own rise
  CATCH_CHECK_THROWS_AS(bad.validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::ExperimentConfig::from_json(R"({"nesterov": "yes"})", "config.json"), FormatError);
}
