// `labelrep attack --run RUN_DIR [--out F.json]`: the paper's robustness sweep (attacks × ε) on a trained
// run's test set, written as JSON (RUN_DIR/attack.json by default) and printed as a table.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>
#include <torch/utils.h>

#include "analysis_jobs.hpp"
#include "commands.hpp"
#include "labelrep/attack/attack.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/train/trained_run.hpp"

namespace labelrep::cli {

std::string default_attack_file(const std::string& run) { return (std::filesystem::path(run) / "attack.json").string(); }
std::string default_figures_dir(const std::string& run) { return (std::filesystem::path(run) / "figures").string(); }

std::string run_attack_job(const AttackJob& job) {
  for (double e : job.epsilons)
    if (!(e >= 0) || !std::isfinite(e)) throw InvalidArgument(fmt::format("--eps: each value must be a finite number >= 0, got {}", e));
  if (job.steps < 1) throw InvalidArgument(fmt::format("--steps must be >= 1, got {}", job.steps));
  if (job.apgd_steps < 0) throw InvalidArgument(fmt::format("--apgd-steps must be >= 0 (0: --steps), got {}", job.apgd_steps));
  if (job.limit < 0) throw InvalidArgument(fmt::format("--limit must be >= 0, got {}", job.limit));
  if (job.batch_size < 1) throw InvalidArgument(fmt::format("--batch-size must be >= 1, got {}", job.batch_size));
  if (job.restarts < 1) throw InvalidArgument(fmt::format("--restarts must be >= 1, got {}", job.restarts));
  if (job.queries < 1) throw InvalidArgument(fmt::format("--queries must be >= 1, got {}", job.queries));
  if (job.target_classes < 1) throw InvalidArgument(fmt::format("--target-classes must be >= 1, got {}", job.target_classes));
  if (job.threads < 0) throw InvalidArgument(fmt::format("--threads must be >= 0, got {}", job.threads));
  if (!(job.step_fraction >= 0) || !std::isfinite(job.step_fraction))
    throw InvalidArgument(fmt::format("--step-fraction must be a finite number >= 0, got {}", job.step_fraction));
  if (job.seed > 0xffffffffULL) throw InvalidArgument(fmt::format("--seed must be below 2^32, got {}", job.seed));
  if (job.has_threshold && !(job.threshold > 0 && std::isfinite(job.threshold)))
    throw InvalidArgument(fmt::format("--threshold must be a finite number > 0 (leave it out for the run's), got {}", job.threshold));
  std::vector<attack::AttackKind> kinds;
  for (const auto& name : job.attacks) {  // before any loading
    try {
      kinds.push_back(attack::parse_attack(name));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fmt::format("--attacks: {}", error_reason(e)));
    }
  }
  const auto unit = attack::parse_epsilon_unit(job.unit);
  const auto norm = attack::parse_norm(job.norm);
  if (norm == attack::Norm::kL2 && !job.epsilons_given)
    throw InvalidArgument(
        "--norm l2 needs --eps: the default list is the paper's L-infinity one (RobustBench's L2 threat model on CIFAR-10 is "
        "--eps 0,0.25,0.5 --eps-unit pixel)");
  const bool any_targeted = std::any_of(kinds.begin(), kinds.end(), [](const attack::AttackKind& kind) { return kind.targeted; });
  const auto any_of_method = [&](attack::Method method) {
    return std::any_of(kinds.begin(), kinds.end(), [method](const attack::AttackKind& kind) { return kind.method == method; });
  };
  const bool any_pgd = any_of_method(attack::Method::kPgd);
  const bool any_apgd_t = any_of_method(attack::Method::kApgdTargets), any_apgd = any_of_method(attack::Method::kApgd) || any_apgd_t;
  const bool any_restartable = any_pgd || any_apgd;
  std::vector<std::string> restartable;  // for the header line
  if (any_pgd) restartable.push_back("pgd");
  if (any_of_method(attack::Method::kApgd)) restartable.push_back("apgd");
  if (any_apgd_t) restartable.push_back("apgd-t");
  const std::string restartable_names = fmt::format("{}", fmt::join(restartable, ", "));
  if (job.apgd_steps > 0 && !any_apgd)
    throw InvalidArgument(fmt::format(
        "--apgd-steps {} applies to apgd and apgd-t (and their -margin, -dlr and -targeted forms), which --attacks does not list", job.apgd_steps));
  if (job.target_classes_given && !any_apgd_t)
    throw InvalidArgument(fmt::format("--target-classes {} applies to APGD-T (apgd-t, apgd-t-margin, apgd-t-dlr), which --attacks does not list",
                                      job.target_classes));
  if (job.restarts > 1 && !any_restartable)
    throw InvalidArgument(fmt::format(
        "--restarts {} applies to pgd, apgd and apgd-t (and their -margin, -dlr and -targeted forms), which --attacks does not list", job.restarts));
  std::string target_hit_file;
  if (!job.per_image.empty()) {  // checked before the sweep, so that its result is not lost at the end
    const std::filesystem::path per_image(job.per_image);
    if (per_image.extension() != ".npy") throw InvalidArgument(fmt::format("--per-image {}: give a file name ending in .npy", job.per_image));
    target_hit_file = (per_image.parent_path() / per_image.stem()).string() + ".target_hit.npy";
    for (const auto& file : {job.per_image, target_hit_file})
      if (std::error_code error; std::filesystem::is_directory(file, error))
        throw InvalidArgument(fmt::format("--per-image {}: {} is a directory", job.per_image, file));
  }
  use_threads(job.threads);

  auto run = train::load_trained_run(job.run, job.device);
  const std::string out = job.out.empty() ? default_attack_file(job.run) : job.out;
  create_output_directory(std::filesystem::path(out).parent_path());
  if (!job.per_image.empty()) create_output_directory(std::filesystem::path(job.per_image).parent_path());
  if (job.channels_last) models::set_memory_format(*run.model, c10::MemoryFormat::ChannelsLast);
  const auto test = train::load_experiment_data(run.config, data::Split::kTest);
  const auto n = job.limit > 0 ? std::min(job.limit, test.size()) : test.size();
  const auto options = attack::SweepOptions(run.statistics)
                           .attacks(job.attacks)
                           .epsilons(job.epsilons)
                           .unit(unit)
                           .norm(norm)
                           .steps(job.steps)
                           .apgd_steps(job.apgd_steps)
                           .step_fraction(job.step_fraction)
                           .seed(job.seed)
                           .batch_size(job.batch_size)
                           .restarts(job.restarts)
                           .queries(job.queries)
                           .target_classes(any_apgd_t ? job.target_classes : 0)
                           .unbounded_check(job.unbounded_check)
                           .per_image(!job.per_image.empty())
                           .threshold(job.has_threshold ? job.threshold : run.config.threshold)
                           .progress(job.progress);
  const auto result = attack::run_sweep(run.model, run.labels, test.to(torch::Device(job.device)), torch::arange(n), options);

  auto j = nlohmann::json::parse(result.to_json());
  j["run"] = job.run;
  j["checkpoint"] = run.checkpoint;
  j["dataset"] = run.config.dataset;
  j["encoder"] = run.config.encoder;
  j["device"] = job.device;
  if (!job.per_image.empty()) {
    write_npy(job.per_image, result.per_image_correct);
    // Absolute: the report reads the sweep from wherever it runs (and then looks beside the sweep).
    j["per_image"] = {{"correct", std::filesystem::absolute(job.per_image).string()}};
    if (any_targeted) {
      write_npy(target_hit_file, result.per_image_target_hit);
      j["per_image"]["target_hit"] = std::filesystem::absolute(target_hit_file).string();
    }
  }
  write_file_atomically(out, j.dump(2) + "\n");

  std::cout << fmt::format("{}: {} {} labels, {} test images, {} initially correct ({:.2f}%), eps in {} units{}{}\n", job.run,
                           run.config.encoder, result.labels, result.images, result.initially_correct, 100 * result.clean_accuracy,
                           attack::epsilon_unit_name(unit), norm == attack::Norm::kL2 ? ", L2 ball" : "",
                           (job.restarts > 1 ? fmt::format(", {} with {} restarts", restartable_names, job.restarts) : std::string()) +
                               (job.apgd_steps > 0 ? fmt::format(", apgd with {} steps", job.apgd_steps) : std::string()) +
                               (any_apgd_t ? fmt::format(", apgd-t over the top {} other classes", job.target_classes) : std::string()));
  std::cout << fmt::format("{:<21} {:>7} {:>10} {:>10} {:>17} {:>11} {:>9}\n", "attack", "eps", "accuracy", "threshold",
                           "initially-correct", "target-hit", "seconds");
  auto percent = [](double v) { return std::isfinite(v) ? fmt::format("{:.2f}%", 100 * v) : std::string("-"); };
  for (const auto& curve : result.curves)
    for (const auto& p : curve.points)
      std::cout << fmt::format("{:<21} {:>7.3f} {:>10} {:>10} {:>17} {:>11} {:>9.1f}\n", curve.attack, p.epsilon, percent(p.accuracy),
                               percent(p.threshold_accuracy), percent(p.subset_accuracy), curve.kind.targeted ? percent(p.target_hit_rate) : "",
                               p.seconds);
  if (result.curves.size() > 1) {
    for (const auto& p : result.worst_case)
      std::cout << fmt::format("{:<21} {:>7.3f} {:>10} {:>10} {:>17}\n", "worst case", p.epsilon, percent(p.accuracy), "", percent(p.subset_accuracy));
    // How far the sample of images lets the worst case be trusted.
    std::string intervals;
    for (const auto& p : result.worst_case)
      if (p.epsilon > 0)
        intervals += fmt::format("{}eps {:g}: {:.1f}-{:.1f}%", intervals.empty() ? "" : ", ", p.epsilon, 100 * p.accuracy_low, 100 * p.accuracy_high);
    if (!intervals.empty()) std::cout << fmt::format("worst case, 95% interval over {} images (Wilson): {}\n", result.images, intervals);
  }
  if (!result.masking_checks.empty()) {
    std::cout << "gradient-masking checks (docs/robustness.md):\n";
    for (const auto& check : result.masking_checks)
      std::cout << fmt::format("  {:<5} {}{}: {}\n", check.passed ? "ok" : "WARN", check.check,
                               check.attack.empty() ? "" : " " + check.attack, check.detail);
  }
  if (!job.per_image.empty())
    std::cout << fmt::format("per image ([attacks, eps, images], bool): {}{}\n", job.per_image, any_targeted ? ", " + target_hit_file : "");
  std::cout << fmt::format("wrote {} ({:.1f} s)\n", out, result.seconds);
  return out;
}

void add_attack_command(CLI::App& app) {
  auto job = std::make_shared<AttackJob>();
  auto* cmd = app.add_subcommand("attack", "Attack a trained run's test images (FGSM, iterative, PGD, APGD, APGD-T, Square) over a list of epsilons");
  cmd->add_option("--run", job->run, "Run directory written by `labelrep train` (its best checkpoint is attacked)")->required();
  cmd->add_option("--attacks", job->attacks,
                  "Attacks: fgsm, bim, pgd and apgd (Auto-PGD), each also with -margin (on the decision margin) or -dlr (on "
                  "AutoAttack's DLR loss) and -targeted (bim-margin-targeted); apgd-t, apgd-t-margin, apgd-t-dlr (AutoAttack's APGD-T: "
                  "--target-classes searches, untargeted); noise (random signs: the baseline of the gradient-masking checks); square and "
                  "square-targeted (black-box: --queries model calls per image)")
      ->delimiter(',')
      ->capture_default_str();
  auto* epsilons = cmd->add_option("--eps", job->epsilons, "Epsilon values (the paper: 0,0.05,...,0.3 in normalized units; required with --norm l2)")
                       ->delimiter(',')
                       ->capture_default_str();
  cmd->add_option("--eps-unit", job->unit, "normalized (the paper: on the mean/std-normalised image) or pixel ([0, 1] pixel values)")
      ->capture_default_str()
      ->check(CLI::IsMember({"normalized", "pixel"}));
  cmd->add_option("--norm", job->norm,
                  "The ball eps bounds: linf (the paper: each value moves by at most eps) or l2 (the perturbation's length)")
      ->capture_default_str()
      ->check(CLI::IsMember({"linf", "l2"}));
  cmd->add_option("--steps", job->steps,
                  "Steps of bim, pgd and apgd (step size eps/steps for bim, 2.5 eps/steps for pgd; apgd starts at 2 eps and adapts)")
      ->capture_default_str();
  cmd->add_option("--apgd-steps", job->apgd_steps, "Steps of apgd if not --steps (0: --steps; AutoAttack runs apgd with 100)")->capture_default_str();
  cmd->add_option("--step-fraction", job->step_fraction, "Step size as a fraction of eps, apgd's first one too (0: the defaults above)")
      ->capture_default_str();
  cmd->add_option("--restarts", job->restarts, "Random restarts of pgd and apgd: an image is broken when any restart breaks it")
      ->capture_default_str();
  cmd->add_option("--queries", job->queries, "Square's model calls per image at most")->capture_default_str();
  auto* target_classes = cmd->add_option("--target-classes", job->target_classes,
                  "APGD-T's (apgd-t, apgd-t-margin, apgd-t-dlr) targeted searches: one at each of an image's K most likely other classes "
                  "(AutoAttack's: 9)")
      ->capture_default_str();
  cmd->add_flag("!--no-unbounded-check", job->unbounded_check,
                "Skip the unbounded-attack check (an untargeted bim over the whole pixel box, run with untargeted fgsm or bim)");
  cmd->add_option("--per-image", job->per_image,
                  "Also write each image's outcome: F.npy, bool [attacks, eps, images], true = still its class (and "
                  "<stem>.target_hit.npy for targeted attacks)");
  cmd->add_option("--limit", job->limit, "Attack only the first N test images (0: all)")->capture_default_str();
  cmd->add_option("--seed", job->seed, "Seed of the targets of targeted attacks, of pgd's and apgd's random starts, of the noise and of square")
      ->capture_default_str();
  cmd->add_option_function<double>(
      "--threshold",
      [job](double threshold) {
        job->threshold = threshold;
        job->has_threshold = true;
      },
      "Threshold of the threshold accuracy (default: the run's)");
  cmd->add_option("--batch-size", job->batch_size, "Images attacked at once")->capture_default_str();
  cmd->add_option("--device", job->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", job->threads, "Intra-op CPU threads (0: one per hardware thread)")->capture_default_str()->check(CLI::Range(0, 1024));
  cmd->add_flag("!--no-channels-last", job->channels_last, "Keep the contiguous (NCHW) memory format instead of channels-last");
  cmd->add_option("--out", job->out, "Output JSON file (default: RUN/attack.json, where `labelrep report` finds it)");
  cmd->callback([job, epsilons, target_classes] {
    job->epsilons_given = epsilons->count() > 0;
    job->target_classes_given = target_classes->count() > 0;
    run_attack_job(*job);
  });
}

}  // namespace labelrep::cli
