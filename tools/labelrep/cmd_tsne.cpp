// `labelrep tsne --run RUN_DIR --out tsne.svg`: a t-SNE map of a trained model's test-set features,
// coloured by class (SVG), with the coordinates as .npy beside it.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <limits>

#include "commands.hpp"
#include "labelrep/analysis/plot.hpp"
#include "labelrep/analysis/tsne.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/core/random.hpp"
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

void add_tsne_command(CLI::App& app) {
  struct Args {
    std::string run, out, device = "cpu";
    std::int64_t limit = 2000, iterations = 1000;
    double perplexity = 30, theta = 0.5, learning_rate = 0;
    std::uint64_t seed = 0;
    bool exact = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("tsne", "A t-SNE map of a trained model's test-set features, coloured by class (SVG + .npy)");
  cmd->add_option("--run", args->run, "Run directory (config.json, labels.npy, best.ckpt)")->required();
  cmd->add_option("--out", args->out, "Output SVG; the coordinates go to <stem>.npy and the classes to <stem>.classes.npy")->required();
  cmd->add_option("--limit", args->limit, "Test images to embed: a seeded random subset (0: all)")->capture_default_str();
  cmd->add_option("--perplexity", args->perplexity, "t-SNE perplexity, in (0, (N - 1)/3)")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the image subset (and of a random initialisation)")->capture_default_str();
  cmd->add_option("--iterations", args->iterations, "Gradient-descent iterations")->capture_default_str();
  cmd->add_option("--theta", args->theta, "Barnes-Hut accuracy in [0, 1]")->capture_default_str();
  cmd->add_option("--learning-rate", args->learning_rate, "0: max(N/48, 50)")->capture_default_str();
  cmd->add_flag("--exact", args->exact, "Exact O(N^2) t-SNE instead of Barnes-Hut (a few thousand points at most)");
  cmd->add_option("--device", args->device, "Where the model computes the features (cpu, cuda, cuda:1)")->capture_default_str();
  cmd->callback([args] {
    if (args->limit < 0) throw InvalidArgument(fmt::format("--limit {} must be 0 (all) or positive", args->limit));
    const auto started = std::chrono::steady_clock::now();
    auto run = train::load_trained_run(args->run, args->device);
    const auto test = train::load_experiment_data(run.config, data::Split::kTest);
    torch::Tensor indices;
    if (args->limit == 0 || args->limit >= test.size()) {
      indices = torch::arange(test.size(), torch::kLong);
    } else {
      NumpyRandom rng(static_cast<std::uint32_t>(args->seed));
      auto order = rng.permutation(test.size());
      order.resize(static_cast<std::size_t>(args->limit));
      std::sort(order.begin(), order.end());
      indices = torch::tensor(order, torch::kLong);
    }
    const std::int64_t n = indices.size(0);
    const double limit = static_cast<double>(n - 1) / 3.0;
    if (!(args->perplexity > 0 && args->perplexity < limit))
      throw InvalidArgument(fmt::format("--perplexity {} must be above 0 and below (N - 1)/3 = {:.4g} for {} images", args->perplexity,
                                        limit, n));
    auto batches = train::evaluation_batches(test.to(torch::Device(args->device)), indices,
                                             run.statistics, 500);
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
    const auto f = torch::cat(features), c = torch::cat(classes);
    const auto xy = analysis::tsne(f, analysis::TsneOptions()
                                          .perplexity(args->perplexity)
                                          .iterations(args->iterations)
                                          .theta(args->theta)
                                          .learning_rate(args->learning_rate)
                                          .seed(args->seed)
                                          .method(args->exact ? analysis::TsneMethod::kExact : analysis::TsneMethod::kBarnesHut));
    const auto title = fmt::format("t-SNE of {} {} test features ({}, {} labels)", n, run.config.dataset, run.config.encoder,
                                   run.labels->name());
    const auto svg = analysis::scatter_by_class(xy, c, test.class_names(), title).svg();
    const std::filesystem::path out(args->out);
    const auto stem = (out.parent_path() / out.stem()).string();
    if (!out.parent_path().empty()) std::filesystem::create_directories(out.parent_path());
    write_file_atomically(args->out, svg);
    write_npy(stem + ".npy", xy);
    write_npy(stem + ".classes.npy", c);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << fmt::format("wrote {} ({} test images, {} features each, {} t-SNE, perplexity {}, {:.1f} s)\n", args->out, n, f.size(1),
                             args->exact ? "exact" : "Barnes-Hut", args->perplexity, seconds);
    std::cout << fmt::format("coordinates: {}.npy, classes: {}.classes.npy\n", stem, stem);
    std::cout << fmt::format("10-NN class agreement in the map: {:.2f}%\n", 100.0 * neighbour_agreement(xy, c, 10));
  });
}

}  // namespace labelrep::cli
