// `labelrep evaluate --run RUN_DIR [--views image|mirror|both]`: a trained run's best weights on the
// test set again, by each image alone (the paper's protocol) and/or by the mean of the outputs for each
// image and its mirror image (train::EvaluationViews) — to see what mirror evaluation would give a run
// trained without it, or the single-view accuracy of one trained with it. `--predictions F.npy` keeps each
// test image's true and predicted class, as training keeps them in test_predictions.npy (runs trained
// before labelrep kept that file get it this way, and the report can pair them).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/core/progress.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/precision.hpp"
#include "labelrep/train/trained_run.hpp"
#include "labelrep/train/trainer.hpp"

namespace labelrep::cli {

void add_evaluate_command(CLI::App& app) {
  struct Args {
    std::string run, views = "both", device = "cpu", precision = "auto", predictions;
    std::int64_t batch_size = 500;
    int threads = 0;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("evaluate", "Evaluate a trained run's best weights on the test set, by image and/or by image and mirror image");
  cmd->add_option("--run", args->run, "Run directory written by `labelrep train`")->required();
  cmd->add_option("--views", args->views, "image (each image alone, the paper's), mirror (mean output of image and mirror image) or both")
      ->capture_default_str()
      ->check(CLI::IsMember({"image", "mirror", "both"}));
  cmd->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--precision", args->precision, "fp32, bf16 or auto (bf16 on CUDA, fp32 on the CPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  cmd->add_option("--batch-size", args->batch_size, "Images per forward pass")->capture_default_str()->check(CLI::Range(1, 65536));
  cmd->add_option("--threads", args->threads, "Intra-op CPU threads (0: one per hardware thread)")->capture_default_str()->check(CLI::Range(0, 1024));
  cmd->add_flag("--json", args->json, "Print one JSON line instead of the table");
  cmd->add_option("--predictions", args->predictions,
                  "Also write each test image's true and predicted class, int64 [N, 2], to this .npy (one view: --views image or mirror; "
                  "RUN/test_predictions.npy is where the report looks)");
  cmd->callback([args] {
    if (!args->predictions.empty()) {  // checked before anything is loaded
      if (args->views == "both")
        throw InvalidArgument("--predictions: name one view (--views image, as the paper tests, or mirror, for a run trained with "
                              "--mirror-evaluation); --views both would write two");
      if (std::filesystem::path(args->predictions).extension() != ".npy")
        throw InvalidArgument(fmt::format("--predictions {}: give a file name ending in .npy", args->predictions));
      if (std::error_code error; std::filesystem::is_directory(args->predictions, error))
        throw InvalidArgument(fmt::format("--predictions {}: is a directory", args->predictions));
    }
    use_threads(args->threads);
    auto run = train::load_trained_run(args->run, args->device);
    const auto precision = train::resolve_precision(args->precision, torch::Device(args->device));
    // The memory format the run trained and tested in (the same numbers up to rounding).
    if (run.config.channels_last) models::set_memory_format(*run.model, c10::MemoryFormat::ChannelsLast);
    const auto test = train::load_experiment_data(run.config, data::Split::kTest).to(torch::Device(args->device));
    auto batches = train::evaluation_batches(test, torch::arange(test.size(), torch::TensorOptions().dtype(torch::kLong)), run.statistics,
                                             args->batch_size);
    const eval::NearestNeighborEvaluator evaluator(run.labels, eval::NearestNeighborOptions().threshold(run.config.threshold));
    if (args->views != "image" && !run.config.horizontal_flip)
      std::cerr << fmt::format("note: {} trained without horizontal flips; the mirror views assume classes that look the same mirrored\n",
                               args->run);
    std::vector<std::pair<std::string, train::EvaluationViews>> wanted;
    if (args->views != "mirror") wanted.emplace_back("image", train::EvaluationViews::kImage);
    if (args->views != "image") wanted.emplace_back("image+mirror", train::EvaluationViews::kImageAndMirror);

    nlohmann::json j = {{"run", args->run}, {"checkpoint", run.checkpoint}, {"images", test.size()}, {"precision", precision_name(precision)}};
    if (!args->json)
      std::cout << fmt::format("{}: {} test images of {} ({} weights, {})\n{:<14} {:>9} {:>10}\n", args->run, test.size(), run.config.dataset,
                               run.checkpoint, precision_name(precision), "views", "accuracy", "threshold");
    for (const auto& [name, views] : wanted) {
      ProgressLine progress(fmt::format("evaluate ({})", name), test.size(), "images");
      const auto result = train::evaluate(run.model, evaluator, batches, precision, views, &progress);
      j[name] = {{"accuracy", result.accuracy}};
      if (!args->predictions.empty()) {
        if (const auto parent = std::filesystem::path(args->predictions).parent_path(); !parent.empty()) create_output_directory(parent);
        write_npy(args->predictions, torch::stack({result.targets, result.predictions}, 1));
        j["predictions"] = args->predictions;
      }
      if (result.has_threshold) j[name]["threshold_accuracy"] = result.threshold_accuracy;
      if (!args->json)
        std::cout << fmt::format("{:<14} {:>8.2f}% {:>10}\n", name, 100 * result.accuracy,
                                 result.has_threshold ? fmt::format("{:.2f}%", 100 * result.threshold_accuracy) : std::string("-"));
    }
    if (args->json) std::cout << j.dump() << '\n';
    else if (!args->predictions.empty()) std::cout << fmt::format("wrote {}\n", args->predictions);
  });
}

}  // namespace labelrep::cli
