// `labelrep gradcam --run RUN_DIR --images 0,1,2 [--layer NAME] [--out DIR]`: Grad-CAM heatmaps of test
// images over the images, one PNG each (RUN_DIR/figures/gradcam by default); --list-layers names the layers.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <filesystem>
#include <iostream>

#include "analysis_jobs.hpp"
#include "commands.hpp"
#include "labelrep/analysis/gradcam.hpp"
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

std::vector<std::string> run_gradcam_job(const GradcamJob& job) {
  if (job.images.empty()) throw InvalidArgument("--images: give at least one test image index");
  analysis::CamMethod method;
  try {
    method = analysis::parse_cam_method(job.method);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("--method: {}", error_reason(e)));
  }
  auto run = train::load_trained_run(job.run, job.device);
  const auto test = train::load_experiment_data(run.config, data::Split::kTest);
  for (auto i : job.images)
    if (i < 0 || i >= test.size())
      throw InvalidArgument(fmt::format("--images {}: the {} test set has images 0..{}", i, run.config.dataset, test.size() - 1));
  const std::int64_t classes = run.labels->num_classes();
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
  const std::string out_dir = !job.out.empty() ? job.out : (std::filesystem::path(default_figures_dir(job.run)) / "gradcam").string();
  create_output_directory(out_dir);
  const auto indices = torch::tensor(job.images, torch::kLong);
  auto batches = train::evaluation_batches(test, indices, run.statistics, static_cast<std::int64_t>(job.images.size()));
  data::Batch batch;
  batches.start_epoch(0);
  batches.next(batch);
  const auto device = torch::Device(job.device);
  const auto images = batch.images.to(device);
  torch::Tensor predicted;
  {
    torch::NoGradGuard no_grad;
    const eval::NearestNeighborEvaluator evaluator(run.labels);
    predicted = evaluator.predict(run.model->forward(images)).to(torch::kCPU);
  }
  const auto truth = batch.targets.to(torch::kCPU);
  const auto targets = job.target == "true" ? truth : job.target == "predicted" ? predicted : torch::full_like(truth, fixed_class);
  const auto heat =
      analysis::grad_cam(run.model, images, targets, *run.labels, analysis::GradCamOptions().layer(job.layer).method(method)).to(torch::kCPU);
  const auto& names = test.class_names();
  auto name = [&](const torch::Tensor& ids, std::size_t k) { return names[static_cast<std::size_t>(ids[static_cast<std::int64_t>(k)].item<std::int64_t>())]; };
  // The default method keeps the plain file names; the others are named ("gradcam++" -> "gradcampp").
  std::string method_part;
  if (method != analysis::CamMethod::kGradCam)
    for (char c : std::string("_") + analysis::cam_method_name(method)) method_part += c == '+' ? 'p' : c;
  const std::string layer_part = (job.layer.empty() ? "" : "_at-" + file_part(job.layer)) + method_part;
  std::vector<std::string> written;
  for (std::size_t k = 0; k < job.images.size(); ++k) {
    const auto kk = static_cast<std::int64_t>(k);
    const auto picture = test.images()[job.images[k]].to(torch::kFloat32);  // as padded for the model, before normalising
    const auto path =
        fmt::format("{}/{:05d}_{}_cam-{}{}.png", out_dir, job.images[k], file_part(name(truth, k)), file_part(name(targets, k)), layer_part);
    analysis::write_gradcam_overlay(path, picture, heat[kk], job.alpha, job.min_side);
    std::cout << fmt::format("test image {} ({}; predicted {}): {} for {}{} -> {}\n", job.images[k], name(truth, k), name(predicted, k),
                             method_title(method), name(targets, k), job.layer.empty() ? "" : " at " + job.layer, path);
    written.push_back(path);
  }
  return written;
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
  cmd->add_flag("--list-layers", *list, "List the encoder's layers (name, type, output shape) and exit");
  cmd->add_option("--out", job->out, "Output directory (created if needed; default: RUN/figures/gradcam)");
  cmd->add_option("--alpha", job->alpha, "Heatmap opacity over the grey image, in [0, 1]")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-side", job->min_side, "Enlarge small images (nearest neighbour) to at least this many pixels")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{4096}));
  cmd->add_option("--device", job->device, "Where the model runs (cpu, cuda, cuda:1)")->capture_default_str();
  cmd->callback([job, list] {
    if (*list) return print_gradcam_layers(job->run, job->device);
    run_gradcam_job(*job);
  });
}

}  // namespace labelrep::cli
