// `labelrep gradcam --run RUN_DIR --images 0,1,2 [--layer NAME] [--out DIR]`: Grad-CAM heatmaps of test
// images over the images, one PNG each (RUN_DIR/figures/gradcam by default); --list-layers names the layers;
// --faithfulness measures how faithful the maps are (ROAD curves as an SVG and JSON).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis_jobs.hpp"
#include "commands.hpp"
#include "labelrep/analysis/cam_faithfulness.hpp"
#include "labelrep/analysis/gradcam.hpp"
#include "labelrep/analysis/plot.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/train/trained_run.hpp"
#include "labelrep/train/trainer.hpp"

namespace labelrep::cli {
namespace {
std::string file_part(const std::string& name) {
  std::string out;
  for (char c : name) out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  return out;
}
const char* method_title(analysis::CamMethod method) {
  return method == analysis::CamMethod::kGradCamPlusPlus ? "Grad-CAM++" : method == analysis::CamMethod::kHiResCam ? "HiResCAM" : "Grad-CAM";
}
}  // namespace

void print_gradcam_layers(const std::string& run_dir, const std::string& device) {
  auto run = train::load_trained_run(run_dir, device);
  const auto test = train::load_experiment_data(run.config, data::Split::kTest);
  const auto layers = run.model->encoder().layers(test.height(), test.width());
  std::cout << fmt::format("{} ({}) on {}x{} images: the layers Grad-CAM can use (--layer NAME; default: the last stage)\n",
                           run.config.encoder, run_dir, test.height(), test.width());
  std::cout << fmt::format("{:<28} {:<12} {}\n", "layer", "type", "output [channels, h, w]");
  for (const auto& layer : layers)
    std::cout << fmt::format("{:<28} {:<12} [{}]{}\n", layer.name, layer.type, fmt::join(layer.output_shape, ", "),
                             layer.convolution() ? "  conv" : "");
}

namespace {

// A run's model and test images, prepared as for training, with the class each map explains.
struct CamInputs {
  train::TrainedRun run;
  data::ImageDataset test;
  analysis::CamMethod method = analysis::CamMethod::kGradCam;
  analysis::CamScore score = analysis::CamScore::kMargin;
  torch::Tensor images;                    // [N, C, H, W] on the job's device
  torch::Tensor truth, predicted, targets;  // [N] on the CPU; predicted only where asked for
};

// The test images `indices`, or when it is empty the first `first` (0: all). The model's predictions
// (a forward pass over every image) only where they are asked for or the maps explain them.
CamInputs prepare_cam_inputs(const GradcamJob& job, std::vector<std::int64_t> indices, std::int64_t first, bool with_predictions) {
  analysis::CamMethod method;
  try {
    method = analysis::parse_cam_method(job.method);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("--method: {}", error_reason(e)));
  }
  analysis::CamScore score;
  try {
    score = analysis::parse_cam_score(job.score);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("--score: {}", error_reason(e)));
  }
  auto run = train::load_trained_run(job.run, job.device);
  auto test = train::load_experiment_data(run.config, data::Split::kTest);
  CamInputs in{std::move(run), std::move(test), method, score, {}, {}, {}, {}};
  if (indices.empty())
    for (std::int64_t i = 0; i < (first > 0 ? std::min(first, in.test.size()) : in.test.size()); ++i) indices.push_back(i);
  for (auto i : indices)
    if (i < 0 || i >= in.test.size())
      throw InvalidArgument(fmt::format("--images {}: the {} test set has images 0..{}", i, in.run.config.dataset, in.test.size() - 1));
  const std::int64_t classes = in.run.labels->num_classes();
  std::int64_t fixed_class = -1;
  if (job.target != "true" && job.target != "predicted") {
    std::size_t used = 0;
    try {
      fixed_class = std::stoll(job.target, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != job.target.size() || fixed_class < 0 || fixed_class >= classes)
      throw InvalidArgument(fmt::format("--class {}: expected 'true', 'predicted' or a class index in 0..{}", job.target, classes - 1));
  }
  auto batches = train::evaluation_batches(in.test, torch::tensor(indices, torch::kLong), in.run.statistics,
                                           static_cast<std::int64_t>(indices.size()));
  data::Batch batch;
  batches.start_epoch(0);
  batches.next(batch);
  in.images = batch.images.to(torch::Device(job.device));
  if (with_predictions || job.target == "predicted") {
    torch::NoGradGuard no_grad;
    const eval::NearestNeighborEvaluator evaluator(in.run.labels);
    std::vector<torch::Tensor> parts;
    for (std::int64_t begin = 0; begin < in.images.size(0); begin += 500)
      parts.push_back(evaluator.predict(in.run.model->forward(in.images.slice(0, begin, begin + 500))).to(torch::kCPU));
    in.predicted = torch::cat(parts, 0);
  }
  in.truth = batch.targets.to(torch::kCPU);
  in.targets = job.target == "true" ? in.truth : job.target == "predicted" ? in.predicted : torch::full_like(in.truth, fixed_class);
  return in;
}

// What a map's file names add to the plain ones: the layer, then the method and the score where they
// are not the defaults ("gradcam++" -> "gradcampp").
std::string map_file_suffix(const GradcamJob& job, const CamInputs& in) {
  std::string method_part;
  if (in.method != analysis::CamMethod::kGradCam)
    for (char c : std::string("_") + analysis::cam_method_name(in.method)) method_part += c == '+' ? 'p' : c;
  const std::string score_part = in.score != analysis::CamScore::kMargin ? std::string("_") + analysis::cam_score_name(in.score) : "";
  return (job.layer.empty() ? "" : "_at-" + file_part(job.layer)) + method_part + score_part;
}

analysis::GradCamOptions cam_options(const GradcamJob& job, const CamInputs& in) {
  return analysis::GradCamOptions().layer(job.layer).method(in.method).score(in.score);
}

std::string percent(double share) { return fmt::format("{:.1f}%", 100.0 * share); }

}  // namespace

std::vector<std::string> run_gradcam_job(const GradcamJob& job) {
  if (job.images.empty()) throw InvalidArgument("--images: give at least one test image index");
  auto in = prepare_cam_inputs(job, job.images, 0, /*with_predictions=*/true);
  const std::string out_dir = !job.out.empty() ? job.out : (std::filesystem::path(default_figures_dir(job.run)) / "gradcam").string();
  create_output_directory(out_dir);
  const auto heat = analysis::grad_cam(in.run.model, in.images, in.targets, *in.run.labels, cam_options(job, in)).to(torch::kCPU);
  const auto& names = in.test.class_names();
  auto name = [&](const torch::Tensor& ids, std::size_t k) { return names[static_cast<std::size_t>(ids[static_cast<std::int64_t>(k)].item<std::int64_t>())]; };
  const std::string suffix = map_file_suffix(job, in);
  std::vector<std::string> written;
  for (std::size_t k = 0; k < job.images.size(); ++k) {
    const auto kk = static_cast<std::int64_t>(k);
    const auto picture = in.test.images()[job.images[k]].to(torch::kFloat32);  // as padded for the model, before normalising
    const auto path = fmt::format("{}/{:05d}_{}_cam-{}{}.png", out_dir, job.images[k], file_part(name(in.truth, k)),
                                  file_part(name(in.targets, k)), suffix);
    analysis::write_gradcam_overlay(path, picture, heat[kk], job.alpha, job.min_side);
    std::cout << fmt::format("test image {} ({}; predicted {}): {} for {}{}{} -> {}\n", job.images[k], name(in.truth, k), name(in.predicted, k),
                             method_title(in.method), name(in.targets, k), job.layer.empty() ? "" : " at " + job.layer,
                             in.score == analysis::CamScore::kLabel ? " (label score)" : "", path);
    written.push_back(path);
  }
  return written;
}

std::string run_faithfulness_job(const FaithfulnessJob& job) {
  if (job.limit < 0) throw InvalidArgument(fmt::format("--limit {} must be 0 (all) or positive", job.limit));
  if (!job.cam.out.empty() && std::filesystem::path(job.cam.out).extension() != ".svg")
    throw InvalidArgument(fmt::format("--out {}: with --faithfulness, name the .svg file (its .json goes beside it)", job.cam.out));
  analysis::Imputation imputation;
  try {
    imputation = analysis::parse_imputation(job.imputation);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("--imputation: {}", error_reason(e)));
  }
  const auto options = analysis::FaithfulnessOptions()
                           .fractions(job.fractions)
                           .imputation(imputation)
                           .noise(job.noise)
                           .seed(job.seed)
                           .batch_size(job.batch_size)
                           .progress(job.progress);
  try {
    analysis::check_faithfulness_options(options);  // before loading anything
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("--fractions/--noise/--batch-size: {}", error_reason(e)));
  }
  if (job.cam.images.empty() ? job.limit == 1 : job.cam.images.size() < 2)
    throw InvalidArgument("--images/--limit: ROAD needs at least two images (the baseline takes another image's map)");
  const auto started = std::chrono::steady_clock::now();
  auto in = prepare_cam_inputs(job.cam, job.cam.images, job.limit, /*with_predictions=*/false);
  const auto heat = analysis::grad_cam(in.run.model, in.images, in.targets, *in.run.labels, cam_options(job.cam, in));
  const auto result = analysis::cam_faithfulness(in.run.model, in.images, in.targets, in.run.labels, heat, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const std::string where = job.cam.layer.empty() ? "the last stage" : job.cam.layer;
  const std::string what = fmt::format("{} of the {} at {}", method_title(in.method),
                                       in.score == analysis::CamScore::kMargin ? "decision margin" : "label score", where);
  const std::string imputed = imputation == analysis::Imputation::kNoisyLinear
                                  ? fmt::format("noisy linear imputation, noise {:g}", job.noise)
                                  : "removed pixels set to 0, the training mean";
  std::cout << fmt::format("ROAD faithfulness of {} for the {} class, {} test images of {} ({}):\n", what,
                           job.cam.target == "true" || job.cam.target == "predicted" ? job.cam.target : "fixed " + job.cam.target,
                           result.images, in.run.config.dataset, imputed);
  const analysis::FaithfulnessCurve* curves[] = {&result.most_relevant_first, &result.least_relevant_first,
                                                 &result.baseline_most_relevant_first, &result.baseline_least_relevant_first};
  std::cout << fmt::format("{:>8} {:>10} {:>10} {:>15} {:>15}\n", "removed", "MoRF", "LeRF", "baseline MoRF", "baseline LeRF");
  for (std::size_t f = 0; f < job.fractions.size(); ++f)
    std::cout << fmt::format("{:>8} {:>10} {:>10} {:>15} {:>15}\n", percent(job.fractions[f]), percent(curves[0]->kept[f]),
                             percent(curves[1]->kept[f]), percent(curves[2]->kept[f]), percent(curves[3]->kept[f]));
  std::cout << fmt::format("{:>8} {:>10.3f} {:>10.3f} {:>15.3f} {:>15.3f}\n", "area", curves[0]->area(), curves[1]->area(), curves[2]->area(),
                           curves[3]->area());
  std::cout << "(share still decoded as the class; MoRF / LeRF: the most / least relevant pixels removed first; baseline: by another "
               "image's map)\n";
  const auto& gap = result.beyond_baseline_interval;
  std::cout << fmt::format("ROAD combined, the mean of (LeRF - MoRF)/2: {:.3f}; the baseline's {:.3f}; beyond the baseline {:.3f} "
                           "(95% CI {:.3f} to {:.3f}, paired bootstrap over the images) ({:.1f} s)\n",
                           result.road_combined(), result.baseline_road_combined(), result.combined_beyond_baseline(), gap.low, gap.high, seconds);
  if (result.significantly_beats_baseline())
    std::cout << "the maps know where each image's evidence is: MoRF falls below the baseline's, LeRF stays above it, by more than the "
                 "sample of images explains\n";
  else if (result.beats_baseline())
    std::cout << fmt::format("WARN: the maps beat the baseline on these {} images, but not by more than the sample explains (the gap's 95% "
                             "interval reaches {:.3f}); check more images (--limit)\n",
                             result.images, gap.low);
  else
    std::cout << fmt::format("WARN: the maps rank this image's pixels no better than another image's map does (MoRF {:.3f} against the "
                             "baseline's {:.3f}, LeRF {:.3f} against {:.3f})\n",
                             curves[0]->area(), curves[2]->area(), curves[1]->area(), curves[3]->area());

  const std::string imputation_part = imputation == analysis::Imputation::kConstant ? "_constant" : "";
  const std::string out = !job.cam.out.empty()
                              ? job.cam.out
                              : (std::filesystem::path(default_figures_dir(job.cam.run)) /
                                 ("gradcam_faithfulness" + map_file_suffix(job.cam, in) + imputation_part + ".svg"))
                                    .string();
  const auto parent = std::filesystem::path(out).parent_path();
  if (!parent.empty()) create_output_directory(parent.string());
  analysis::LinePlot plot(fmt::format("ROAD: {} ({} labels), combined {:.3f}, {:.3f} beyond the baseline", what, in.run.config.label,
                                      result.road_combined(), result.combined_beyond_baseline()),
                          "share of pixels removed", "share still decoded as the class");
  // One colour per order, the baseline dashed.
  for (std::size_t c = 0; c < 4; ++c)
    plot.add_series(curves[c]->name, curves[c]->fractions, curves[c]->kept, {}, analysis::SeriesStyle{c >= 2, static_cast<int>(c % 2)});
  plot.set_y_range(0.0, 1.0);
  write_file_atomically(out, plot.svg());

  nlohmann::json doc;
  doc["run"] = job.cam.run;
  doc["method"] = analysis::cam_method_name(in.method);
  doc["score"] = analysis::cam_score_name(in.score);
  doc["layer"] = job.cam.layer;
  doc["class"] = job.cam.target;
  doc["images"] = result.images;
  doc["imputation"] = analysis::imputation_name(imputation);
  doc["noise"] = job.noise;
  doc["seed"] = job.seed;
  doc["fractions"] = job.fractions;
  const char* keys[] = {"most_relevant_first", "least_relevant_first", "baseline_most_relevant_first", "baseline_least_relevant_first"};
  for (std::size_t c = 0; c < 4; ++c) {
    auto& entry = doc["curves"][keys[c]];
    entry["kept"] = curves[c]->kept;
    for (std::size_t f = 0; f < curves[c]->kept.size(); ++f) entry["kept_ci95"].push_back({curves[c]->kept_low[f], curves[c]->kept_high[f]});
    entry["area"] = curves[c]->area();
  }
  doc["road_combined"] = result.road_combined();
  doc["baseline_road_combined"] = result.baseline_road_combined();
  doc["combined_beyond_baseline"] = result.combined_beyond_baseline();
  doc["combined_beyond_baseline_ci95"] = {gap.low, gap.high};
  doc["beats_baseline"] = result.beats_baseline();
  doc["significantly_beats_baseline"] = result.significantly_beats_baseline();
  const auto json_path = std::filesystem::path(out).replace_extension(".json").string();
  write_file_atomically(json_path, doc.dump(2) + "\n");
  std::cout << fmt::format("wrote {} and {}\n", out, json_path);
  return out;
}

void add_gradcam_command(CLI::App& app) {
  auto job = std::make_shared<GradcamJob>();
  auto list = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("gradcam", "Grad-CAM heatmaps of a trained model over test images (PNG overlays)");
  cmd->add_option("--run", job->run, "Run directory (config.json, labels.npy, best.ckpt)")->required();
  cmd->add_option("--images", job->images, "Test image indices, comma-separated (e.g. 0,1,2)")->delimiter(',');
  cmd->add_option("--class", job->target,
                  "Whose evidence to show: 'true' (the image's class), 'predicted' (the model's nearest label or argmax), or a class index")
      ->capture_default_str();
  cmd->add_option("--layer", job->layer, "Encoder layer to explain, by qualified name (see --list-layers; default: the last stage)");
  cmd->add_option("--method", job->method, "gradcam (Grad-CAM), gradcam++ (Grad-CAM++) or hirescam (HiResCAM; equals Grad-CAM at the last stage)")
      ->capture_default_str();
  cmd->add_option("--score", job->score,
                  "margin (the class's score minus the best other class's) or label (the class's logit, or closeness to its label)")
      ->capture_default_str();
  cmd->add_flag("--list-layers", *list, "List the encoder's layers (name, type, output shape) and exit");
  cmd->add_option("--out", job->out, "Output directory (created if needed; default: RUN/figures/gradcam)");
  cmd->add_option("--alpha", job->alpha, "Heatmap opacity over the grey image, in [0, 1]")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-side", job->min_side, "Enlarge small images (nearest neighbour) to at least this many pixels")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{4096}));
  cmd->add_option("--device", job->device, "Where the model runs (cpu, cuda, cuda:1)")->capture_default_str();
  auto faithfulness = std::make_shared<FaithfulnessJob>();
  auto check = std::make_shared<bool>(false);
  cmd->add_flag("--faithfulness", *check,
                "Instead of pictures: how faithful the maps are (ROAD: remove pixels most/least relevant first, by this image's map "
                "and by another image's, and watch the decision); --out is then the .svg file");
  cmd->add_option("--limit", faithfulness->limit, "--faithfulness: the first N test images (0: all), unless --images names them")
      ->capture_default_str();
  cmd->add_option("--fractions", faithfulness->fractions, "--faithfulness: shares of pixels to remove, increasing, in [0, 1)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--imputation", faithfulness->imputation,
                  "--faithfulness: road (noisy linear imputation from the neighbours) or constant (0, the training mean)")
      ->capture_default_str();
  cmd->add_option("--noise", faithfulness->noise, "--faithfulness: standard deviation of ROAD's noise (normalised units)")->capture_default_str();
  cmd->add_option("--seed", faithfulness->seed, "--faithfulness: seed of the noise and the tie-breaking")->capture_default_str();
  cmd->add_option("--batch-size", faithfulness->batch_size, "--faithfulness: images per pass (each holds four imputed copies)")
      ->capture_default_str();
  cmd->callback([job, list, check, faithfulness] {
    if (*list) return print_gradcam_layers(job->run, job->device);
    if (*check) {
      faithfulness->cam = *job;
      run_faithfulness_job(*faithfulness);
      return;
    }
    run_gradcam_job(*job);
  });
}

}  // namespace labelrep::cli
