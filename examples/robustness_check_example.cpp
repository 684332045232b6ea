// Is a run's robustness real? Attack a trained run's test images, read the sweep's gradient-masking
// checks, and see where the attacked images land in the t-SNE map of the clean ones.
// Usage: robustness_check_example RUN_DIR [images] [out.svg]
//   RUN_DIR: a directory written by `labelrep train` (or `labelrep demo`: labelrep-demo/runs/...).
#include <labelrep/labelrep.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) try {
  namespace lr = labelrep;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s RUN_DIR [images] [out.svg]\n", argv[0]);
    return 2;
  }
  auto run = lr::train::load_trained_run(argv[1]);  // its config, labels.npy and best weights
  const auto test = lr::train::load_experiment_data(run.config, lr::data::Split::kTest);
  const std::int64_t n = std::min<std::int64_t>(argc > 2 ? std::stoll(argv[2]) : 500, test.size());
  const std::string out = argc > 3 ? argv[3] : "robustness_tsne.svg";
  const auto indices = torch::arange(n);

  // 1. The paper's attacks (on the training loss), BIM, APGD and AutoAttack's APGD-T (targeted searches
  // at each image's 9 most likely other classes) on the decision margin, and two attacks that need no
  // gradient: random noise and the black-box Square. The sweep checks itself: a gradient
  // attack that Square beats, or an unbounded attack that leaves images correct, is following a
  // misleading gradient.
  const auto sweep = lr::attack::run_sweep(run.model, run.labels, test, indices,
                                           lr::attack::SweepOptions(run.statistics)
                                               .attacks({"fgsm", "bim", "bim-margin", "apgd-margin", "apgd-t-margin", "noise", "square"})
                                               .epsilons({0.0, 0.05, 0.1, 0.2})
                                               .queries(500)
                                               .threshold(run.config.threshold));
  for (const auto& curve : sweep.curves)
    for (const auto& point : curve.points)
      std::printf("%-14s eps %.2f: accuracy %.1f%%\n", curve.attack.c_str(), point.epsilon, 100 * point.accuracy);
  for (const auto& check : sweep.masking_checks)
    std::printf("%s %s %s: %s\n", check.passed ? "ok  " : "WARN", check.check.c_str(), check.attack.c_str(), check.detail.c_str());

  // 2. Clean features and their map; BIM at eps 0.1 on the same images, placed into that map.
  auto batches = lr::train::evaluation_batches(test, indices, run.statistics, 250);
  std::vector<torch::Tensor> clean, attacked, classes;
  const auto bim = lr::attack::AttackOptions(run.statistics).method(lr::attack::Method::kIterative).epsilon(0.1);
  lr::data::Batch batch;
  batches.start_epoch(0);
  while (batches.next(batch)) {
    const auto adversarial = lr::attack::perturb(run.model, *run.labels, batch.images, batch.targets, bim);
    torch::NoGradGuard no_grad;
    clean.push_back(run.model->features(batch.images));
    attacked.push_back(run.model->features(adversarial));
    classes.push_back(batch.targets);
  }
  const auto features = torch::cat(clean), ids = torch::cat(classes);
  const auto map = lr::analysis::tsne(features, lr::analysis::TsneOptions().perplexity(std::min(30.0, (n - 2) / 3.0)));
  const auto placed = lr::analysis::tsne_place(features, map, torch::cat(attacked));

  // An attacked image "stays home" when its nearest clean image in the map is of its own class.
  const auto nearest = std::get<1>(torch::cdist(placed, map).min(1));
  const double home = (ids.index_select(0, nearest) == ids).to(torch::kDouble).mean().item<double>();
  std::printf("BIM at eps 0.1: %.1f%% of the attacked images land nearest a clean image of their own class\n", 100 * home);

  // Two panels on the same axes: clean by class, attacked by true class.
  auto left = lr::analysis::scatter_by_class(map, ids, test.class_names(), "clean");
  auto right = lr::analysis::scatter_by_class(placed, ids, test.class_names(), "BIM, eps 0.1 (true class)");
  const auto both = torch::cat({map, placed});
  const auto low = std::get<0>(both.min(0)), high = std::get<0>(both.max(0));
  for (auto* plot : {&left, &right})
    plot->extend_range(low[0].item<double>(), high[0].item<double>(), low[1].item<double>(), high[1].item<double>());
  lr::write_file_atomically(out, lr::analysis::svg_panels({left.svg(), right.svg()}, 2, "Where BIM moves the test images"));
  std::printf("wrote %s\n", out.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "robustness_check_example: %s\n", e.what());
  return 1;
}
