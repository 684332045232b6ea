// `labelrep gradcam --run RUN_DIR --images 0,1,2 --out DIR`: Grad-CAM heatmaps of test images over the
// images, one PNG each.
#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <iostream>

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
}  // namespace

void add_gradcam_command(CLI::App& app) {
  struct Args {
    std::string run, out, target = "true", device = "cpu";
    std::vector<std::int64_t> images;
    double alpha = 0.5;
    std::int64_t min_side = 128;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("gradcam", "Grad-CAM heatmaps of a trained model over test images (PNG overlays)");
  cmd->add_option("--run", args->run, "Run directory (config.json, labels.npy, best.ckpt)")->required();
  cmd->add_option("--images", args->images, "Test image indices, comma-separated (e.g. 0,1,2)")->required()->delimiter(',');
  cmd->add_option("--class", args->target,
                  "Whose evidence to show: 'true' (the image's class), 'predicted' (the model's nearest label or argmax), or a class index")
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Output directory (created if needed)")->required();
  cmd->add_option("--alpha", args->alpha, "Heatmap opacity over the grey image, in [0, 1]")->capture_default_str();
  cmd->add_option("--min-side", args->min_side, "Enlarge small images (nearest neighbour) to at least this many pixels")->capture_default_str();
  cmd->add_option("--device", args->device, "Where the model runs (cpu, cuda, cuda:1)")->capture_default_str();
  cmd->callback([args] {
    auto run = train::load_trained_run(args->run, args->device);
    const auto test = train::load_experiment_data(run.config, data::Split::kTest);
    for (auto i : args->images)
      if (i < 0 || i >= test.size())
        throw InvalidArgument(fmt::format("--images {}: the {} test set has images 0..{}", i, run.config.dataset, test.size() - 1));
    const std::int64_t classes = run.labels->num_classes();
    std::int64_t fixed_class = -1;
    if (args->target != "true" && args->target != "predicted") {
      std::size_t used = 0;
      try {
        fixed_class = std::stoll(args->target, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != args->target.size() || fixed_class < 0 || fixed_class >= classes)
        throw InvalidArgument(fmt::format("--class {}: expected 'true', 'predicted' or a class index in 0..{}", args->target, classes - 1));
    }
    const auto indices = torch::tensor(args->images, torch::kLong);
    auto batches = train::evaluation_batches(test, indices, run.statistics, static_cast<std::int64_t>(args->images.size()));
    data::Batch batch;
    batches.start_epoch(0);
    batches.next(batch);
    const auto device = torch::Device(args->device);
    const auto images = batch.images.to(device);
    torch::Tensor predicted;
    {
      torch::NoGradGuard no_grad;
      const eval::NearestNeighborEvaluator evaluator(run.labels);
      predicted = evaluator.predict(run.model->forward(images)).to(torch::kCPU);
    }
    const auto truth = batch.targets.to(torch::kCPU);
    const auto targets = args->target == "true" ? truth : args->target == "predicted" ? predicted : torch::full_like(truth, fixed_class);
    const auto heat = analysis::grad_cam(run.model, images, targets, *run.labels).to(torch::kCPU);
    std::filesystem::create_directories(args->out);
    const auto& names = test.class_names();
    auto name = [&](const torch::Tensor& ids, std::size_t k) { return names[static_cast<std::size_t>(ids[static_cast<std::int64_t>(k)].item<std::int64_t>())]; };
    for (std::size_t k = 0; k < args->images.size(); ++k) {
      const auto kk = static_cast<std::int64_t>(k);
      const auto picture = test.images()[args->images[k]].to(torch::kFloat32);  // as padded for the model, before normalising
      const auto path = fmt::format("{}/{:05d}_{}_cam-{}.png", args->out, args->images[k], file_part(name(truth, k)), file_part(name(targets, k)));
      analysis::write_gradcam_overlay(path, picture, heat[kk], args->alpha, args->min_side);
      std::cout << fmt::format("test image {} ({}; predicted {}): Grad-CAM for {} -> {}\n", args->images[k], name(truth, k), name(predicted, k),
                               name(targets, k), path);
    }
  });
}

}  // namespace labelrep::cli
