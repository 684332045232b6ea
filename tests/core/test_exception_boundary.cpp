// The exception boundary: every public function throws only labelrep::Error subclasses, and misuse is
// caught by labelrep's own checks before libtorch sees it, with a message naming the argument.
//
// Each expect_error<E>() below is one negative case: it asserts the exact dynamic type E (not a
// subclass, not a base), the "labelrep: " prefix, a fragment naming the argument, and that no raw
// libtorch text (a C++ stack trace or an ATen message) reaches the user.
#include "catch.hpp"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "core/boundary.hpp"
#include "labelrep/analysis/gradcam.hpp"
#include "labelrep/analysis/plot.hpp"
#include "labelrep/analysis/tsne.hpp"
#include "labelrep/attack/attack.hpp"
#include "labelrep/audio/speech.hpp"
#include "labelrep/audio/waveform.hpp"
#include "labelrep/core/envelope.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/data/batcher.hpp"
#include "labelrep/data/dataset.hpp"
#include "labelrep/data/loaders.hpp"
#include "labelrep/data/split.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/embeddings.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/labels/label_image.hpp"
#include "labelrep/labels/statistics.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/report/grid.hpp"
#include "labelrep/report/report.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "labelrep/train/experiment.hpp"
#include "labelrep/train/loss.hpp"
#include "labelrep/train/recipe.hpp"
#include "labelrep/train/run_directory.hpp"
#include "labelrep/train/trained_run.hpp"
#include "labelrep/train/trainer.hpp"
#include "fixtures.hpp"
#include "support.hpp"

using namespace labelrep;

namespace {

// Text that must never reach a labelrep user: libtorch's stack traces and its internal messages.
const char* const kRawTorchText[] = {"Exception raised from", "frame #", "mat1 and mat2", "Expected all tensors to be on the same device",
                                     "expected scalar type", "INTERNAL ASSERT"};

template <typename E, typename F>
void expect_error(const char* call, int line, const std::string& fragment, F&& f) {
  CATCH_INFO("line " << line << ": " << call);
  try {
    f();
  } catch (const std::exception& e) {
    const std::string what = e.what();
    CATCH_INFO("threw " << typeid(e).name() << ": " << what);
    CATCH_CHECK(typeid(e) == typeid(E));
    CATCH_CHECK(what.rfind("labelrep: ", 0) == 0);
    CATCH_CHECK(what.find(fragment) != std::string::npos);
    for (const char* raw : kRawTorchText) CATCH_CHECK(what.find(raw) == std::string::npos);
    return;
  } catch (...) {
    CATCH_FAIL("threw something that is not a std::exception");
  }
  CATCH_FAIL("nothing was thrown");
}

#define EXPECT_ERROR(Type, fragment, ...) expect_error<Type>(#__VA_ARGS__, __LINE__, fragment, [&] { (void)(__VA_ARGS__); })

const data::ChannelStatistics kStats{{0.3}, {0.3}};

std::shared_ptr<const labels::LabelRepresentation> composite4() {
  return std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(8).seed(1));
}
std::shared_ptr<const labels::LabelRepresentation> category4() {
  return std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(4));
}

}  // namespace

CATCH_TEST_CASE("the boundary helper translates every foreign exception into a labelrep error", "[core][errors][boundary]") {
  const auto translated = [](auto&& thrower) -> std::string {
    try {
      try {
        thrower();
      } catch (...) {
        labelrep::detail::rethrow_as_labelrep_error("somewhere");
      }
    } catch (const OutOfMemory& e) {
      return std::string("OutOfMemory|") + e.what();
    } catch (const TorchError& e) {
      return std::string("TorchError|") + e.what();
    } catch (const InternalError& e) {
      return std::string("InternalError|") + e.what();
    } catch (const FormatError& e) {
      return std::string("FormatError|") + e.what() + "|" + e.path();
    } catch (...) {
      return "escaped";
    }
    return "nothing";
  };
  const auto torch_error = translated([] { TORCH_CHECK(false, "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"); });
  CATCH_CHECK(torch_error.rfind("TorchError|labelrep: somewhere: libtorch error: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)", 0) == 0);
  CATCH_CHECK(torch_error.find("Exception raised from") == std::string::npos);  // the message, not the stack
  CATCH_CHECK(translated([] { throw c10::OutOfMemoryError({"f", "file.cpp", 1}, "CUDA out of memory. Tried to allocate 2.00 GiB"); })
                  .rfind("OutOfMemory|labelrep: somewhere: out of memory: CUDA out of memory. Tried to allocate 2.00 GiB", 0) == 0);
  CATCH_CHECK(translated([] { TORCH_CHECK(false, "DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes"); })
                  .rfind("OutOfMemory|", 0) == 0);
  CATCH_CHECK(translated([] { throw std::bad_alloc(); }).rfind("OutOfMemory|labelrep: somewhere: out of memory", 0) == 0);
  CATCH_CHECK(translated([] { throw std::out_of_range("vector::at"); }) == "InternalError|labelrep: somewhere: unexpected error: vector::at");
  CATCH_CHECK(translated([] { throw 42; }) == "InternalError|labelrep: somewhere: unexpected exception of unknown type");
  // labelrep's own errors pass unchanged, subclass and fields included.
  CATCH_CHECK(translated([] { throw CorruptCheckpoint("a.ckpt", 3, "bad"); }) == "FormatError|labelrep: a.ckpt: at byte 3: bad|a.ckpt");
}

CATCH_TEST_CASE("an allocation that cannot be made becomes OutOfMemory and the caller can continue", "[core][errors][boundary]") {
  // 10^15 indices (8 PB): the allocation fails with std::bad_alloc; labelrep reports OutOfMemory naming
  // the call. AddressSanitizer's operator new reports such a request and ends the process instead of
  // throwing (even with allocator_may_return_null), so under tools/sanitize.sh only the recovery is
  // checked here; the translation of std::bad_alloc is checked above.
#if !defined(__SANITIZE_ADDRESS__)
  // The innermost public function that allocates names itself (make_split's permutation).
  EXPECT_ERROR(OutOfMemory, "NumpyRandom::permutation: out of memory", data::make_split(1'000'000'000'000'000, 10, 1));
#endif
  CATCH_CHECK(data::make_split(10, 2, 1).validation.numel() == 2);  // and the library still works
}

CATCH_TEST_CASE("label representations reject bad options and class ids by name", "[labels][errors][boundary]") {
  const auto labels = composite4();
  EXPECT_ERROR(InvalidArgument, "num_classes", labels::CategoryLabels(labels::CategoryLabelsOptions(1)));
  EXPECT_ERROR(InvalidArgument, "smoothing", labels::CategoryLabels(labels::CategoryLabelsOptions(4).smoothing(1.5)));
  EXPECT_ERROR(InvalidArgument, "size", labels::ConstantLabels(labels::ConstantLabelsOptions(4).size(0)));
  EXPECT_ERROR(InvalidArgument, "height", labels::UniformLabels(labels::UniformLabelsOptions(4).height(-1)));
  EXPECT_ERROR(InvalidArgument, "seed", labels::LowDimLabels(labels::LowDimLabelsOptions(4).seed(std::uint64_t{1} << 33)));
  EXPECT_ERROR(InvalidArgument, "sigma", labels::CompositeLabels(labels::CompositeLabelsOptions(4).min_sigma(0.5).max_sigma(0.1)));
  EXPECT_ERROR(InvalidArgument, "class_ids", labels->targets(torch::zeros({2, 2}, torch::kLong)));
  EXPECT_ERROR(InvalidArgument, "class_ids", labels->targets(torch::zeros({3}, torch::kFloat32)));
  EXPECT_ERROR(InvalidArgument, "class id 7", labels->targets(torch::tensor({0, 7})));
  EXPECT_ERROR(InvalidArgument, "class id -1", labels->targets(torch::tensor({-1, 2})));
  EXPECT_ERROR(InvalidArgument, "class_ids", labels->targets(torch::Tensor()));
  EXPECT_ERROR(InvalidArgument, "at least 2 classes", labels::label_statistics(torch::rand({1, 4})));
  EXPECT_ERROR(InvalidArgument, "non-finite", labels::label_statistics(torch::full({3, 4}, std::nan(""))));
  EXPECT_ERROR(InvalidArgument, "hidden_states", labels::bert_label(torch::rand({4})));
  EXPECT_ERROR(InvalidArgument, "rgb", labels::encode_png(torch::zeros({4, 4}, torch::kUInt8)));
  EXPECT_ERROR(InvalidArgument, "unit_values", labels::viridis(torch::Tensor()));
  EXPECT_ERROR(IoError, "/nonexistent/labels.npy", labels::FileLabels("/nonexistent/labels.npy"));
  labels::LabelSpec spec;
  spec.kind = "no-such-kind";
  spec.class_names = {"a", "b"};
  EXPECT_ERROR(InvalidArgument, "no-such-kind", labels::make_labels(spec));
}

CATCH_TEST_CASE("models check images and features before libtorch does", "[models][errors][boundary]") {
  const auto labels = composite4();
  auto model = models::make_model("small-cnn", 1, *labels, 3);
  EXPECT_ERROR(InvalidArgument, "resnet31", models::make_model("resnet31", 3, *labels));
  EXPECT_ERROR(InvalidArgument, "no-such-encoder", models::make_encoder("no-such-encoder", 3));
  EXPECT_ERROR(InvalidArgument, "in_channels", models::make_encoder("small-cnn", 0));
  EXPECT_ERROR(InvalidArgument, "images", model->forward(torch::rand({1, 12, 12})));
  EXPECT_ERROR(InvalidArgument, "3 channels", model->forward(torch::rand({2, 3, 12, 12})));
  EXPECT_ERROR(InvalidArgument, "images", model->forward(torch::zeros({2, 1, 12, 12}, torch::kUInt8)));
  EXPECT_ERROR(InvalidArgument, "images", model->forward(torch::rand({2, 1, 12, 12}, torch::kFloat64)));  // dtype of the weights
  EXPECT_ERROR(InvalidArgument, "2x2", model->forward(torch::rand({2, 1, 2, 2})));
  EXPECT_ERROR(InvalidArgument, "images", model->forward(torch::Tensor()));
  EXPECT_ERROR(InvalidArgument, "features", model->decoder().forward(torch::rand({2, 5})));
  EXPECT_ERROR(InvalidArgument, "feature map", model->forward_from_feature_map(torch::rand({2, 5, 3, 3})));
  EXPECT_ERROR(InvalidArgument, "categorical", models::make_decoder(16, std::vector<std::int64_t>{4, 4}, true));
}

CATCH_TEST_CASE("the evaluator names shapes and lengths and ids", "[eval][errors][boundary]") {
  const eval::NearestNeighborEvaluator evaluator(composite4());
  const eval::NearestNeighborEvaluator categorical(category4());
  EXPECT_ERROR(InvalidArgument, "labels", eval::NearestNeighborEvaluator(nullptr));
  EXPECT_ERROR(InvalidArgument, "threshold", eval::NearestNeighborEvaluator(composite4(), eval::NearestNeighborOptions().threshold(-1)));
  EXPECT_ERROR(InvalidArgument, "outputs has shape [2, 4, 4]", evaluator.predict(torch::rand({2, 4, 4})));
  EXPECT_ERROR(InvalidArgument, "outputs", evaluator.distances(torch::zeros({2, 8, 8}, torch::kLong)));
  EXPECT_ERROR(InvalidArgument, "class_ids has 3 entries but outputs has 4 rows", evaluator.tally(torch::rand({4, 8, 8}), torch::tensor({0, 1, 2})));
  EXPECT_ERROR(InvalidArgument, "class id 9", evaluator.tally(torch::rand({2, 8, 8}), torch::tensor({0, 9})));
  EXPECT_ERROR(InvalidArgument, "class_ids", evaluator.within_threshold(torch::rand({2, 8, 8}), torch::rand({2})));
  EXPECT_ERROR(InvalidArgument, "categorical", categorical.within_threshold(torch::rand({2, 4}), torch::tensor({0, 1})));
  EXPECT_ERROR(InvalidArgument, "no outputs", eval::EvaluationTally(4).result());
  eval::EvaluationTally four = evaluator.tally(torch::rand({2, 8, 8}), torch::tensor({0, 1}));
  const eval::NearestNeighborEvaluator three(std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(3)));
  EXPECT_ERROR(InvalidArgument, "4 and 3 classes", four += three.tally(torch::rand({1, 3}), torch::tensor({0})));
}

CATCH_TEST_CASE("losses and recipes and checkpoints and run directories name what is wrong", "[train][errors][boundary]") {
  const auto labels = composite4();
  labelrep_test::TempDir dir;
  EXPECT_ERROR(InvalidArgument, "class_ids has 3 rows but outputs has 4", train::label_loss(torch::rand({4, 8, 8}), torch::tensor({0, 1, 2}), *labels));
  EXPECT_ERROR(InvalidArgument, "outputs has shape [2, 8]", train::label_loss(torch::rand({2, 8}), torch::tensor({0, 1}), *labels));
  EXPECT_ERROR(InvalidArgument, "outputs", train::label_loss(torch::zeros({2, 8, 8}, torch::kLong), torch::tensor({0, 1}), *labels));
  EXPECT_ERROR(InvalidArgument, "class id 4", train::label_loss(torch::rand({2, 8, 8}), torch::tensor({0, 4}), *labels));
  EXPECT_ERROR(InvalidArgument, "huber", train::parse_loss("huber"));
  EXPECT_ERROR(InvalidArgument, "epochs", train::TrainingRecipe().epochs(0).validate());
  EXPECT_ERROR(InvalidArgument, "learning_rate", train::TrainingRecipe().learning_rate(-1).validate());
  auto model = models::make_model("small-cnn", 1, *labels, 3);
  EXPECT_ERROR(IoError, dir.file("missing/a.ckpt"), train::save_checkpoint(dir.file("missing/a.ckpt"), *model, nullptr, {}));
  EXPECT_ERROR(IoError, dir.file("none.ckpt"), train::load_checkpoint(dir.file("none.ckpt"), *model, nullptr));
  labelrep_test::write_bytes(dir.file("junk.ckpt"), "PK\x03\x04 not a labelrep checkpoint");
  EXPECT_ERROR(CorruptCheckpoint, dir.file("junk.ckpt"), train::load_checkpoint(dir.file("junk.ckpt"), *model, nullptr));
  auto other = models::make_model("small-cnn", 1, *category4(), 3);
  train::save_checkpoint(dir.file("other.ckpt"), *other, nullptr, {});
  EXPECT_ERROR(FormatError, "does not fit this model", train::load_checkpoint(dir.file("other.ckpt"), *model, nullptr));
  train::RunDirectory run(dir.file("run"));
  EXPECT_ERROR(InvalidArgument, "run config", run.write_config("[1, 2]"));
  EXPECT_ERROR(InvalidArgument, "metric name", run.append_metrics({{"a,b", 1.0}}));
  EXPECT_ERROR(IoError, "result.json", run.read_result());
  EXPECT_ERROR(InvalidArgument, "run directory", train::RunDirectory(""));
  train::ExperimentConfig config;
  config.out = dir.file("x");
  config.epochs = 0;
  EXPECT_ERROR(InvalidArgument, "epochs", config.validate());
  config.epochs = 1;
  config.device = "tpu";
  EXPECT_ERROR(InvalidArgument, "device 'tpu'", config.validate());
  EXPECT_ERROR(FormatError, "epoch", train::ExperimentConfig::from_json(R"({"epoch": 3})", "c.json"));
  EXPECT_ERROR(IoError, dir.file("nowhere"), train::load_trained_run(dir.file("nowhere"), "cpu"));
  std::filesystem::create_directories(dir.file("array"));  // valid JSON that is not an object, written by hand
  labelrep_test::write_bytes(dir.file("array/config.json"), "[]");
  EXPECT_ERROR(FormatError, dir.file("array/config.json"), train::load_trained_run(dir.file("array"), "cpu"));
  // A recorded field of the wrong type is the file's fault, not an internal error.
  std::filesystem::create_directories(dir.file("typed"));
  labelrep_test::write_bytes(dir.file("typed/config.json"), R"({"dataset": "fashion-mnist", "in_channels": "one"})");
  EXPECT_ERROR(FormatError, "in_channels must be an integer in [1, 4]", train::load_trained_run(dir.file("typed"), "cpu"));
  labelrep_test::write_bytes(dir.file("typed/config.json"), R"({"dataset": 7})");
  EXPECT_ERROR(FormatError, dir.file("typed/config.json"), train::load_trained_run(dir.file("typed"), "cpu"));
}

CATCH_TEST_CASE("the trainer checks its inputs and its batches and stops a diverging loss", "[train][errors][boundary]") {
  torch::set_num_threads(1);
  labelrep_test::TempDir dir;
  const auto set = labelrep_test::quadrants(96, 1);
  const auto split = data::make_split(96, 16, 3);
  const auto labels = composite4();
  auto model = models::make_model("small-cnn", 1, *labels, 5);
  const auto options = train::TrainerOptions(train::TrainingRecipe().epochs(1).batch_size(16)).progress(false).horizontal_flip(false);
  EXPECT_ERROR(InvalidArgument, "indices must be a non-empty",
               train::Trainer(model, labels, set, torch::empty({0}, torch::kLong), split.validation, kStats, options, train::RunDirectory(dir.file("a"))));
  EXPECT_ERROR(InvalidArgument, "5 classes",
               train::Trainer(model, std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(5)), set, split.train,
                              split.validation, kStats, options, train::RunDirectory(dir.file("b"))));
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  data::Batch bad;
  bad.images = torch::rand({4, 1, 12, 12});
  bad.targets = torch::tensor({0, 1, 2});
  EXPECT_ERROR(InvalidArgument, "batch.targets has 3 rows but batch.images has 4", train::train_step(model, sgd, bad, *labels));
  bad.images = torch::rand({3, 2, 12, 12});
  EXPECT_ERROR(InvalidArgument, "2 channels", train::train_step(model, sgd, bad, *labels));
  // A learning rate of 10^30 makes the loss non-finite within the epoch: stopped with a message, not trained on NaNs.
  auto diverging = train::Trainer(model, labels, set, split.train, split.validation, kStats,
                                  train::TrainerOptions(train::TrainingRecipe().epochs(1).batch_size(16).learning_rate(1e30)).progress(false),
                                  train::RunDirectory(dir.file("c")));
  EXPECT_ERROR(InvalidArgument, "loss", diverging.fit());
}

CATCH_TEST_CASE("attacks check options and images and ids by name", "[attack][errors][boundary]") {
  const auto labels = category4();
  auto model = models::make_model("small-cnn", 1, *labels, 3);
  const auto images = torch::rand({2, 1, 12, 12});
  const auto ids = torch::tensor({0, 1});
  const auto options = attack::AttackOptions(kStats).epsilon(0.1);
  EXPECT_ERROR(InvalidArgument, "epsilon", attack::perturb(model, *labels, images, ids, attack::AttackOptions(kStats).epsilon(-1)));
  EXPECT_ERROR(InvalidArgument, "steps", attack::perturb(model, *labels, images, ids, attack::AttackOptions(kStats).method(attack::Method::kPgd).epsilon(0.1).steps(0)));
  EXPECT_ERROR(InvalidArgument, "images", attack::perturb(model, *labels, torch::rand({1, 12, 12}), ids, options));
  EXPECT_ERROR(InvalidArgument, "class_ids", attack::perturb(model, *labels, images, torch::tensor({0, 1, 2}), options));
  EXPECT_ERROR(InvalidArgument, "class id 4", attack::perturb(model, *labels, images, torch::tensor({0, 4}), options));
  EXPECT_ERROR(InvalidArgument, "channel", attack::perturb(model, *labels, torch::rand({2, 3, 12, 12}), ids, options));
  EXPECT_ERROR(InvalidArgument, "no-such-attack", attack::parse_attack("no-such-attack"));
  EXPECT_ERROR(InvalidArgument, "num_classes", attack::random_targets(ids, 1, 0));
  EXPECT_ERROR(InvalidArgument, "true_ids", attack::random_targets(torch::rand({2}), 4, 0));
  const data::ImageDataset set(torch::zeros({2, 1, 12, 12}, torch::kUInt8), ids, {"a", "b", "c", "d"}, "t");
  EXPECT_ERROR(InvalidArgument, "labels are null", attack::run_sweep(model, nullptr, set, torch::arange(2), attack::SweepOptions(kStats)));
  EXPECT_ERROR(InvalidArgument, "indices", attack::run_sweep(model, labels, set, torch::empty({0}, torch::kLong), attack::SweepOptions(kStats)));
  EXPECT_ERROR(InvalidArgument, "no-such", attack::run_sweep(model, labels, set, torch::arange(2), attack::SweepOptions(kStats).attacks({"no-such"})));
}

CATCH_TEST_CASE("t-SNE and Grad-CAM and plots name the argument at fault", "[analysis][errors][boundary]") {
  const auto labels = category4();
  auto model = models::make_model("small-cnn", 1, *labels, 3);
  EXPECT_ERROR(InvalidArgument, "features", analysis::tsne(torch::rand({10})));
  EXPECT_ERROR(InvalidArgument, "perplexity", analysis::tsne(torch::rand({10, 3}), analysis::TsneOptions().perplexity(30)));
  EXPECT_ERROR(InvalidArgument, "embedding", analysis::tsne_kl_divergence(torch::rand({10, 3}), torch::rand({9, 2}), 2.0));
  EXPECT_ERROR(InvalidArgument, "class_ids", analysis::grad_cam(model, torch::rand({2, 1, 12, 12}), torch::tensor({0, 1, 2}), *labels));
  EXPECT_ERROR(InvalidArgument, "images", analysis::grad_cam(model, torch::rand({2, 12, 12}), torch::tensor({0, 1}), *labels));
  EXPECT_ERROR(InvalidArgument, "heatmap", analysis::gradcam_overlay(torch::rand({1, 12, 12}), torch::rand({10, 10})));
  EXPECT_ERROR(InvalidArgument, "alpha", analysis::gradcam_overlay(torch::rand({1, 12, 12}), torch::rand({12, 12}), 2.0));
  EXPECT_ERROR(InvalidArgument, "classes", analysis::scatter_by_class(torch::rand({5, 2}), torch::tensor({0, 1}), {"a", "b"}, "t"));
  analysis::LinePlot plot("t", "x", "y");
  EXPECT_ERROR(InvalidArgument, "x, y", plot.add_series("s", {1, 2, 3}, {1, 2}));
  analysis::ScatterPlot scatter("t");
  EXPECT_ERROR(InvalidArgument, "group", scatter.add_point(3, 0.0, 0.0));
}

CATCH_TEST_CASE("datasets and batches and splits name what is wrong", "[data][errors][boundary]") {
  const auto images = torch::zeros({4, 1, 6, 6}, torch::kUInt8);
  const auto targets = torch::tensor({0, 1, 0, 1});
  EXPECT_ERROR(InvalidArgument, "images", data::ImageDataset(torch::zeros({4, 6, 6}, torch::kUInt8), targets, {"a", "b"}, "t"));
  EXPECT_ERROR(InvalidArgument, "targets", data::ImageDataset(images, torch::tensor({0, 1, 0}), {"a", "b"}, "t"));
  EXPECT_ERROR(InvalidArgument, "target", data::ImageDataset(images, torch::tensor({0, 1, 0, 5}), {"a", "b"}, "t"));
  const data::ImageDataset set(images, targets, {"a", "b"}, "t");
  EXPECT_ERROR(InvalidArgument, "subset index 9", set.subset(torch::tensor({0, 9})));
  EXPECT_ERROR(InvalidArgument, "batch_size", data::Batcher(set, torch::arange(4), data::BatcherOptions({0.5}, {0.5}).batch_size(0)));
  EXPECT_ERROR(InvalidArgument, "index 7", data::Batcher(set, torch::tensor({0, 7}), data::BatcherOptions({0.5}, {0.5})));
  EXPECT_ERROR(InvalidArgument, "mean", data::Batcher(set, torch::arange(4), data::BatcherOptions({0.5, 0.5, 0.5}, {0.5, 0.5, 0.5})));
  data::Batcher batcher(set, torch::arange(4), data::BatcherOptions({0.5}, {0.5}).batch_size(2));
  EXPECT_ERROR(InvalidArgument, "batch", batcher.seek(0, 5));
  EXPECT_ERROR(InvalidArgument, "validation", data::make_split(10, 10, 1));
  EXPECT_ERROR(InvalidArgument, "level", data::data_level(torch::arange(10), 0.0));
  EXPECT_ERROR(InvalidArgument, "images", data::channel_mean_std(torch::zeros({4, 4}, torch::kUInt8)));
  EXPECT_ERROR(InvalidArgument, "no-such-set", data::dataset_statistics("no-such-set"));
  EXPECT_ERROR(InvalidArgument, "no-such-set", data::load_dataset("no-such-set", "", data::Split::kTrain));
  EXPECT_ERROR(IoError, "/nonexistent/cifar", data::load_cifar10("/nonexistent/cifar"));
}

CATCH_TEST_CASE("the audio pipeline rejects empty audio and bad sizes by name", "[audio][errors][boundary]") {
  EXPECT_ERROR(InvalidArgument, "samples", audio::power_spectrogram({}));
  EXPECT_ERROR(InvalidArgument, "n_fft", audio::power_spectrogram(std::vector<float>(100, 0.1f), 7));
  EXPECT_ERROR(InvalidArgument, "hop", audio::power_spectrogram(std::vector<float>(100, 0.1f), 8, 0));
  EXPECT_ERROR(InvalidArgument, "fmax", audio::mel_filterbank(22050, 2048, 64, 0.0, 20000.0));
  EXPECT_ERROR(InvalidArgument, "power", audio::power_to_db(torch::Tensor()));
  EXPECT_ERROR(InvalidArgument, "image", audio::resize_label(torch::rand({5}), 4, 4));
  EXPECT_ERROR(InvalidArgument, "height", audio::resize_label(torch::rand({5, 5}), 0, 4));
  audio::Waveform empty;
  EXPECT_ERROR(InvalidArgument, "waveform", audio::speech_label(empty));
  audio::Waveform rate0;
  rate0.samples.assign(100, 0.1f);
  rate0.sample_rate = 0;
  EXPECT_ERROR(InvalidArgument, "rate", audio::resample_kaiser_best(rate0));
  EXPECT_ERROR(InvalidArgument, "magnitude", audio::griffin_lim(torch::rand({5})));
  EXPECT_ERROR(InvalidArgument, "label", audio::label_to_audio(torch::rand({4, 4, 4})));
  // frames above resize_label's limit are refused by label_to_audio itself, naming frames.
  EXPECT_ERROR(InvalidArgument, "frames must be in [2, 65536]", audio::label_to_audio(torch::rand({8, 8}), audio::InversionOptions().frames(70000)));
  EXPECT_ERROR(InvalidArgument, "filterbank", audio::mel_to_power(torch::rand({8, 5}), torch::rand({7, 9})));
}

CATCH_TEST_CASE("reports and grids name what is wrong", "[report][errors][boundary]") {
  labelrep_test::TempDir dir;
  train::ExperimentConfig base;
  EXPECT_ERROR(InvalidArgument, "labels", report::data_efficiency_grid(base, {}, {10}, 1, dir.file("runs")));
  EXPECT_ERROR(InvalidArgument, "level", report::data_efficiency_grid(base, {"category"}, {150}, 1, dir.file("runs")));
  EXPECT_ERROR(InvalidArgument, "results", report::summarize_grid({base}, {}));
  EXPECT_ERROR(IoError, dir.file("nothing"), report::find_runs(dir.file("nothing")));
  std::filesystem::create_directories(dir.file("empty"));
  EXPECT_ERROR(InvalidArgument, "no finished runs", report::write_report(dir.file("empty"), dir.file("out")));
}
