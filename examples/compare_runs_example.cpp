// Is one run really more accurate, or more robust, than another? Two trained runs (say speech and
// categorical labels), the same test images, the same attacks: compare them image by image.
// Usage: compare_runs_example RUN_A RUN_B [images]
//   RUN_A, RUN_B: directories written by `labelrep train` on the same dataset (or `labelrep demo`:
//   labelrep-demo/runs/...). images: how many of the first test images to attack (default 300).
#include <labelrep/labelrep.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) try {
  namespace lr = labelrep;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s RUN_A RUN_B [images]\n", argv[0]);
    return 2;
  }
  auto a = lr::train::load_trained_run(argv[1]);
  auto b = lr::train::load_trained_run(argv[2]);
  if (a.config.dataset != b.config.dataset) {
    std::fprintf(stderr, "compare_runs_example: %s is on %s, %s on %s; compare runs of one dataset\n", argv[1], a.config.dataset.c_str(), argv[2],
                 b.config.dataset.c_str());
    return 2;
  }
  const auto test = lr::train::load_experiment_data(a.config, lr::data::Split::kTest);

  // 1. Clean accuracy on every test image (in fp32, with each run's evaluation views): evaluate() keeps
  // each image's true and predicted class. A run's test_predictions.npy holds those of its own test,
  // which on a GPU may have run in bf16.
  const auto correct_on_test = [&](lr::train::TrainedRun& run) {
    const lr::eval::NearestNeighborEvaluator evaluator(run.labels);
    auto batches = lr::train::evaluation_batches(test, torch::arange(test.size()), run.statistics);
    const auto views = run.config.mirror_evaluation ? lr::train::EvaluationViews::kImageAndMirror : lr::train::EvaluationViews::kImage;
    const auto result = lr::train::evaluate(run.model, evaluator, batches, lr::train::Precision::kFloat32, views);
    return result.predictions == result.targets;
  };
  const auto clean = lr::eval::compare_paired(correct_on_test(a), correct_on_test(b));
  std::printf("test accuracy, %lld images: %.2f%% against %.2f%%, difference %+.2f points [%+.2f, %+.2f], only A right %lld, only B %lld, "
              "McNemar p = %.2g\n",
              static_cast<long long>(clean.images), 100 * clean.first_accuracy, 100 * clean.second_accuracy, 100 * clean.difference,
              100 * clean.low, 100 * clean.high, static_cast<long long>(clean.only_first), static_cast<long long>(clean.only_second),
              clean.p_value);

  // 2. Robust accuracy: both runs attacked by the same attacks (the same seed: the same targets and
  // starts) on the same first N test images, each image's outcome kept.
  const std::int64_t n = std::min<std::int64_t>(argc > 3 ? std::stoll(argv[3]) : 300, test.size());
  const std::vector<double> epsilons{0.0, 0.05, 0.1};
  const auto sweep = [&](lr::train::TrainedRun& run) {
    return lr::attack::run_sweep(run.model, run.labels, test, torch::arange(n),
                                 lr::attack::SweepOptions(run.statistics)
                                     .attacks({"fgsm", "bim", "apgd-margin", "noise"})
                                     .epsilons(epsilons)
                                     .per_image(true)
                                     .progress(false));
  };
  const auto sweep_a = sweep(a), sweep_b = sweep(b);
  std::printf("worst case over fgsm, bim, apgd-margin and noise, %lld images:\n", static_cast<long long>(n));
  for (std::size_t e = 0; e < epsilons.size(); ++e) {
    // An image is robust when no attack broke it: all over the attacks' axis.
    const auto index = static_cast<std::int64_t>(e);
    const auto c = lr::eval::compare_paired(sweep_a.per_image_correct.select(1, index).all(0), sweep_b.per_image_correct.select(1, index).all(0));
    std::printf("  eps %.2f: %.1f%% against %.1f%%, difference %+.1f points [%+.1f, %+.1f], only A kept %lld, only B %lld, p = %.2g%s\n",
                epsilons[e], 100 * c.first_accuracy, 100 * c.second_accuracy, 100 * c.difference, 100 * c.low, 100 * c.high,
                static_cast<long long>(c.only_first), static_cast<long long>(c.only_second), c.p_value,
                c.p_value < 0.05 ? "" : " (no significant difference)");
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "compare_runs_example: %s\n", e.what());
  return 1;
}
