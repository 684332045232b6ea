// `labelrep tsne --run RUN_DIR [--out tsne.svg] [--progression]`: a t-SNE map of a trained model's test-set
// features, coloured by class (SVG), with the coordinates as .npy beside it; with --progression one panel
// per snapshot checkpoint (the paper's Figure 5).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <cmath>
#include <limits>
#include <optional>

#include "analysis_jobs.hpp"
#include "commands.hpp"
#include "labelrep/analysis/plot.hpp"
#include "labelrep/attack/attack.hpp"
#include "labelrep/analysis/tsne.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/core/random.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
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

// The mapped images attacked with `kind` at job.eps, their features placed into the clean map `xy` of
// `features`: a second panel with the same axes (returned with the clean one), and a line of figures.
struct PlacedPanels {
  std::string clean, attacked, summary;
  torch::Tensor placed;
};

PlacedPanels place_attacked(train::TrainedRun& run, const data::ImageDataset& images, const torch::Tensor& indices, const torch::Tensor& features,
                            const torch::Tensor& classes, const torch::Tensor& xy, const attack::AttackKind& kind, const TsneJob& job) {
  const auto unit = attack::parse_epsilon_unit(job.eps_unit);
  const auto norm = attack::parse_norm(job.norm);
  const auto targets = kind.targeted ? attack::random_targets(classes, run.labels->num_classes(), job.seed) : classes;
  const eval::NearestNeighborEvaluator evaluator(run.labels);
  auto batches = train::evaluation_batches(images, indices, run.statistics, 500);
  std::vector<torch::Tensor> adversarial_features, predicted;
  data::Batch batch;
  batches.start_epoch(0);
  std::int64_t done = 0, batch_number = 0;
  while (batches.next(batch)) {
    const auto n = batch.images.size(0);
    const auto options = attack::AttackOptions(run.statistics)
                             .method(kind.method)
                             .targeted(kind.targeted)
                             .objective(kind.objective)
                             .epsilon(job.eps)
                             .unit(unit)
                             .norm(norm)
                             .seed(job.seed + static_cast<std::uint64_t>(batch_number++));
    const auto adversarial = attack::perturb(run.model, *run.labels, batch.images, targets.slice(0, done, done + n), options);
    torch::NoGradGuard no_grad;
    adversarial_features.push_back(run.model->features(adversarial).to(torch::kCPU));
    predicted.push_back(evaluator.predict(run.model->forward(adversarial)).to(torch::kCPU));
    done += n;
  }
  PlacedPanels panels;
  // tsne_place's perplexity 5, or the map's own when that is lower (a map of very few images).
  panels.placed = analysis::tsne_place(features, xy, torch::cat(adversarial_features),
                                       analysis::TsnePlaceOptions().perplexity(std::min(5.0, job.perplexity)).progress_label("placing"));
  const auto kept = (torch::cat(predicted) == classes).to(torch::kDouble).mean().item<double>();
  // Does an attacked image land among the clean images of its own class? Its nearest clean point says.
  const auto nearest = std::get<1>(torch::cdist(panels.placed, xy).min(1));
  const auto home = (classes.index_select(0, nearest) == classes).to(torch::kDouble).mean().item<double>();
  const std::string name = attack::attack_name(kind);
  const std::string ball = norm == attack::Norm::kL2 ? ", L2" : "";
  std::cout << fmt::format("{} at eps {:g} ({} units{}): {:.2f}% of the images keep their class; {:.2f}% land nearest a clean image of "
                           "their own class in the map\n",
                           name, job.eps, job.eps_unit, ball, 100 * kept, 100 * home);
  const auto both = torch::cat({xy, panels.placed});
  const auto lo = std::get<0>(both.min(0)), hi = std::get<0>(both.max(0));
  auto clean_plot = analysis::scatter_by_class(xy, classes, images.class_names(), "clean, by class");
  auto attacked_plot = analysis::scatter_by_class(panels.placed, classes, images.class_names(),
                                                  fmt::format("under {} at eps {:g}{}, by true class", name, job.eps, ball));
  panels.summary = fmt::format("{:.1f}% keep their class, {:.1f}% stay in its region", 100 * kept, 100 * home);
  for (auto* plot : {&clean_plot, &attacked_plot})
    plot->extend_range(lo[0].item<double>(), hi[0].item<double>(), lo[1].item<double>(), hi[1].item<double>());
  // As tall as the map's shape needs at this width (the plots keep equal units on both axes): the plot
  // area is 640 − 246 px wide, and 80 px go to the title and the axis.
  const double x_span = (hi[0] - lo[0]).item<double>(), y_span = (hi[1] - lo[1]).item<double>();
  const double aspect = x_span > 0 ? y_span / x_span : 1.0;
  const int height = static_cast<int>(std::clamp(90.0 + 394.0 * aspect, 260.0, 720.0));
  panels.clean = clean_plot.svg(640, height);
  panels.attacked = attacked_plot.svg(640, height);
  return panels;
}

std::string run_tsne_job(const TsneJob& job) {
  if (job.limit < 0) throw InvalidArgument(fmt::format("--limit {} must be 0 (all) or positive", job.limit));
  std::optional<attack::AttackKind> attack_kind;
  if (!job.attack.empty()) {
    if (job.progression) throw InvalidArgument("--attack maps the best weights only; it cannot be combined with --progression");
    try {
      attack_kind = attack::parse_attack(job.attack);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fmt::format("--attack: {}", error_reason(e)));
    }
    if (!(job.eps > 0) || !std::isfinite(job.eps)) throw InvalidArgument(fmt::format("--eps must be a finite number > 0, got {}", job.eps));
    attack::parse_epsilon_unit(job.eps_unit);
    attack::parse_norm(job.norm);
    if (job.seed > 0xffffffffULL) throw InvalidArgument(fmt::format("--seed must be below 2^32, got {}", job.seed));
  }
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
  const std::string default_name = job.progression ? "tsne_progression.svg"
                                   : attack_kind   ? fmt::format("tsne_{}{}_eps{:g}.svg", job.attack, job.norm == "l2" ? "_l2" : "", job.eps)
                                                   : "tsne.svg";
  const std::string out_file = !job.out.empty() ? job.out : (std::filesystem::path(default_figures_dir(job.run)) / default_name).string();
  const std::filesystem::path out(out_file);
  const auto stem = (out.parent_path() / out.stem()).string();
  // All three files or none: a directory in the way of one is found before the work, not after the first is written.
  create_output_directory(out.parent_path());
  for (const auto& file : {out_file, stem + ".npy", stem + ".classes.npy", stem + ".placed.npy"})
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
  torch::Tensor placed;  // --attack: the attacked images' positions in the clean map
  std::string placed_summary;
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
      std::cout << fmt::format("10-NN class agreement in the map: {:.2f}%\n", 100.0 * agreement);
      if (attack_kind) {
        auto two = place_attacked(run, on_device, indices, f, c, xy, *attack_kind, job);
        panels.push_back(two.clean);
        panels.push_back(two.attacked);
        placed = two.placed;
        placed_summary = two.summary;
      } else {
        panels.push_back(analysis::scatter_by_class(xy, c, test.class_names(), title).svg());
      }
    }
  }
  const auto svg = job.progression ? analysis::svg_panels(panels, 3,
                                                         fmt::format("t-SNE over training: {} {} test images ({}, {} labels)", n,
                                                                     run.config.dataset, run.config.encoder, run.labels->name()))
                   : attack_kind ? analysis::svg_panels(panels, 2,
                                                        fmt::format("{} at eps {:g} on {} {} test images ({}, {} labels): {}", job.attack, job.eps,
                                                                    n, run.config.dataset, run.config.encoder, run.labels->name(),
                                                                    placed_summary))
                                 : panels.front();
  write_file_atomically(out_file, svg);
  write_npy(stem + ".npy", job.progression ? torch::stack(maps) : maps.front());
  write_npy(stem + ".classes.npy", c);
  if (placed.defined()) write_npy(stem + ".placed.npy", placed);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << fmt::format("wrote {} ({} test images, {} features each, {} t-SNE, perplexity {}{}, {:.1f} s)\n", out_file, n, feature_dim,
                           job.exact ? "exact" : "Barnes-Hut", job.perplexity,
                           job.progression ? fmt::format(", {} panels", panels.size()) : std::string(), seconds);
  std::cout << fmt::format("coordinates: {}.npy, classes: {}.classes.npy{}\n", stem, stem,
                           placed.defined() ? fmt::format(", attacked images placed in the map: {}.placed.npy", stem) : std::string());
  return out_file;
}

void add_tsne_command(CLI::App& app) {
  auto job = std::make_shared<TsneJob>();
  auto* cmd = app.add_subcommand("tsne", "A t-SNE map of a trained model's test-set features, coloured by class (SVG + .npy)");
  cmd->add_option("--run", job->run, "Run directory (config.json, labels.npy, best.ckpt)")->required();
  cmd->add_option("--out", job->out,
                  "Output SVG (default: RUN/figures/tsne.svg, tsne_progression.svg or tsne_<attack>[_l2]_eps<eps>.svg); the coordinates go "
                  "to <stem>.npy, the classes to <stem>.classes.npy, placed attacked images to <stem>.placed.npy");
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
  auto* attack_option = cmd->add_option("--attack", job->attack,
                  "Also attack the mapped images (an attack of labelrep attack: fgsm, bim, pgd, apgd, their -margin, -dlr and -targeted "
                  "forms, apgd-t over 9 target classes, noise, square or square-targeted with 1000 queries) and place them into the "
                  "clean map: a second panel");
  cmd->add_option("--eps", job->eps, "Attack strength for --attack")->capture_default_str()->needs(attack_option);
  cmd->add_option("--eps-unit", job->eps_unit, "normalized (the paper's) or pixel ([0, 1] pixel values), for --attack")
      ->capture_default_str()
      ->needs(attack_option)
      ->check(CLI::IsMember({"normalized", "pixel"}));
  cmd->add_option("--norm", job->norm, "linf (the paper's) or l2: the ball --eps bounds, for --attack")
      ->capture_default_str()
      ->needs(attack_option)
      ->check(CLI::IsMember({"linf", "l2"}));
  cmd->callback([job] { run_tsne_job(*job); });
}

}  // namespace labelrep::cli
