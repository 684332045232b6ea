// `labelrep radius --run RUN_DIR`: each test image's robust radius under one attack (attack::minimal_epsilon),
// written as RUN_DIR/radius.npy (float64 [N]) with a JSON summary, and printed as quartiles and an
// accuracy curve.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <vector>

#include "analysis_jobs.hpp"
#include "commands.hpp"
#include "labelrep/attack/attack.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/core/progress.hpp"
#include "labelrep/train/trained_run.hpp"
#include "labelrep/train/trainer.hpp"

namespace labelrep::cli {
namespace {

// The q-quantile of sorted values, linear between neighbours (+inf where the upper one is +inf); NaN for none.
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const double fraction = position - std::floor(position);
  if (fraction == 0) return sorted[below];
  const double low = sorted[below], high = sorted[below + 1];
  return std::isinf(high) ? high : low + fraction * (high - low);
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

std::string run_radius_job(const RadiusJob& job) {
  attack::AttackKind kind;
  try {
    kind = attack::parse_attack(job.attack);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("--attack: {}", error_reason(e)));
  }
  if (kind.method == attack::Method::kNoise)
    throw InvalidArgument("--attack noise: the noise is the baseline of attacks, not an attack whose radius means anything");
  if (!(job.max_epsilon > 0) || !std::isfinite(job.max_epsilon))
    throw InvalidArgument(fmt::format("--max-eps must be a finite number > 0, got {}", job.max_epsilon));
  if (job.bisections < 1 || job.bisections > 50) throw InvalidArgument(fmt::format("--bisections must be in [1, 50], got {}", job.bisections));
  if (job.steps < 1) throw InvalidArgument(fmt::format("--steps must be >= 1, got {}", job.steps));
  if (job.queries < 1) throw InvalidArgument(fmt::format("--queries must be >= 1, got {}", job.queries));
  if (job.target_classes < 1) throw InvalidArgument(fmt::format("--target-classes must be >= 1, got {}", job.target_classes));
  if (job.target_classes_given && kind.method != attack::Method::kApgdTargets)
    throw InvalidArgument(fmt::format("--target-classes {} applies to APGD-T (apgd-t, apgd-t-margin, apgd-t-dlr), not --attack {}",
                                      job.target_classes, job.attack));
  if (job.limit < 0) throw InvalidArgument(fmt::format("--limit must be >= 0, got {}", job.limit));
  if (job.batch_size < 1) throw InvalidArgument(fmt::format("--batch-size must be >= 1, got {}", job.batch_size));
  if (job.threads < 0) throw InvalidArgument(fmt::format("--threads must be >= 0, got {}", job.threads));
  if (!(job.step_fraction >= 0) || !std::isfinite(job.step_fraction))
    throw InvalidArgument(fmt::format("--step-fraction must be a finite number >= 0, got {}", job.step_fraction));
  if (job.seed > 0xffffffffULL) throw InvalidArgument(fmt::format("--seed must be below 2^32, got {}", job.seed));
  const auto unit = attack::parse_epsilon_unit(job.unit);
  const auto norm = attack::parse_norm(job.norm);
  use_threads(job.threads);

  auto run = train::load_trained_run(job.run, job.device);
  const std::string out = job.out.empty() ? (std::filesystem::path(job.run) / "radius.json").string() : job.out;
  const std::filesystem::path out_path(out);
  if (out_path.extension() != ".json") throw InvalidArgument(fmt::format("--out {}: give a file name ending in .json", out));
  const std::string per_image_file = (out_path.parent_path() / out_path.stem()).string() + ".npy";
  for (const auto& file : {out, per_image_file})
    if (std::error_code error; std::filesystem::is_directory(file, error))
      throw InvalidArgument(fmt::format("--out {}: {} is a directory", out, file));
  create_output_directory(out_path.parent_path());
  if (job.channels_last) models::set_memory_format(*run.model, c10::MemoryFormat::ChannelsLast);
  const auto test = train::load_experiment_data(run.config, data::Split::kTest);
  const auto n = job.limit > 0 ? std::min(job.limit, test.size()) : test.size();
  const auto indices = torch::arange(n);
  const auto true_ids = test.targets().to(torch::kCPU).slice(0, 0, n);
  const auto aims = kind.targeted ? attack::random_targets(true_ids, run.labels->num_classes(), job.seed) : true_ids;

  const auto started = std::chrono::steady_clock::now();
  auto batches = train::evaluation_batches(test, indices, run.statistics, job.batch_size);
  std::vector<torch::Tensor> radii;
  std::optional<ProgressLine> progress;
  if (job.progress) progress.emplace("radius", n, "images");
  data::Batch batch;
  batches.start_epoch(0);
  std::int64_t done = 0, batch_number = 0;
  while (batches.next(batch)) {
    const auto size = batch.images.size(0);
    const auto options = attack::RadiusOptions(attack::AttackOptions(run.statistics)
                                                   .method(kind.method)
                                                   .targeted(kind.targeted)
                                                   .objective(kind.objective)
                                                   .unit(unit)
                                                   .norm(norm)
                                                   .steps(job.steps)
                                                   .step_fraction(job.step_fraction)
                                                   .queries(job.queries)
                                                   .target_classes(kind.method == attack::Method::kApgdTargets ? job.target_classes : 0)
                                                   .seed(job.seed + static_cast<std::uint64_t>(batch_number++)))
                             .max_epsilon(job.max_epsilon)
                             .bisections(job.bisections);
    radii.push_back(attack::minimal_epsilon(run.model, *run.labels, batch.images, aims.slice(0, done, done + size), options));
    done += size;
    if (progress) progress->advance(size);
  }
  if (progress) progress->finish();
  const auto radius = torch::cat(radii);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // The initially correct images (untargeted: radius > 0) and their radii, sorted.
  const auto* r = radius.data_ptr<double>();
  std::vector<double> attacked;
  std::int64_t unbroken = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (r[i] > 0) attacked.push_back(r[i]);
    if (std::isinf(r[i])) ++unbroken;
  }
  std::sort(attacked.begin(), attacked.end());
  const double resolution = job.max_epsilon / std::pow(2.0, static_cast<double>(job.bisections));
  nlohmann::json curve = nlohmann::json::array();
  for (const double share : {0.125, 0.25, 0.5, 1.0}) {
    const double eps = share * job.max_epsilon;
    const auto kept = (radius > eps).sum().item<std::int64_t>();
    curve.push_back({{"epsilon", eps}, {"accuracy", static_cast<double>(kept) / static_cast<double>(n)}, {"correct", kept}});
  }
  nlohmann::json j;
  j["run"] = job.run;
  j["checkpoint"] = run.checkpoint;
  j["dataset"] = run.config.dataset;
  j["encoder"] = run.config.encoder;
  j["labels"] = run.labels->name();
  j["device"] = job.device;
  j["attack"] = attack::attack_name(kind);
  j["targeted"] = kind.targeted;
  j["norm"] = attack::norm_name(norm);
  j["epsilon_unit"] = attack::epsilon_unit_name(unit);
  j["steps"] = job.steps;
  j["step_fraction"] = job.step_fraction;
  j["queries"] = job.queries;
  if (kind.method == attack::Method::kApgdTargets) j["target_classes"] = job.target_classes;
  j["seed"] = job.seed;
  j["max_epsilon"] = job.max_epsilon;
  j["bisections"] = job.bisections;
  j["resolution"] = resolution;
  j["images"] = n;
  j["attacked"] = static_cast<std::int64_t>(attacked.size());  // radius > 0: not broken without attack
  j["unbroken"] = unbroken;
  j["median_radius"] = number_or_null(quantile(attacked, 0.5));
  j["quartiles"] = {number_or_null(quantile(attacked, 0.25)), number_or_null(quantile(attacked, 0.75))};
  j["accuracy"] = curve;
  j["per_image"] = std::filesystem::absolute(per_image_file).string();
  j["seconds"] = seconds;
  write_npy(per_image_file, radius);
  write_file_atomically(out, j.dump(2) + "\n");

  const auto text = [](double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : std::string("not broken"); };
  std::cout << fmt::format("{}: {} {} labels, {} test images; {} ({} ball, eps in {} units) up to eps {:g}, to {:.3g} ({} bisections)\n", job.run,
                           run.config.encoder, run.labels->name(), n, attack::attack_name(kind), norm == attack::Norm::kL2 ? "L2" : "Linf",
                           attack::epsilon_unit_name(unit), job.max_epsilon, resolution, job.bisections);
  std::cout << fmt::format("radius of the {} images not broken without attack: median {}, quartiles {} to {}; {} not broken at eps {:g}\n",
                           attacked.size(), text(quantile(attacked, 0.5)), text(quantile(attacked, 0.25)), text(quantile(attacked, 0.75)),
                           unbroken, job.max_epsilon);
  std::string accuracies;
  for (const auto& p : curve)
    accuracies += fmt::format("{}eps {:g}: {:.2f}%", accuracies.empty() ? "" : ", ", p["epsilon"].get<double>(), 100 * p["accuracy"].get<double>());
  std::cout << "accuracy from the radii: " << accuracies << "\n";
  std::cout << fmt::format("wrote {} and {} ({:.1f} s)\n", out, per_image_file, seconds);
  return out;
}

void add_radius_command(CLI::App& app) {
  auto job = std::make_shared<RadiusJob>();
  auto* cmd = app.add_subcommand("radius", "Each test image's robust radius: the smallest eps at which an attack breaks it (bisection)");
  cmd->add_option("--run", job->run, "Run directory written by `labelrep train` (its best checkpoint is attacked)")->required();
  cmd->add_option("--attack", job->attack,
                  "The attack (of labelrep attack, but noise): fgsm, bim, pgd, apgd, each also -margin or -dlr and -targeted; apgd-t, "
                  "apgd-t-margin, apgd-t-dlr; square, square-targeted")
      ->capture_default_str();
  cmd->add_option("--max-eps", job->max_epsilon, "The largest eps tried; images the attack does not break there get +inf")->capture_default_str();
  cmd->add_option("--bisections", job->bisections, "Halvings of each image's bracket [0, max-eps] (each costs one attack of the images)")
      ->capture_default_str();
  cmd->add_option("--eps-unit", job->unit, "normalized (the paper: on the mean/std-normalised image) or pixel ([0, 1] pixel values)")
      ->capture_default_str()
      ->check(CLI::IsMember({"normalized", "pixel"}));
  cmd->add_option("--norm", job->norm, "The ball eps bounds: linf (the paper's) or l2")
      ->capture_default_str()
      ->check(CLI::IsMember({"linf", "l2"}));
  cmd->add_option("--steps", job->steps, "Steps of bim, pgd and apgd")->capture_default_str();
  cmd->add_option("--step-fraction", job->step_fraction, "Step size as a fraction of eps (0: the attack's default)")->capture_default_str();
  cmd->add_option("--queries", job->queries, "Square's model calls per image at most")->capture_default_str();
  auto* target_classes = cmd->add_option("--target-classes", job->target_classes,
                                         "APGD-T's (apgd-t, apgd-t-margin, apgd-t-dlr) searches: one at each of an image's K most likely "
                                         "other classes (AutoAttack's: 9)")
                             ->capture_default_str();
  cmd->add_option("--seed", job->seed, "Seed of the targets of targeted attacks, of pgd's and apgd's starts and of square")->capture_default_str();
  cmd->add_option("--limit", job->limit, "Only the first N test images (0: all)")->capture_default_str();
  cmd->add_option("--batch-size", job->batch_size, "Images attacked at once")->capture_default_str();
  cmd->add_option("--device", job->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", job->threads, "Intra-op CPU threads (0: one per hardware thread)")->capture_default_str()->check(CLI::Range(0, 1024));
  cmd->add_flag("!--no-channels-last", job->channels_last, "Keep the contiguous (NCHW) memory format instead of channels-last");
  cmd->add_option("--out", job->out, "Output JSON (default RUN/radius.json; the radii go to <stem>.npy beside it)");
  cmd->callback([job, target_classes] {
    job->target_classes_given = target_classes->count() > 0;
    run_radius_job(*job);
  });
}

}  // namespace labelrep::cli
