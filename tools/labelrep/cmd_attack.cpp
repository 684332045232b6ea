// `labelrep attack --run RUN_DIR --out F.json`: the paper's robustness sweep (attacks × ε) on a trained
// run's test set, written as JSON and printed as a table.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <thread>
#include <torch/utils.h>

#include "commands.hpp"
#include "labelrep/attack/attack.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/train/trained_run.hpp"

namespace labelrep::cli {

void add_attack_command(CLI::App& app) {
  struct Args {
    std::string run, out, device = "cpu", unit = "normalized";
    std::vector<std::string> attacks = {"fgsm", "fgsm-targeted", "bim", "bim-targeted"};
    std::vector<double> epsilons = attack::paper_epsilons();
    std::int64_t steps = 5, limit = 0, batch_size = 256;
    double step_fraction = 0;
    std::uint64_t seed = 0;
    int threads = 0;
    bool channels_last = true;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("attack", "Attack a trained run's test images (FGSM, iterative, PGD) over a list of epsilons");
  cmd->add_option("--run", args->run, "Run directory written by `labelrep train` (its best checkpoint is attacked)")->required();
  cmd->add_option("--attacks", args->attacks, "Attacks: fgsm, fgsm-targeted, bim, bim-targeted, pgd, pgd-targeted")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--eps", args->epsilons, "Epsilon values (the paper: 0,0.05,...,0.3 in normalized units)")->delimiter(',')->capture_default_str();
  cmd->add_option("--eps-unit", args->unit, "normalized (the paper: on the mean/std-normalised image) or pixel ([0, 1] pixel values)")
      ->capture_default_str()
      ->check(CLI::IsMember({"normalized", "pixel"}));
  cmd->add_option("--steps", args->steps, "Steps of bim and pgd (step size eps/steps for bim, 2.5 eps/steps for pgd)")->capture_default_str();
  cmd->add_option("--step-fraction", args->step_fraction, "Step size as a fraction of eps (0: the defaults above)")->capture_default_str();
  cmd->add_option("--limit", args->limit, "Attack only the first N test images (0: all)")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the targets of targeted attacks and of PGD's random starts")->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Images attacked at once")->capture_default_str();
  cmd->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", args->threads, "Intra-op CPU threads (0: one per hardware thread)")->capture_default_str();
  cmd->add_flag("!--no-channels-last", args->channels_last, "Keep the contiguous (NCHW) memory format instead of channels-last");
  cmd->add_option("--out", args->out, "Output JSON file (accuracies per attack and epsilon)")->required();
  cmd->callback([args] {
    for (double e : args->epsilons)
      if (!(e >= 0) || !std::isfinite(e)) throw InvalidArgument(fmt::format("--eps: each value must be a finite number >= 0, got {}", e));
    if (args->steps < 1) throw InvalidArgument(fmt::format("--steps must be >= 1, got {}", args->steps));
    if (args->limit < 0) throw InvalidArgument(fmt::format("--limit must be >= 0, got {}", args->limit));
    if (args->batch_size < 1) throw InvalidArgument(fmt::format("--batch-size must be >= 1, got {}", args->batch_size));
    if (args->threads < 0) throw InvalidArgument(fmt::format("--threads must be >= 0, got {}", args->threads));
    if (!(args->step_fraction >= 0) || !std::isfinite(args->step_fraction))
      throw InvalidArgument(fmt::format("--step-fraction must be a finite number >= 0, got {}", args->step_fraction));
    if (args->seed > 0xffffffffULL) throw InvalidArgument(fmt::format("--seed must be below 2^32, got {}", args->seed));
    for (const auto& name : args->attacks) {  // before any loading
      try {
        attack::parse_attack(name);
      } catch (const InvalidArgument& e) {
        throw InvalidArgument(fmt::format("--attacks: {}", std::string(e.what()).substr(std::string("labelrep: ").size())));
      }
    }
    const auto unit = attack::parse_epsilon_unit(args->unit);
    // libtorch as packaged by Debian starts with one intra-op thread whatever the machine has.
    const int threads = args->threads > 0 ? args->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (at::get_num_threads() != threads) torch::set_num_threads(threads);

    auto run = train::load_trained_run(args->run, args->device);
    if (args->channels_last) models::set_memory_format(*run.model, c10::MemoryFormat::ChannelsLast);
    const auto test = train::load_experiment_data(run.config, data::Split::kTest);
    const auto n = args->limit > 0 ? std::min(args->limit, test.size()) : test.size();
    const auto options = attack::SweepOptions(run.statistics)
                             .attacks(args->attacks)
                             .epsilons(args->epsilons)
                             .unit(unit)
                             .steps(args->steps)
                             .step_fraction(args->step_fraction)
                             .seed(args->seed)
                             .batch_size(args->batch_size);
    const auto result = attack::run_sweep(run.model, run.labels, test.to(torch::Device(args->device)), torch::arange(n), options);

    auto j = nlohmann::json::parse(result.to_json());
    j["run"] = args->run;
    j["checkpoint"] = run.checkpoint;
    j["dataset"] = run.config.dataset;
    j["encoder"] = run.config.encoder;
    j["device"] = args->device;
    write_file_atomically(args->out, j.dump(2) + "\n");

    std::cout << fmt::format("{}: {} {} labels, {} test images, {} initially correct ({:.2f}%), eps in {} units\n", args->run,
                             run.config.encoder, result.labels, result.images, result.initially_correct, 100 * result.clean_accuracy,
                             attack::epsilon_unit_name(unit));
    std::cout << fmt::format("{:<14} {:>7} {:>10} {:>17} {:>11} {:>9}\n", "attack", "eps", "accuracy", "initially-correct",
                             "target-hit", "seconds");
    auto percent = [](double v) { return std::isfinite(v) ? fmt::format("{:.2f}%", 100 * v) : std::string("-"); };
    for (const auto& curve : result.curves)
      for (const auto& p : curve.points)
        std::cout << fmt::format("{:<14} {:>7.3f} {:>10} {:>17} {:>11} {:>9.1f}\n", curve.attack, p.epsilon, percent(p.accuracy),
                                 percent(p.subset_accuracy), curve.kind.targeted ? percent(p.target_hit_rate) : "", p.seconds);
    std::cout << fmt::format("wrote {} ({:.1f} s)\n", args->out, result.seconds);
  });
}

}  // namespace labelrep::cli
