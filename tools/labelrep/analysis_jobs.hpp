#pragma once
// The analyses of a trained run (robustness sweep, t-SNE, Grad-CAM) as plain jobs, so that `labelrep
// attack`, `tsne`, `gradcam` and `demo` do them one way. Each job prints what it did and writes its files
// atomically; by default into the run directory, where `labelrep report` finds them:
//   RUN/attack.json                                   labelrep attack --run RUN
//   RUN/figures/tsne.svg (+ .npy)                     labelrep tsne --run RUN
//   RUN/figures/tsne_progression.svg (+ .npy)         labelrep tsne --run RUN --progression
//   RUN/figures/gradcam/*.png                         labelrep gradcam --run RUN
//   RUN/figures/gradcam_faithfulness*.svg (+ .json)   labelrep gradcam --run RUN --faithfulness
#include <cstdint>
#include <string>
#include <vector>

#include "labelrep/attack/attack.hpp"

namespace labelrep::cli {

std::string default_attack_file(const std::string& run);
std::string default_figures_dir(const std::string& run);

struct AttackJob {
  std::string run, out, device = "cpu", unit = "normalized", norm = "linf";
  std::vector<std::string> attacks = {"fgsm", "fgsm-targeted", "bim", "bim-targeted", "noise"};
  std::vector<double> epsilons = attack::paper_epsilons();
  bool epsilons_given = false;  ///< the user chose `epsilons` (an L2 sweep needs its own: the defaults are the paper's L∞ ones)
  std::int64_t steps = 5, apgd_steps = 0, limit = 0, batch_size = 256, restarts = 1, queries = 1000, target_classes = 9;
  bool target_classes_given = false;  ///< the user chose `target_classes` (then --attacks must hold an apgd-t)
  std::string per_image;  ///< non-empty: the per-image outcomes as .npy (this file and <stem>.target_hit.npy)
  double step_fraction = 0;
  bool has_threshold = false;  ///< false: the run's threshold
  double threshold = 0;
  std::uint64_t seed = 0;
  int threads = 0;
  bool channels_last = true, progress = true, unbounded_check = true;
};
/// Runs the sweep and writes its JSON (job.out, or default_attack_file(run)); returns the file.
std::string run_attack_job(const AttackJob& job);

struct RadiusJob {
  std::string run, out, device = "cpu", attack = "apgd-margin", unit = "normalized", norm = "linf";
  double max_epsilon = 0.3, step_fraction = 0;
  std::int64_t bisections = 10, steps = 5, queries = 1000, limit = 0, batch_size = 256, target_classes = 9;
  bool target_classes_given = false;  ///< the user chose `target_classes` (then --attack must be an apgd-t)
  std::uint64_t seed = 0;
  int threads = 0;
  bool channels_last = true, progress = true;
};
/// Each test image's robust radius (attack::minimal_epsilon): writes job.out (default RUN/radius.json)
/// and the radii as <stem>.npy (float64 [N]) beside it; returns the JSON file.
std::string run_radius_job(const RadiusJob& job);

struct TsneJob {
  std::string run, out, device = "cpu";
  std::int64_t limit = 2000, iterations = 1000;
  double perplexity = 30, theta = 0.5, learning_rate = 0;
  std::uint64_t seed = 0;
  bool exact = false;
  bool progression = false;  ///< one panel per snapshot (snapshots/) and the best weights, in one SVG
  /// Non-empty: also attack the mapped images (attack::parse_attack's names) at `eps` and place the
  /// adversarial images' features into the clean map (analysis::tsne_place), as a second panel.
  std::string attack;
  double eps = 0.1;
  std::string eps_unit = "normalized";
  std::string norm = "linf";  ///< the attack's ball: linf or l2
};
/// Writes the SVG (job.out, or figures/tsne.svg / tsne_progression.svg / tsne_<attack>_eps<eps>.svg in
/// the run); returns it.
std::string run_tsne_job(const TsneJob& job);

struct GradcamJob {
  std::string run, out, target = "true", device = "cpu", layer, method = "gradcam", score = "margin";
  std::vector<std::int64_t> images;
  double alpha = 0.5;
  std::int64_t min_side = 128;
};
/// Writes one PNG per image into job.out (or figures/gradcam in the run); returns the files.
std::vector<std::string> run_gradcam_job(const GradcamJob& job);

/// How faithful the job's maps are (analysis::cam_faithfulness): the first `limit` test images (0: all)
/// or job.images when given.
struct FaithfulnessJob {
  GradcamJob cam;  ///< run, device, layer, method, target (class), images; out: the SVG's path
  std::int64_t limit = 500, batch_size = 32;
  std::vector<double> fractions = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  std::string imputation = "road";
  double noise = 0.01;
  std::uint64_t seed = 0;
  bool progress = true;
};
/// Prints the curves and writes their SVG (job.cam.out, or figures/gradcam_faithfulness….svg in the
/// run) and a JSON beside it; returns the SVG.
std::string run_faithfulness_job(const FaithfulnessJob& job);
/// Prints the layers Grad-CAM can use for the run's encoder (at its image size).
void print_gradcam_layers(const std::string& run, const std::string& device);

}  // namespace labelrep::cli
