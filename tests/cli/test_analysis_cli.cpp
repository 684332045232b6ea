// The analyses of trained runs feeding the report, as a user runs them: snapshots and the t-SNE
// progression, Grad-CAM at a chosen layer, attack sweeps written into the runs, and a report that shows
// the sweeps' numbers and the runs' figures.
#include "catch.hpp"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "labelrep/train/trained_run.hpp"
#include "support.hpp"

using labelrep_test::cli;
using labelrep_test::run_command;

namespace {
std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The report's Markdown row for one point of a composite run's sweep (one seed: no ± std).
std::string fmt_row(const nlohmann::json& sweep, std::size_t attack, std::size_t point) {
  const auto& a = sweep["attacks"][attack];
  const auto& p = a["points"][point];
  char row[512];
  // One seed: the accuracy's 95% interval over the images (accuracy_ci95) stands beside it.
  std::snprintf(row, sizeof row, "| fashion-mnist · small-cnn | %s | composite 1%% | %g | %lld | 1 | %.2f | %.1f–%.1f | %.2f |",
                a["attack"].get<std::string>().c_str(), p["epsilon"].get<double>(), static_cast<long long>(sweep["images"].get<std::int64_t>()),
                100 * p["accuracy"].get<double>(), 100 * p["accuracy_ci95"][0].get<double>(), 100 * p["accuracy_ci95"][1].get<double>(),
                100 * p["threshold_accuracy"].get<double>());
  return row;
}
}  // namespace

CATCH_TEST_CASE("snapshots, t-SNE progression, Grad-CAM layers, attack files and the report of them", "[cli][analysis]") {
  labelrep_test::TempDir dir;
  // One run (training and its full test evaluation are the slow part); categorical sweeps without a
  // threshold are covered by tests/attack and the report's grouping by tests/report.
  const std::string composite = dir.file("runs/composite");
  const std::string common = " --dataset fashion-mnist --label-size 32 --encoder small-cnn --level 1 --validation 300 --no-flip";
  const auto a = run_command(cli() + " train --label composite --epochs 2 --snapshot-epochs 0,1" + common + " --out " + composite);
  CATCH_INFO(a.output);
  CATCH_REQUIRE(a.exit_code == 0);

  // Snapshots: sealed checkpoints of the chosen epochs only, with the weights of that moment.
  CATCH_CHECK(std::filesystem::exists(composite + "/snapshots/epoch-0000.ckpt"));
  CATCH_CHECK(std::filesystem::exists(composite + "/snapshots/epoch-0001.ckpt"));
  CATCH_CHECK_FALSE(std::filesystem::exists(composite + "/snapshots/epoch-0002.ckpt"));
  {
    auto run = labelrep::train::load_trained_run(composite);
    auto initial = labelrep::models::deep_copy(run.model);
    const auto state0 = labelrep::train::load_checkpoint(composite + "/snapshots/epoch-0000.ckpt", *initial, nullptr);
    const auto state1 = labelrep::train::load_checkpoint(composite + "/snapshots/epoch-0001.ckpt", *run.model, nullptr);
    CATCH_CHECK(state0.epoch == 0);
    CATCH_CHECK(state1.epoch == 1);
    CATCH_CHECK_FALSE(torch::equal(initial->parameters()[0], run.model->parameters()[0]));
  }
  const auto bad_snapshot = run_command(cli() + " train --label composite --epochs 2 --snapshot-epochs 3" + common + " --out " + dir.file("bad"));
  CATCH_CHECK(bad_snapshot.exit_code == 2);
  CATCH_CHECK(bad_snapshot.output.find("snapshot epoch 3") != std::string::npos);

  // t-SNE progression: one panel per snapshot and the best weights, the same images in each.
  const auto progression = run_command(cli() + " tsne --run " + composite + " --progression --limit 150 --perplexity 15 --iterations 300");
  CATCH_INFO(progression.output);
  CATCH_REQUIRE(progression.exit_code == 0);
  const std::string figure = composite + "/figures/tsne_progression.svg";
  const auto svg = labelrep::read_file(figure);
  CATCH_CHECK(count(svg, "<svg x=") == 3);
  CATCH_CHECK(svg.find("epoch 0 (0% of training)") != std::string::npos);
  CATCH_CHECK(svg.find("epoch 1 (50% of training)") != std::string::npos);
  CATCH_CHECK(svg.find("best weights") != std::string::npos);
  const auto maps = labelrep::read_npy(composite + "/figures/tsne_progression.npy");
  CATCH_CHECK(maps.sizes() == torch::IntArrayRef({3, 150, 2}));
  CATCH_CHECK_FALSE(torch::allclose(maps[0], maps[2]));  // training changed the features
  const auto plain = run_command(cli() + " tsne --run " + composite + " --limit 150 --perplexity 15 --iterations 300");
  CATCH_REQUIRE(plain.exit_code == 0);
  CATCH_CHECK(std::filesystem::exists(composite + "/figures/tsne.svg"));
  CATCH_CHECK(plain.output.find("iterations/s") == std::string::npos);  // piped: no progress line
  // On a terminal (script(1) gives the command one), a progress line counts the iterations; the map is
  // the same.
  const auto plain_map = labelrep::read_npy(composite + "/figures/tsne.npy");
  const auto on_terminal =
      run_command("script -qec '" + cli() + " tsne --run " + composite + " --limit 150 --perplexity 15 --iterations 300' /dev/null");
  CATCH_INFO(on_terminal.output);
  CATCH_REQUIRE(on_terminal.exit_code == 0);
  CATCH_CHECK(on_terminal.output.find("t-SNE: 300/300 (100%) iterations") != std::string::npos);
  CATCH_CHECK(torch::equal(labelrep::read_npy(composite + "/figures/tsne.npy"), plain_map));

  // Grad-CAM: the layers by name, one of them chosen, an unknown one refused with the valid names.
  const auto layers = run_command(cli() + " gradcam --run " + composite + " --list-layers");
  CATCH_INFO(layers.output);
  CATCH_REQUIRE(layers.exit_code == 0);
  CATCH_CHECK(layers.output.find("body.3") != std::string::npos);
  CATCH_CHECK(layers.output.find("[32, 28, 28]  conv") != std::string::npos);  // small-cnn width 32 on 28×28 images
  const auto cam = run_command(cli() + " gradcam --run " + composite + " --images 0,5 --layer body.3");
  CATCH_INFO(cam.output);
  CATCH_REQUIRE(cam.exit_code == 0);
  CATCH_CHECK(std::filesystem::exists(composite + "/figures/gradcam/00000_Ankle_boot_cam-Ankle_boot_at-body_3.png"));
  CATCH_CHECK(std::filesystem::exists(composite + "/figures/gradcam/00005_Trouser_cam-Trouser_at-body_3.png"));
  const auto unknown = run_command(cli() + " gradcam --run " + composite + " --images 0 --layer body.99");
  CATCH_CHECK(unknown.exit_code == 2);
  CATCH_CHECK(unknown.output.find("body.0, body.3, body.7, body.10, body.14") != std::string::npos);

  // The attack sweep written into the run (the default --out), with threshold accuracy.
  const auto attacked = run_command(cli() + " attack --run " + composite + " --attacks fgsm,bim,noise --eps 0,0.1,0.3 --limit 64");
  CATCH_INFO(attacked.output);
  CATCH_REQUIRE(attacked.exit_code == 0);
  CATCH_REQUIRE(std::filesystem::exists(composite + "/attack.json"));
  std::ifstream in(composite + "/attack.json");
  const auto sweep = nlohmann::json::parse(in);
  CATCH_CHECK(sweep["threshold"].get<double>() == 3.5);  // the run's
  const auto& fgsm = sweep["attacks"][0]["points"];
  CATCH_CHECK(fgsm[1]["threshold_accuracy"].get<double>() == fgsm[1]["threshold_correct"].get<double>() / 64.0);
  // The gradient-masking checks: zero-gradient, unbounded-attack; fgsm: noise, monotone; bim: noise,
  // iterative, monotone.
  CATCH_CHECK(sweep["masking_checks"].size() == 7);
  CATCH_CHECK(sweep.contains("unbounded_correct"));
  CATCH_CHECK(attacked.output.find("gradient-masking checks") != std::string::npos);
  CATCH_CHECK(attacked.output.find("noise-beats-attack bim: ") != std::string::npos);

  // The report: the sweep's numbers in its table and a figure per attack; the runs' figures.
  const auto report = run_command(cli() + " report " + dir.file("runs") + " --no-labels --out " + dir.file("report"));
  CATCH_INFO(report.output);
  CATCH_REQUIRE(report.exit_code == 0);
  const auto md = labelrep::read_file(dir.file("report/report.md"));
  const auto html = labelrep::read_file(dir.file("report/index.html"));
  CATCH_CHECK(md.find("Accuracy under adversarial attack") != std::string::npos);
  CATCH_CHECK(md.find("7 checks in 1 sweep (") != std::string::npos);
  CATCH_CHECK(std::filesystem::exists(dir.file("report/attack_fashion_mnist_small_cnn_noise.svg")));
  CATCH_CHECK(std::filesystem::exists(dir.file("report/attack_fashion_mnist_small_cnn_fgsm.svg")));
  CATCH_CHECK(std::filesystem::exists(dir.file("report/attack_fashion_mnist_small_cnn_bim.svg")));
  const auto row = fmt_row(sweep, 0, 2);
  CATCH_INFO(row);
  CATCH_CHECK(md.find(row) != std::string::npos);
  CATCH_CHECK(html.find("t-SNE over training") != std::string::npos);  // the progression, inline
  CATCH_CHECK(html.find("data:image/png;base64,") != std::string::npos);  // Grad-CAM pictures, inline
  CATCH_CHECK(std::filesystem::exists(dir.file("report/runs/composite/tsne_progression.svg")));
  CATCH_CHECK(md.find("runs/composite/gradcam/00000_Ankle_boot_cam-Ankle_boot_at-body_3.png") != std::string::npos);

  // Without snapshots there is no progression.
  std::filesystem::remove_all(composite + "/snapshots");
  const auto none = run_command(cli() + " tsne --run " + composite + " --progression --limit 150");
  CATCH_CHECK(none.exit_code == 2);
  CATCH_CHECK(none.output.find("no snapshots") != std::string::npos);
}
