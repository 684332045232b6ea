// `labelrep tsne --run RUN_DIR [--out tsne.svg] [--progression]`: a t-SNE map of a trained model's test-set
// features, coloured by class (SVG), with the coordinates as .npy beside it; with --progression one panel
// per snapshot checkpoint (the paper's Figure 5).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <limits>

#include "analysis_jobs.hpp"
#include "commands.hpp"
#include "labelrep/analysis/plot.hpp"
#include "labelrep/analysis/tsne.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/core/random.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "labelrep/train/run_directory.hpp"
#include "labelrep/train/trained_run.hpp"
#include "labelrep/train/trainer.hpp"

namespace labelrep::cli {
namespace {
// Fraction of the k nearest embedded neighbours of each point that share its class, averaged; computed
// in blocks so that 10,000+ points need little memory.
double neighbour_agreement(const torch::Tensor& xy, const torch::Tensor& classes, std::int64_t k) {
  const std::int64_t n = xy.size(0);
  k = std::min(k, n - 1);
  double agree = 0;
  for (std::int64_t begin = 0; begin < n; begin += 1000) {
    const std::int64_t end = std::min(n, begin + 1000);
    auto d = torch::cdist(xy.slice(0, begin, end), xy);
    const auto rows = torch::arange(end - begin, torch::kLong);
    d.index_put_({rows, rows + begin}, std::numeric_limits<double>::infinity());
    const auto nearest = std::get<1>(torch::topk(d, k, 1, /*largest=*/false));
    agree += (classes.index({nearest}) == classes.slice(0, begin, end).unsqueeze(1)).sum().item<double>();
  }
  return agree / static_cast<double>(n * k);
}
}  // namespace

std::string run_tsne_job(const TsneJob& job) {
  if (job.limit < 0) throw InvalidArgument(fmt::format("--limit {} must be 0 (all) or positive", job.limit));
  const auto started = std::chrono::steady_clock::now();
  auto run = train::load_trained_run(job.run, job.device);
  // The models to map: the best weights, or every snapshot and then the best weights (one panel each).
  struct Stage {
    std::string checkpoint, caption;
  };
  std::vector<Stage> stages;
  if (job.progression) {
    const auto directory = train::RunDirectory::open_read_only(job.run);
    const auto snapshots = directory.snapshots();
    if (snapshots.empty())
      throw InvalidArgument(fmt::format("--progression: {} has no snapshots (train it with --snapshot-epochs or --snapshot-every)", job.run));
    const double epochs = static_cast<double>(std::max<std::int64_t>(1, run.config.epochs));
    for (const auto& [epoch, path] : snapshots)
      stages.push_back({path, fmt::format("epoch {} ({:.0f}% of training)", epoch, 100.0 * static_cast<double>(epoch) / epochs)});
  }
  stages.push_back({run.checkpoint, job.progression ? "best weights (model selection)" : ""});

  const auto test = train::load_experiment_data(run.config, data::Split::kTest);
  torch::Tensor indices;  // one seeded subset for every panel
  if (job.limit == 0 || job.limit >= test.size()) {
    indices = torch::arange(test.size(), torch::kLong);
  } else {
    NumpyRandom rng(static_cast<std::uint32_t>(job.seed));
    auto order = rng.permutation(test.size());
    order.resize(static_cast<std::size_t>(job.limit));
    std::sort(order.begin(), order.end());
    indices = torch::tensor(order, torch::kLong);
  }
  const std::int64_t n = indices.size(0);
  const double limit = static_cast<double>(n - 1) / 3.0;
  if (!(job.perplexity > 0 && job.perplexity < limit))
    throw InvalidArgument(fmt::format("--perplexity {} must be above 0 and below (N - 1)/3 = {:.4g} for {} images", job.perplexity, limit, n));
  const std::string out_file =
      !job.out.empty() ? job.out : (std::filesystem::path(default_figures_dir(job.run)) / (job.progression ? "tsne_progression.svg" : "tsne.svg")).string();
  const std::filesystem::path out(out_file);
  const auto stem = (out.parent_path() / out.stem()).string();
  // All three files or none: a directory in the way of one is found before the work, not after the first is written.
  create_output_directory(out.parent_path());
  for (const auto& file : {out_file, stem + ".npy", stem + ".classes.npy"})
    if (std::filesystem::is_directory(file)) throw IoError(file, "cannot write the t-SNE output: a directory is in the way");
  const auto on_device = test.to(torch::Device(job.device));
  const auto tsne_options = analysis::TsneOptions()
                                .perplexity(job.perplexity)
                                .iterations(job.iterations)
                                .theta(job.theta)
                                .learning_rate(job.learning_rate)
                                .seed(job.seed)
                                .method(job.exact ? analysis::TsneMethod::kExact : analysis::TsneMethod::kBarnesHut);
  std::vector<std::string> panels;
  std::vector<torch::Tensor> maps;
  torch::Tensor c;
  std::int64_t feature_dim = 0;
  for (const auto& stage : stages) {
    if (stage.checkpoint != run.checkpoint || job.progression) {
      train::load_checkpoint(stage.checkpoint, *run.model, nullptr);
      run.model->eval();
    }
    auto batches = train::evaluation_batches(on_device, indices, run.statistics, 500);
    std::vector<torch::Tensor> features, classes;
    {
      torch::NoGradGuard no_grad;
      data::Batch batch;
      batches.start_epoch(0);
      while (batches.next(batch)) {
        features.push_back(run.model->features(batch.images).to(torch::kCPU));
        classes.push_back(batch.targets.to(torch::kCPU));
      }
    }
    const auto f = torch::cat(features);
    c = torch::cat(classes);
    feature_dim = f.size(1);
    auto options = tsne_options;  // a progress line per map, on a terminal
    options.progress_label(job.progression ? fmt::format("t-SNE, {}", stage.caption) : std::string("t-SNE"));
    const auto xy = analysis::tsne(f, options);
    maps.push_back(xy);
    const double agreement = neighbour_agreement(xy, c, 10);
    if (job.progression) {
      panels.push_back(analysis::scatter_by_class(xy, c, test.class_names(), fmt::format("{}: 10-NN agreement {:.1f}%", stage.caption, 100 * agreement))
                           .svg(560, 440));
      std::cout << fmt::format("{}: 10-NN class agreement in the map {:.2f}%\n", stage.caption, 100.0 * agreement);
    } else {
      const auto title = fmt::format("t-SNE of {} {} test features ({}, {} labels)", n, run.config.dataset, run.config.encoder, run.labels->name());
      panels.push_back(analysis::scatter_by_class(xy, c, test.class_names(), title).svg());
      std::cout << fmt::format("10-NN class agreement in the map: {:.2f}%\n", 100.0 * agreement);
    }
  }
  const auto svg = job.progression
                       ? analysis::svg_panels(panels, 3,
                                              fmt::format("t-SNE over training: {} {} test images ({}, {} labels)", n, run.config.dataset,
                                                          run.config.encoder, run.labels->name()))
                       : panels.front();
  write_file_atomically(out_file, svg);
  write_npy(stem + ".npy", job.progression ? torch::stack(maps) : maps.front());
  write_npy(stem + ".classes.npy", c);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << fmt::format("wrote {} ({} test images, {} features each, {} t-SNE, perplexity {}{}, {:.1f} s)\n", out_file, n, feature_dim,
                           job.exact ? "exact" : "Barnes-Hut", job.perplexity,
                           job.progression ? fmt::format(", {} panels", panels.size()) : std::string(), seconds);
  std::cout << fmt::format("coordinates: {}.npy, classes: {}.classes.npy\n", stem, stem);
  return out_file;
}

void add_tsne_command(CLI::App& app) {
  auto job = std::make_shared<TsneJob>();
  auto* cmd = app.add_subcommand("tsne", "A t-SNE map of a trained model's test-set features, coloured by class (SVG + .npy)");
  cmd->add_option("--run", job->run, "Run directory (config.json, labels.npy, best.ckpt)")->required();
  cmd->add_option("--out", job->out,
                  "Output SVG (default: RUN/figures/tsne.svg or tsne_progression.svg); the coordinates go to <stem>.npy and the "
                  "classes to <stem>.classes.npy");
  cmd->add_flag("--progression", job->progression,
                "One panel per snapshot of the run (snapshots/, from train --snapshot-epochs) and the best weights, in one figure");
  cmd->add_option("--limit", job->limit, "Test images to embed: a seeded random subset (0: all)")->capture_default_str();
  cmd->add_option("--perplexity", job->perplexity, "t-SNE perplexity, in (0, (N - 1)/3)")->capture_default_str();
  cmd->add_option("--seed", job->seed, "Seed of the image subset (and of a random initialisation)")->capture_default_str();
  cmd->add_option("--iterations", job->iterations, "Gradient-descent iterations")->capture_default_str();
  cmd->add_option("--theta", job->theta, "Barnes-Hut accuracy in [0, 1]")->capture_default_str();
  cmd->add_option("--learning-rate", job->learning_rate, "0: max(N/48, 50)")->capture_default_str();
  cmd->add_flag("--exact", job->exact, "Exact O(N^2) t-SNE instead of Barnes-Hut (a few thousand points at most)");
  cmd->add_option("--device", job->device, "Where the model computes the features (cpu, cuda, cuda:1)")->capture_default_str();
  cmd->callback([job] { run_tsne_job(*job); });
}

}  // namespace labelrep::cli
