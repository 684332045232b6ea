// Which saliency map can you trust? Grad-CAM, Grad-CAM++ and HiResCAM of the decision margin and of the
// classic label score, at the last stage and at an early layer of a trained run, each checked with ROAD:
// remove the pixels a map ranks highest (or lowest), fill them in from their neighbours, and watch the
// decision.
// Usage: saliency_check_example RUN_DIR [images] [early layer]
//   RUN_DIR: a directory written by `labelrep train` (or `labelrep demo`: labelrep-demo/runs/...).
//   early layer: a name from `labelrep gradcam --run RUN_DIR --list-layers` (default body.5, the small
//   CNN's ReLU after its second convolution).
#include <labelrep/labelrep.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <string>

int main(int argc, char** argv) try {
  namespace lr = labelrep;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s RUN_DIR [images] [early layer]\n", argv[0]);
    return 2;
  }
  auto run = lr::train::load_trained_run(argv[1]);  // its config, labels.npy and best weights
  const auto test = lr::train::load_experiment_data(run.config, lr::data::Split::kTest);
  const std::int64_t n = std::min<std::int64_t>(argc > 2 ? std::stoll(argv[2]) : 300, test.size());
  const std::string early = argc > 3 ? argv[3] : "body.5";

  // The first n test images, prepared as training prepared them (padding, normalisation).
  auto batches = lr::train::evaluation_batches(test, torch::arange(n), run.statistics, n);
  lr::data::Batch batch;
  batches.start_epoch(0);
  batches.next(batch);

  std::printf("%-10s %-7s %-11s %7s %7s %7s %7s %9s %7s %17s  %s\n", "method", "score", "layer", "MoRF", "(base)", "LeRF", "(base)",
              "combined", "beyond", "(95% interval)", "faithful");
  for (const auto method : {lr::analysis::CamMethod::kGradCam, lr::analysis::CamMethod::kGradCamPlusPlus, lr::analysis::CamMethod::kHiResCam})
    for (const auto score : {lr::analysis::CamScore::kMargin, lr::analysis::CamScore::kLabel})
      for (const std::string layer : {std::string(), early}) {
        const auto heat = lr::analysis::grad_cam(run.model, batch.images, batch.targets, *run.labels,
                                                 lr::analysis::GradCamOptions().method(method).score(score).layer(layer));
        const auto road = lr::analysis::cam_faithfulness(run.model, batch.images, batch.targets, run.labels, heat);
        const auto& gap = road.beyond_baseline_interval;
        std::printf("%-10s %-7s %-11s %7.3f %7.3f %7.3f %7.3f %9.3f %7.3f  [%6.3f, %6.3f]  %s\n", lr::analysis::cam_method_name(method),
                    lr::analysis::cam_score_name(score), layer.empty() ? "last stage" : layer.c_str(), road.most_relevant_first.area(),
                    road.baseline_most_relevant_first.area(), road.least_relevant_first.area(), road.baseline_least_relevant_first.area(),
                    road.road_combined(), road.combined_beyond_baseline(), gap.low, gap.high,
                    road.significantly_beats_baseline() ? "yes" : road.beats_baseline() ? "not significant" : "no");
      }
  std::printf("MoRF / LeRF: share of the %lld images still decoded as their class, averaged over 0-90%% of the pixels removed most / "
              "least relevant first; (base): the same by another image's map; combined: mean (LeRF - MoRF)/2; beyond: minus the "
              "baseline's, with its 95%% interval (paired bootstrap over the images); faithful: beats the baseline's areas and the interval is "
              "above 0.\n",
              static_cast<long long>(n));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "saliency_check_example: %s\n", e.what());
  return 1;
}
