// The CUDA-graph training step (train::GraphedTrainStep). On the CPU its eager mode runs the same
// arithmetic the graph captures — the SGD update with device-scalar learning rate and momentum, the
// gathered targets, the momentum buffers in the optimizer's own state — so these tests check that
// arithmetic against libtorch's SGD and train_step. The [cuda] test checks capture and replay.
#include "catch.hpp"

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "labelrep/core/error.hpp"
#include "labelrep/data/split.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "labelrep/train/experiment.hpp"
#include "labelrep/train/graphed_step.hpp"
#include "labelrep/train/trainer.hpp"
#include "fixtures.hpp"
#include "support.hpp"

using namespace labelrep;

namespace {

using LabelsPtr = std::shared_ptr<const labels::LabelRepresentation>;

LabelsPtr composite_labels() { return std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(8).seed(2)); }
LabelsPtr category_labels() { return std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(4)); }

torch::optim::SGDOptions sgd_options(bool nesterov) { return torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(5e-4).nesterov(nesterov); }

data::Batch make_batch(std::int64_t n, std::uint64_t seed, torch::Device device = torch::kCPU) {
  auto generator = torch::make_generator<at::CPUGeneratorImpl>(seed);
  data::Batch batch;
  batch.images = torch::randn({n, 1, 12, 12}, generator).to(device);
  batch.targets = torch::randint(0, 4, {n}, generator, torch::kLong).to(device);
  batch.indices = torch::arange(n);
  batch.global_size = n;
  return batch;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

// Trains two identical models on the same batches, one with train_step (libtorch's SGD), one with the
// graphed step's eager mode, changing the learning rate and momentum between steps as one-cycle does.
void check_follows_sgd(const LabelsPtr& labels, bool nesterov) {
  torch::set_num_threads(1);
  auto reference = models::make_model("small-cnn", 1, *labels, /*seed=*/3);
  auto graphed = models::make_model("small-cnn", 1, *labels, /*seed=*/3);
  torch::optim::SGD reference_sgd(reference->parameters(), sgd_options(nesterov));
  torch::optim::SGD graphed_sgd(graphed->parameters(), sgd_options(nesterov));
  train::GraphedTrainStep step(graphed, graphed_sgd, labels, train::GraphedStepOptions().capture(false));
  for (int i = 0; i < 6; ++i) {
    const double lr = 0.05 + 0.01 * i, momentum = 0.95 - 0.02 * i;
    for (auto* sgd : {&reference_sgd, &graphed_sgd})
      for (auto& group : sgd->param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr).momentum(momentum);
    const auto batch = make_batch(i == 5 ? 7 : 16, 100 + i);  // the last one smaller, as an epoch's last batch
    const double expected = train::train_step(reference, reference_sgd, batch, *labels).item<double>();
    const double got = step.step(batch).item<double>();
    CATCH_CHECK(got == labelrep_test::Approx(expected).epsilon(1e-5));
  }
  CATCH_CHECK(max_difference(reference->parameters(), graphed->parameters()) < 1e-5);
  CATCH_CHECK(max_difference(reference->buffers(), graphed->buffers()) < 1e-5);
  CATCH_CHECK(step.eager_steps() == 6);
  CATCH_CHECK(step.replayed_steps() == 0);
  CATCH_CHECK_FALSE(step.captured());
  // The momentum lives in the optimizer's state, where libtorch's SGD and checkpoints look for it:
  // one more libtorch SGD step on both sides gives the same weights only if the momentum is the same.
  CATCH_REQUIRE(graphed_sgd.state().size() == reference_sgd.state().size());
  const auto batch = make_batch(16, 999);
  train::train_step(reference, reference_sgd, batch, *labels);
  train::train_step(graphed, graphed_sgd, batch, *labels);
  CATCH_CHECK(max_difference(reference->parameters(), graphed->parameters()) < 1e-5);
}

}  // namespace

CATCH_TEST_CASE("the graphed step's arithmetic follows libtorch's SGD with momentum, weight decay and changing scalars", "[train][graphs]") {
  CATCH_SECTION("smooth L1 on composite labels, heavy-ball momentum") { check_follows_sgd(composite_labels(), false); }
  CATCH_SECTION("smooth L1 on composite labels, Nesterov") { check_follows_sgd(composite_labels(), true); }
  CATCH_SECTION("cross-entropy on categories, Nesterov") { check_follows_sgd(category_labels(), true); }
}

CATCH_TEST_CASE("a checkpoint taken after graphed steps resumes them exactly", "[train][graphs]") {
  torch::set_num_threads(1);
  const auto labels = composite_labels();
  labelrep_test::TempDir dir;
  auto model = models::make_model("small-cnn", 1, *labels, /*seed=*/4);
  torch::optim::SGD sgd(model->parameters(), sgd_options(true));
  train::GraphedTrainStep step(model, sgd, labels, train::GraphedStepOptions().capture(false));
  for (int i = 0; i < 3; ++i) step.step(make_batch(16, 200 + i));
  train::save_checkpoint(dir.file("a.ckpt"), *model, &sgd, train::TrainingState{});

  auto resumed = models::make_model("small-cnn", 1, *labels, /*seed=*/99);
  torch::optim::SGD resumed_sgd(resumed->parameters(), sgd_options(true));
  train::load_checkpoint(dir.file("a.ckpt"), *resumed, &resumed_sgd);
  train::GraphedTrainStep resumed_step(resumed, resumed_sgd, labels, train::GraphedStepOptions().capture(false));
  for (int i = 3; i < 6; ++i) {
    const auto batch = make_batch(16, 200 + i);
    CATCH_CHECK(step.step(batch).item<double>() == resumed_step.step(batch).item<double>());
  }
  // Equal weights after three more steps need the momentum buffers back from the checkpoint too.
  CATCH_CHECK(max_difference(model->parameters(), resumed->parameters()) == 0);
}

CATCH_TEST_CASE("the graphed step checks its arguments and reports class ids out of range", "[train][graphs]") {
  const auto labels = composite_labels();
  auto model = models::make_model("small-cnn", 1, *labels, /*seed=*/4);
  torch::optim::SGD sgd(model->parameters(), sgd_options(false));
  const auto eager = train::GraphedStepOptions().capture(false);
  CATCH_CHECK_THROWS_AS(train::GraphedTrainStep(model, sgd, nullptr, eager), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::GraphedTrainStep(model, sgd, labels, train::GraphedStepOptions().capture(false).batch_size(-1)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(train::GraphedTrainStep(model, sgd, labels, train::GraphedStepOptions().capture(false).warmup_steps(-2)), InvalidArgument);
  // Capture needs CUDA; on the CPU the message points to the eager mode.
  labelrep_test::check_throws_with<InvalidArgument>([&] { train::GraphedTrainStep(model, sgd, labels); }, "capture(false)");
  torch::optim::SGD damped(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).dampening(0.1));
  labelrep_test::check_throws_with<InvalidArgument>([&] { train::GraphedTrainStep(model, damped, labels, eager); }, "dampening");
  CATCH_CHECK_THROWS_AS(train::GraphedTrainStep(model, sgd, category_labels(), train::GraphedStepOptions().capture(false).loss(train::LossKind::kCrossEntropy))
                            .step(make_batch(4, 1)),
                        InvalidArgument);  // category labels have 4 values, the composite model outputs 8×8

  train::GraphedTrainStep step(model, sgd, labels, eager);
  auto batch = make_batch(4, 1);
  auto bad = batch;
  bad.targets = batch.targets.to(torch::kInt);
  labelrep_test::check_throws_with<InvalidArgument>([&] { step.step(bad); }, "batch.targets");
  bad = batch;
  bad.targets = batch.targets.slice(0, 0, 3);
  labelrep_test::check_throws_with<InvalidArgument>([&] { step.step(bad); }, "3 rows");
  bad = batch;
  bad.images = batch.images.flatten(1);
  labelrep_test::check_throws_with<InvalidArgument>([&] { step.step(bad); }, "batch.images");
  CATCH_CHECK(step.eager_steps() == 0);

  // A class id out of range trains on a clamped id and is reported by the next check, once.
  CATCH_CHECK_NOTHROW(step.check_targets());
  bad = batch;
  bad.targets = batch.targets.clone();
  bad.targets[2] = 4;
  CATCH_CHECK(std::isfinite(step.step(bad).item<double>()));
  labelrep_test::check_throws_with<InvalidArgument>([&] { step.check_targets(); }, "outside [0, 4)");
  CATCH_CHECK_NOTHROW(step.check_targets());
  step.step(batch);
  CATCH_CHECK_NOTHROW(step.check_targets());
}

CATCH_TEST_CASE("cuda_graphs is refused on the CPU by the trainer and the experiment configuration", "[train][graphs]") {
  const auto set = labelrep_test::quadrants(40, 1);
  const auto split = data::make_split(40, 8, 3);
  const data::ChannelStatistics stats{{0.3}, {0.3}};
  const auto labels = composite_labels();
  labelrep_test::TempDir dir;
  auto model = models::make_model("small-cnn", 1, *labels, /*seed=*/5);
  const auto options = train::TrainerOptions(train::TrainingRecipe().epochs(1).batch_size(8)).progress(false).cuda_graphs(true);
  labelrep_test::check_throws_with<InvalidArgument>(
      [&] { train::Trainer(model, labels, set, split.train, split.validation, stats, options, train::RunDirectory(dir.file("run"))); },
      "cuda_graphs needs the model on a CUDA device");

  train::ExperimentConfig c;
  c.out = "runs/x";
  c.cuda_graphs = true;
  labelrep_test::check_throws_with<InvalidArgument>([&] { c.validate(); }, "cuda_graphs needs a CUDA device");
  c.device = "cuda";
  CATCH_CHECK_NOTHROW(c.validate());
  CATCH_CHECK(train::ExperimentConfig::from_json(c.to_json(), "config.json").cuda_graphs);
  CATCH_CHECK_FALSE(train::ExperimentConfig::from_json("{}", "config.json").cuda_graphs);
  CATCH_CHECK_THROWS_AS(train::ExperimentConfig::from_json(R"({"cuda_graphs": 1})", "config.json"), FormatError);
}

namespace {
// A Trainer on the GPU (bf16, one-cycle, Nesterov) fits the tiny quadrant problem with `model` (on
// the GPU already); returns its test accuracy.
double tiny_trainer_accuracy_on_cuda(models::Model model, const LabelsPtr& labels, bool graphs) {
  const torch::Device cuda(torch::kCUDA);
  const auto split = data::make_split(240, 40, 3);
  labelrep_test::TempDir dir;
  const auto recipe = train::TrainingRecipe().epochs(6).batch_size(32).learning_rate(0.1).nesterov(true).schedule(train::Schedule::kOneCycle);
  const auto options = train::TrainerOptions(recipe).seed(7).horizontal_flip(false).crop_padding(2).progress(false)
                           .precision(train::Precision::kBFloat16).cuda_graphs(graphs);
  train::Trainer trainer(model, labels, labelrep_test::quadrants(240, 1).to(cuda), split.train, split.validation,
                         data::ChannelStatistics{{0.3}, {0.3}}, options, train::RunDirectory(dir.file("run")));
  trainer.fit();
  return trainer.finish(labelrep_test::quadrants(80, 99).to(cuda)).accuracy;
}
}  // namespace

// Registered only where libtorch has CUDA (LABELREP_CUDA_TESTS); hidden from a bare run of the binary.
CATCH_TEST_CASE("on CUDA, the captured step replays the eager step's training and recaptures after a load", "[train][graphs][.cuda]") {
  CATCH_REQUIRE(torch::cuda::is_available());
  CATCH_REQUIRE(train::cuda_graphs_available());
  const torch::Device cuda(torch::kCUDA);
  for (const auto precision : {train::Precision::kFloat32, train::Precision::kBFloat16}) {
    const auto labels = composite_labels();
    auto eager_model = models::make_model("small-cnn", 1, *labels, /*seed=*/3);
    auto graphed_model = models::make_model("small-cnn", 1, *labels, /*seed=*/3);
    eager_model->to(cuda);
    graphed_model->to(cuda);
    torch::optim::SGD eager_sgd(eager_model->parameters(), sgd_options(true));
    torch::optim::SGD graphed_sgd(graphed_model->parameters(), sgd_options(true));
    train::GraphedTrainStep eager(eager_model, eager_sgd, labels, train::GraphedStepOptions().capture(false).precision(precision));
    train::GraphedTrainStep graphed(graphed_model, graphed_sgd, labels, train::GraphedStepOptions().precision(precision).batch_size(16));
    for (int i = 0; i < 9; ++i) {
      for (auto* sgd : {&eager_sgd, &graphed_sgd}) train::set_learning_rate(*sgd, 0.05 + 0.01 * i);
      const auto batch = make_batch(i == 6 ? 5 : 16, 300 + i, cuda);
      const double a = eager.step(batch).item<double>(), b = graphed.step(batch).item<double>();
      CATCH_CHECK(b == labelrep_test::Approx(a).epsilon(precision == train::Precision::kFloat32 ? 1e-4 : 2e-2));
    }
    CATCH_CHECK(graphed.captures() == 1);
    CATCH_CHECK(graphed.replayed_steps() == 8);
    CATCH_CHECK(graphed.eager_steps() == 1);
    CATCH_CHECK(max_difference(eager_model->parameters(), graphed_model->parameters()) < (precision == train::Precision::kFloat32 ? 1e-4 : 2e-2));
    graphed.check_targets();

    // load_checkpoint gives the optimizer new momentum buffers, which the graph does not point at: the
    // next step captures again.
    labelrep_test::TempDir dir;
    train::save_checkpoint(dir.file("a.ckpt"), *eager_model, &eager_sgd, train::TrainingState{});
    train::load_checkpoint(dir.file("a.ckpt"), *graphed_model, &graphed_sgd);
    const auto batch = make_batch(16, 400, cuda);
    const double a = eager.step(batch).item<double>(), b = graphed.step(batch).item<double>();
    CATCH_CHECK(graphed.captures() == 2);
    CATCH_CHECK(b == labelrep_test::Approx(a).epsilon(precision == train::Precision::kFloat32 ? 1e-4 : 2e-2));
  }

  // The Trainer with cuda_graphs learns the tiny problem as the eager fast path does.
  const auto labels = composite_labels();
  auto model = models::make_model("small-cnn", 1, *labels, /*seed=*/5);
  model->to(cuda);
  CATCH_CHECK(tiny_trainer_accuracy_on_cuda(model, labels, /*graphs=*/true) >= 0.9);
}

CATCH_TEST_CASE("on CUDA, the Trainer's steps without graphs equal libtorch's SGD, and standardized labels train with graphs",
                "[train][graphs][.cuda]") {
  CATCH_REQUIRE(torch::cuda::is_available());
  const torch::Device cuda(torch::kCUDA);
  // The uncaptured device step (what a single-process Trainer on CUDA runs without cuda_graphs) against
  // train_step's libtorch SGD, on the GPU, with a standardized model (the loss in its scale on both sides).
  const auto labels = composite_labels();
  auto make = [&] {
    auto m = models::make_model("small-cnn", 1, *labels, /*seed=*/4);
    m = models::Model(m->encoder_ptr(), models::standardize(m->decoder_ptr(), *labels));
    m->to(cuda);
    return m;
  };
  auto reference = make(), device_model = make();
  torch::optim::SGD reference_sgd(reference->parameters(), sgd_options(true));
  torch::optim::SGD device_sgd(device_model->parameters(), sgd_options(true));
  train::GraphedTrainStep device_step(device_model, device_sgd, labels, train::GraphedStepOptions().capture(false));
  for (int i = 0; i < 6; ++i) {
    const auto batch = make_batch(16, 500 + i, cuda);
    const double expected = train::train_step(reference, reference_sgd, batch, *labels).item<double>();
    CATCH_CHECK(device_step.step(batch).item<double>() == labelrep_test::Approx(expected).epsilon(1e-4));
  }
  CATCH_CHECK(max_difference(reference->parameters(), device_model->parameters()) < 1e-4);
  CATCH_CHECK(device_step.eager_steps() == 6);

  // The Trainer on CUDA, eager and with graphs, learns the tiny problem with standardized labels.
  for (const bool graphs : {false, true}) CATCH_CHECK(tiny_trainer_accuracy_on_cuda(make(), labels, graphs) >= 0.9);
}
