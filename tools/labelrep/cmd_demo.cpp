// `labelrep demo`: the main job. Trains a classifier on Fashion-MNIST twice with the same seed and
// encoder — once regressing speech labels (composite Gaussians where text-to-speech is not built in),
// once with categorical labels — evaluates both on the test set, looks at both (a small attack sweep,
// a t-SNE progression over the training snapshots, Grad-CAM at the last stage and HiResCAM at an early
// layer with ROAD's check of each) and writes a report with all of it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "analysis_jobs.hpp"
#include "commands.hpp"
#include "labelrep/audio/waveform.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/eval/paired_comparison.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/report/grid.hpp"
#include "labelrep/report/report.hpp"
#include "labelrep/train/experiment.hpp"
#include "labelrep/train/run_directory.hpp"
#include "labelrep/train/trained_run.hpp"

namespace labelrep::cli {
namespace {

struct DemoAnalysis {
  bool enabled = true;
  std::int64_t attack_images = 500, tsne_images = 1000, cam_images = 500;
};

// The demo sweep's ε (normalised units): the paper's range, thinned.
const std::vector<double> kDemoEpsilons = {0.0, 0.05, 0.1, 0.2};

// Where analyse_run keeps a run's per-image attack outcomes.
std::string per_image_file(const std::string& run_dir) { return (std::filesystem::path(run_dir) / "attack_per_image.npy").string(); }

// The paired comparison of the two runs' worst case over the sweep's attacks on the same images: the
// answer to "is it more robust?" that two percentages cannot give.
void print_paired_robustness(const std::string& high_dir, const std::string& high_kind, const std::string& category_dir,
                             const std::vector<double>& epsilons) {
  // Each run's outcomes, bool [attacks, eps, images], as analyse_run's sweep wrote them.
  const auto outcomes = [&](const std::string& run_dir) {
    const auto file = per_image_file(run_dir);
    auto t = read_npy(file);
    if (t.scalar_type() != torch::kBool || t.dim() != 3 || t.size(1) != static_cast<std::int64_t>(epsilons.size()))
      throw FormatError(file, FormatError::kNoOffset, fmt::format("not the demo sweep's per-image outcomes: expected bool [attacks, {}, images]",
                                                                  epsilons.size()));
    return t;
  };
  const auto high = outcomes(high_dir), category = outcomes(category_dir);
  if (high.sizes() != category.sizes())
    throw FormatError(per_image_file(high_dir), FormatError::kNoOffset,
                      fmt::format("its outcomes [{}] do not pair with {} [{}]", fmt::join(high.sizes(), ", "), per_image_file(category_dir),
                                  fmt::join(category.sizes(), ", ")));
  std::cout << fmt::format("\n{} vs category labels on the same {} test images, worst case over the attacks (paired):\n", high_kind, high.size(2));
  std::cout << fmt::format("{:>6} {:>10} {:>10} {:>26} {:>16} {:>9}\n", "eps", high_kind, "category", "difference [95% interval]",
                           "only one keeps", "p");
  for (std::size_t e = 0; e < epsilons.size(); ++e) {
    const auto index = static_cast<std::int64_t>(e);
    const auto c = eval::compare_paired(high.select(1, index).all(0), category.select(1, index).all(0));
    std::cout << fmt::format("{:>6g} {:>9.2f}% {:>9.2f}% {:>26} {:>16} {:>9.2g}\n", epsilons[e], 100 * c.first_accuracy, 100 * c.second_accuracy,
                             fmt::format("{:+.2f} [{:+.2f}, {:+.2f}]", 100 * c.difference, 100 * c.low, 100 * c.high),
                             fmt::format("{} / {}", c.only_first, c.only_second), c.p_value);
  }
  std::cout << "(points; p: McNemar's exact test, below 0.05 a difference the sample of images does not explain)\n";
}

// The two runs' robust radii (analyse_run's radius.npy) compared image by image: how many images need a
// larger ε in one model than in the other, whatever ε one would pick.
void print_paired_radius(const std::string& high_dir, const std::string& high_kind, const std::string& category_dir) {
  const auto radii = [](const std::string& run_dir) {
    const auto file = (std::filesystem::path(run_dir) / "radius.npy").string();
    auto t = read_npy(file);
    if (t.scalar_type() != torch::kDouble || t.dim() != 1) throw FormatError(file, FormatError::kNoOffset, "not a run's radii: expected float64 [N]");
    return t;
  };
  const auto high = radii(high_dir), category = radii(category_dir);
  if (high.sizes() != category.sizes())
    throw FormatError(high_dir + "/radius.npy", FormatError::kNoOffset, fmt::format("its radii do not pair with {}/radius.npy", category_dir));
  const auto larger = (high > category).sum().item<std::int64_t>(), smaller = (high < category).sum().item<std::int64_t>();
  // The median as `labelrep radius` summed it up in radius.json (null: +inf or none).
  const auto median = [](const std::string& run_dir) {
    const auto file = (std::filesystem::path(run_dir) / "radius.json").string();
    const auto j = nlohmann::json::parse(read_file(file, 1 << 20), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("median_radius")) throw FormatError(file, FormatError::kNoOffset, "not a radius file: no 'median_radius'");
    return j["median_radius"].is_number() ? j["median_radius"].get<double>() : std::numeric_limits<double>::infinity();
  };
  const double p = eval::mcnemar_exact_p_value(larger, smaller);
  std::cout << fmt::format("robust radius under apgd-margin (the smallest eps that breaks each image, paired over {} images): median {:.4g} "
                           "for {}, {:.4g} for category; larger for {} images, smaller for {}; sign test p = {:.2g}{}\n",
                           high.size(0), median(high_dir), high_kind, median(category_dir), larger, smaller, p,
                           p < 0.05 ? "" : " (no significant difference)");
}

// The two runs' test accuracy compared image by image over the whole test set (their
// test_predictions.npy): is the high-dimensional label about as accurate, as the paper's Table 1 says?
void print_paired_accuracy(const train::ExperimentResult& high, const train::ExperimentResult& category) {
  const auto file_of = [](const train::ExperimentResult& r) { return (std::filesystem::path(r.run_dir) / train::kTestPredictionsFile).string(); };
  for (const auto* r : {&high, &category})
    if (!std::filesystem::exists(file_of(*r))) {
      std::cout << fmt::format("(no paired comparison: {} has no {}; it was trained by an earlier labelrep)\n", r->run_dir,
                               train::kTestPredictionsFile);
      return;
    }
  const auto a = read_npy(file_of(high)), b = read_npy(file_of(category));
  if (a.dim() != 2 || a.sizes() != b.sizes() || !torch::equal(a.select(1, 0), b.select(1, 0)))
    throw FormatError(file_of(high), FormatError::kNoOffset, fmt::format("not the same test images as {}", file_of(category)));
  const auto c = eval::compare_paired(a.select(1, 0) == a.select(1, 1), b.select(1, 0) == b.select(1, 1));
  std::cout << fmt::format("paired over all {} test images: {} {:+.2f} points [{:+.2f}, {:+.2f}] against category; {} images only {} "
                           "labels get right, {} only category; McNemar's p = {:.2g}{}\n",
                           c.images, high.label_kind, 100 * c.difference, 100 * c.low, 100 * c.high, c.only_first, high.label_kind,
                           c.only_second, c.p_value, c.p_value < 0.05 ? "" : " (no significant difference)");
}

// The robustness sweep, t-SNE (with the attacked images placed into it) and Grad-CAM of one trained
// run, into the run directory (where the
// report finds them). Small on purpose: the demo shows the figures, the paper's numbers need the
// full test set (docs/reproducing-the-paper.md).
void analyse_run(const std::string& run_dir, const DemoAnalysis& analysis, const std::string& device) {
  AttackJob attack;
  attack.run = run_dir;
  attack.device = device;
  // The paper's attacks, BIM, APGD and AutoAttack's APGD-T on the decision margin, and the
  // gradient-free baselines the gradient-masking checks compare them with (docs/robustness.md).
  attack.attacks = {"fgsm", "bim", "bim-margin", "apgd-margin", "apgd-t-margin", "noise", "square"};
  attack.queries = 500;
  attack.epsilons = kDemoEpsilons;
  attack.limit = analysis.attack_images;
  attack.progress = false;
  // Per image, so that the report (and the summary below) can compare the two runs image by image.
  attack.per_image = per_image_file(run_dir);
  run_attack_job(attack);
  // Each image's smallest breaking ε under the strongest gradient attack of the sweep, over its ε range.
  RadiusJob radius;
  radius.run = run_dir;
  radius.device = device;
  radius.max_epsilon = kDemoEpsilons.back();
  radius.bisections = 8;
  radius.limit = analysis.attack_images;
  radius.progress = false;
  run_radius_job(radius);

  TsneJob tsne;
  tsne.run = run_dir;
  tsne.device = device;
  tsne.limit = analysis.tsne_images;
  tsne.perplexity = std::min(30.0, static_cast<double>(analysis.tsne_images - 1) / 3.0 - 1.0);
  tsne.iterations = 500;
  tsne.progression = !train::RunDirectory::open_read_only(run_dir).snapshots().empty();
  run_tsne_job(tsne);
  // Where BIM at ε = 0.1 moves the same images, placed into the map of their clean features.
  TsneJob placed = tsne;
  placed.progression = false;
  placed.attack = "bim";
  placed.eps = 0.1;
  run_tsne_job(placed);

  // Grad-CAM for the first six test images at an early layer and at the last stage (Figure 9), and how
  // faithful each layer's maps are (ROAD, over the first cam_images test images).
  GradcamJob cam;
  cam.run = run_dir;
  cam.device = device;
  cam.images = {0, 1, 2, 3, 4, 5};
  cam.min_side = 96;
  const auto check_faithfulness = [&](const GradcamJob& pictures) {
    FaithfulnessJob road;
    road.cam = pictures;
    road.cam.images.clear();
    road.limit = analysis.cam_images;
    road.progress = false;
    run_faithfulness_job(road);
  };
  run_gradcam_job(cam);
  check_faithfulness(cam);
  // The early layer: the activation after the second convolution (its ReLU, or the ResNet block holding
  // it). A convolution's own output comes before batch norm, whose shift leaves little after
  // Grad-CAM's ReLU in a trained model. HiResCAM there: by ROAD, Grad-CAM's maps at that layer knew
  // little more about each image than another image's map, HiResCAM's clearly more (docs/visualisation.md).
  const auto layers = train::load_trained_run(run_dir, device).model->encoder().layers();
  int convolutions = 0;
  for (const auto& layer : layers) {
    convolutions += layer.convolution() ? 1 : 0;
    if (convolutions >= 2 && (layer.type == "ReLU" || layer.type == "BasicBlock")) {
      cam.layer = layer.name;
      cam.method = "hirescam";
      run_gradcam_job(cam);
      check_faithfulness(cam);
      break;
    }
  }
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto config = std::make_shared<train::ExperimentConfig>();
  config->encoder = "small-cnn";
  config->epochs = 4;
  auto out = std::make_shared<std::string>("labelrep-demo");
  auto label = std::make_shared<std::string>();
  auto analysis = std::make_shared<DemoAnalysis>();
  auto* cmd = app.add_subcommand("demo", "The demo experiment: speech vs categorical labels on Fashion-MNIST, with a report");
  cmd->add_option("--out", *out, "Output directory (runs/ and report/ inside)")->capture_default_str();
  cmd->add_option("--label", *label, "The high-dimensional label (default: speech if text-to-speech is built in, else composite)");
  cmd->add_option("--attack-images", analysis->attack_images,
                  "Test images in each run's attack sweep (FGSM, 5-step BIM on the loss and on the margin, 5-step APGD and APGD-T "
                  "over 9 target classes on the margin, noise, and Square with 500 queries)")
      ->capture_default_str();
  cmd->add_option("--tsne-images", analysis->tsne_images, "Test images in each run's t-SNE maps (at least 16)")->capture_default_str();
  cmd->add_option("--cam-images", analysis->cam_images, "Test images in each run's Grad-CAM faithfulness check (ROAD; at least 2)")
      ->capture_default_str();
  cmd->add_flag("!--no-analysis", analysis->enabled, "Skip the attack sweep, t-SNE, Grad-CAM and its ROAD check (train and report only)");
  add_experiment_options(*cmd, *config);
  cmd->callback([config, out, label, analysis] {
    if (analysis->enabled && analysis->attack_images < 1)
      throw InvalidArgument(fmt::format("--attack-images must be at least 1, got {}", analysis->attack_images));
    if (analysis->enabled && analysis->tsne_images < 16)
      throw InvalidArgument(fmt::format("--tsne-images must be at least 16, got {}", analysis->tsne_images));
    if (analysis->enabled && analysis->cam_images < 2)
      throw InvalidArgument(fmt::format("--cam-images must be at least 2, got {}", analysis->cam_images));
    // label_kinds() lists speech in every build (it can come from WAV files); text needs espeak-ng.
    const bool has_speech = audio::has_text_to_speech();
    const std::string high = !label->empty() ? *label : has_speech ? "speech" : "composite";
    if (high == "category")
      throw InvalidArgument("--label category: the demo compares a high-dimensional label with category labels; give another label");
    const std::string runs = (std::filesystem::path(*out) / "runs").string();
    // Snapshots after every epoch but the last (the best weights close the t-SNE progression).
    if (analysis->enabled && config->snapshot_epochs.empty() && config->snapshot_every == 0)
      for (std::int64_t e = 1; e < config->epochs; ++e) config->snapshot_epochs.push_back(e);
    std::vector<train::ExperimentResult> results;
    for (const std::string kind : {high, std::string("category")}) {
      auto c = *config;
      c.label = kind;
      // A label file is named by its file name: its path would nest directories where the report does not look.
      c.out = (std::filesystem::path(runs) / fmt::format("{}-{}-seed{}", c.dataset, report::label_tag(kind), c.seed)).string();
      std::cout << fmt::format("training {} with {} labels ({} epochs on {})...\n", c.encoder, kind, c.epochs, c.dataset) << std::flush;
      results.push_back(train::run_experiment(c));
      print_experiment_result(results.back());
    }
    std::cout << fmt::format("\n{:<12} {:>14} {:>20}\n", "labels", "test accuracy", "threshold accuracy");
    for (const auto& r : results)
      std::cout << fmt::format("{:<12} {:>13.2f}% {:>19}\n", r.label_kind, 100 * r.test_accuracy,
                               r.has_threshold ? fmt::format("{:.2f}%", 100 * r.test_threshold_accuracy) : "–");
    print_paired_accuracy(results[0], results[1]);
    if (analysis->enabled) {
      const auto started = std::chrono::steady_clock::now();
      for (const auto& r : results) {
        std::cout << fmt::format("\nanalysing {} (attacks, t-SNE, Grad-CAM)...\n", r.run_dir) << std::flush;
        analyse_run(r.run_dir, *analysis, config->device);
      }
      print_paired_robustness(results[0].run_dir, results[0].label_kind, results[1].run_dir, kDemoEpsilons);
      print_paired_radius(results[0].run_dir, results[0].label_kind, results[1].run_dir);
      std::cout << fmt::format("analysis: {:.1f} s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    report::ReportOptions options;
    options.title = "labelrep demo: speech vs categorical labels on " + config->dataset;
    const std::string report_dir = (std::filesystem::path(*out) / "report").string();
    report::write_report(runs, report_dir, options);
    std::cout << "report: " << report_dir << "/index.html (and report.md)\n";
  });
}

}  // namespace labelrep::cli
