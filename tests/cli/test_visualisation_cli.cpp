// `labelrep tsne` and `labelrep gradcam` on a 1-epoch Fashion-MNIST run, as a user would run them.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "labelrep/core/npy.hpp"
#include "support.hpp"

using labelrep_test::cli;
using labelrep_test::run_command;

namespace {
std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

CATCH_TEST_CASE("labelrep tsne and gradcam read a trained run and write the SVG, .npy and PNG files", "[cli][analysis]") {
  labelrep_test::TempDir dir;
  const std::string run = dir.file("run");
  const auto trained = run_command(cli() + " train --dataset fashion-mnist --label composite --label-size 32 --encoder small-cnn --epochs 1 "
                                           "--level 1 --validation 300 --out " + run);
  CATCH_INFO(trained.output);
  CATCH_REQUIRE(trained.exit_code == 0);

  const auto map = run_command(cli() + " tsne --run " + run + " --limit 300 --perplexity 20 --iterations 400 --out " + dir.file("map/tsne.svg"));
  CATCH_INFO(map.output);
  CATCH_REQUIRE(map.exit_code == 0);
  CATCH_CHECK(map.output.find("300 test images") != std::string::npos);
  CATCH_CHECK(map.output.find("10-NN class agreement") != std::string::npos);
  const auto svg = read_text(dir.file("map/tsne.svg"));
  CATCH_CHECK(svg.rfind("<svg", 0) == 0);
  CATCH_CHECK(svg.find("Ankle boot (") != std::string::npos);
  CATCH_CHECK(svg.find("T-shirt/top (") != std::string::npos);
  const auto xy = labelrep::read_npy(dir.file("map/tsne.npy"));
  CATCH_CHECK(xy.sizes() == torch::IntArrayRef({300, 2}));
  CATCH_CHECK(xy.dtype() == torch::kFloat64);
  CATCH_CHECK(torch::isfinite(xy).all().item<bool>());
  const auto classes = labelrep::read_npy(dir.file("map/tsne.classes.npy"));
  CATCH_CHECK(classes.sizes() == torch::IntArrayRef({300}));
  CATCH_CHECK(classes.min().item<std::int64_t>() >= 0);
  CATCH_CHECK(classes.max().item<std::int64_t>() <= 9);

  // --attack: the same images attacked and placed into the clean map, a second panel on the same axes,
  // written beside the clean map by default (figures/tsne_fgsm_eps0.1.svg).
  const auto attacked = run_command(cli() + " tsne --run " + run + " --limit 150 --perplexity 10 --iterations 300 --attack fgsm --eps 0.1");
  CATCH_INFO(attacked.output);
  CATCH_REQUIRE(attacked.exit_code == 0);
  CATCH_CHECK(attacked.output.find("fgsm at eps 0.1 (normalized units): ") != std::string::npos);
  CATCH_CHECK(attacked.output.find("of the images keep their class") != std::string::npos);
  const auto two_panels = read_text(run + "/figures/tsne_fgsm_eps0.1.svg");
  CATCH_CHECK(two_panels.find("clean, by class") != std::string::npos);
  CATCH_CHECK(two_panels.find("under fgsm at eps 0.1, by true class") != std::string::npos);
  const auto placed = labelrep::read_npy(run + "/figures/tsne_fgsm_eps0.1.placed.npy");
  CATCH_CHECK(placed.sizes() == torch::IntArrayRef({150, 2}));
  CATCH_CHECK(torch::isfinite(placed).all().item<bool>());
  // On the margin: another attack, so other images (the objective reaches the attack).
  const auto margin = run_command(cli() + " tsne --run " + run + " --limit 150 --perplexity 10 --iterations 300 --attack fgsm-margin --eps 0.1");
  CATCH_INFO(margin.output);
  CATCH_REQUIRE(margin.exit_code == 0);
  const auto placed_margin = labelrep::read_npy(run + "/figures/tsne_fgsm-margin_eps0.1.placed.npy");
  CATCH_REQUIRE(placed_margin.sizes() == torch::IntArrayRef({150, 2}));
  CATCH_CHECK_FALSE(torch::allclose(placed_margin, placed));
  // In the L2 ball: its own file, named so.
  const auto l2 =
      run_command(cli() + " tsne --run " + run + " --limit 150 --perplexity 10 --iterations 300 --attack bim --eps 1 --eps-unit pixel --norm l2");
  CATCH_INFO(l2.output);
  CATCH_REQUIRE(l2.exit_code == 0);
  CATCH_CHECK(l2.output.find("bim at eps 1 (pixel units, L2): ") != std::string::npos);
  CATCH_CHECK(read_text(run + "/figures/tsne_bim_l2_eps1.svg").find("under bim at eps 1, L2, by true class") != std::string::npos);
  const auto unknown_attack = run_command(cli() + " tsne --run " + run + " --limit 150 --perplexity 10 --attack cw --out " + dir.file("bad.svg"));
  CATCH_CHECK(unknown_attack.exit_code == 2);
  CATCH_CHECK(unknown_attack.output.find("--attack: unknown attack 'cw'") != std::string::npos);
  // A map of 15 images (perplexity below 5): the placement follows the map's lower perplexity.
  const auto few = run_command(cli() + " tsne --run " + run + " --limit 15 --perplexity 3 --iterations 100 --attack fgsm --out " + dir.file("few/map.svg"));
  CATCH_INFO(few.output);
  CATCH_CHECK(few.exit_code == 0);
  const auto eps_alone = run_command(cli() + " tsne --run " + run + " --limit 150 --eps 0.2 --out " + dir.file("bad.svg"));
  CATCH_CHECK(eps_alone.exit_code == 2);
  CATCH_CHECK(eps_alone.output.find("--attack") != std::string::npos);
  const auto with_progression = run_command(cli() + " tsne --run " + run + " --progression --attack fgsm --out " + dir.file("bad.svg"));
  CATCH_CHECK(with_progression.exit_code == 2);
  CATCH_CHECK(with_progression.output.find("--progression") != std::string::npos);

  const auto perplexity = run_command(cli() + " tsne --run " + run + " --limit 300 --perplexity 200 --out " + dir.file("bad.svg"));
  CATCH_CHECK(perplexity.exit_code == 2);
  CATCH_CHECK(perplexity.output.find("--perplexity 200") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("bad.svg")));

  const auto cam = run_command(cli() + " gradcam --run " + run + " --images 0,5 --out " + dir.file("cam"));
  CATCH_INFO(cam.output);
  CATCH_REQUIRE(cam.exit_code == 0);
  std::vector<std::string> pngs;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("cam"))) pngs.push_back(entry.path().filename().string());
  std::sort(pngs.begin(), pngs.end());
  CATCH_REQUIRE(pngs.size() == 2);
  // Fashion-MNIST test images 0 and 5 are an ankle boot and a trouser.
  CATCH_CHECK(pngs[0] == "00000_Ankle_boot_cam-Ankle_boot.png");
  CATCH_CHECK(pngs[1] == "00005_Trouser_cam-Trouser.png");
  CATCH_CHECK(read_text(dir.file("cam/" + pngs[0])).substr(0, 8) == "\x89PNG\r\n\x1a\n");
  CATCH_CHECK(cam.output.find("test image 5 (Trouser; predicted") != std::string::npos);

  const auto predicted = run_command(cli() + " gradcam --run " + run + " --images 3 --class predicted --out " + dir.file("pred"));
  CATCH_CHECK(predicted.exit_code == 0);
  CATCH_CHECK(std::distance(std::filesystem::directory_iterator(dir.file("pred")), {}) == 1);
  const auto fixed = run_command(cli() + " gradcam --run " + run + " --images 3 --class 9 --out " + dir.file("fixed"));
  CATCH_CHECK(fixed.exit_code == 0);
  CATCH_CHECK(std::filesystem::exists(dir.file("fixed/00003_Trouser_cam-Ankle_boot.png")));
  // Grad-CAM++ and HiResCAM are named in the file name and the line printed.
  const auto plus_plus = run_command(cli() + " gradcam --run " + run + " --images 3 --method gradcam++ --out " + dir.file("fixed"));
  CATCH_CHECK(plus_plus.exit_code == 0);
  CATCH_CHECK(plus_plus.output.find("Grad-CAM++ for Trouser") != std::string::npos);
  CATCH_CHECK(std::filesystem::exists(dir.file("fixed/00003_Trouser_cam-Trouser_gradcampp.png")));
  // The classic label score instead of the decision margin is named too.
  const auto label_score = run_command(cli() + " gradcam --run " + run + " --images 3 --score label --out " + dir.file("fixed"));
  CATCH_CHECK(label_score.exit_code == 0);
  CATCH_CHECK(label_score.output.find("Grad-CAM for Trouser (label score)") != std::string::npos);
  CATCH_CHECK(std::filesystem::exists(dir.file("fixed/00003_Trouser_cam-Trouser_label.png")));
  const auto score = run_command(cli() + " gradcam --run " + run + " --images 3 --score loss --out " + dir.file("no"));
  CATCH_CHECK(score.exit_code == 2);
  CATCH_CHECK(score.output.find("--score: unknown Grad-CAM score 'loss'") != std::string::npos);

  // ROAD: the table, the SVG and the JSON with three curves over the fractions.
  const auto road = run_command(cli() + " gradcam --run " + run + " --faithfulness --limit 60 --fractions 0,0.3,0.6 --layer body.5");
  CATCH_INFO(road.output);
  CATCH_REQUIRE(road.exit_code == 0);
  CATCH_CHECK(road.output.find("ROAD faithfulness of Grad-CAM of the decision margin at body.5 for the true class, 60 test images") !=
              std::string::npos);
  CATCH_CHECK(road.output.find("ROAD combined, the mean of (LeRF - MoRF)/2: ") != std::string::npos);
  const auto road_svg = read_text(run + "/figures/gradcam_faithfulness_at-body_5.svg");
  CATCH_CHECK(road_svg.find("another image") != std::string::npos);
  const auto road_json = nlohmann::json::parse(read_text(run + "/figures/gradcam_faithfulness_at-body_5.json"));
  CATCH_CHECK(road_json["images"] == 60);
  CATCH_CHECK(road_json["score"] == "margin");
  CATCH_CHECK(road_json["fractions"].size() == 3);
  for (const char* curve : {"most_relevant_first", "least_relevant_first", "baseline_most_relevant_first", "baseline_least_relevant_first"}) {
    CATCH_INFO(curve);
    CATCH_REQUIRE(road_json["curves"][curve]["kept"].size() == 3);
    CATCH_REQUIRE(road_json["curves"][curve]["kept_ci95"].size() == 3);
    // Nothing removed: the same clean images for every curve.
    CATCH_CHECK(road_json["curves"][curve]["kept"][0] == road_json["curves"]["most_relevant_first"]["kept"][0]);
  }
  const double combined = road_json["road_combined"], baseline = road_json["baseline_road_combined"], beyond = road_json["combined_beyond_baseline"];
  CATCH_CHECK(std::abs(beyond - (combined - baseline)) < 1e-12);
  // The gap's interval around it, and the verdict that follows from it and the areas.
  CATCH_REQUIRE(road_json["combined_beyond_baseline_ci95"].size() == 2);
  const double low = road_json["combined_beyond_baseline_ci95"][0], high = road_json["combined_beyond_baseline_ci95"][1];
  CATCH_CHECK(low <= beyond);
  CATCH_CHECK(high >= beyond);
  CATCH_CHECK(road_json["significantly_beats_baseline"] == (road_json["beats_baseline"].get<bool>() && low > 0));
  CATCH_CHECK(road.output.find(fmt::format("(95% CI {:.3f} to {:.3f}, paired bootstrap over the images)", low, high)) != std::string::npos);
  // The constant fill is named in the default file name, so it does not overwrite the ROAD check.
  const auto constant = run_command(cli() + " gradcam --run " + run + " --faithfulness --limit 20 --fractions 0,0.5 --imputation constant");
  CATCH_CHECK(constant.exit_code == 0);
  CATCH_CHECK(std::filesystem::exists(run + "/figures/gradcam_faithfulness_constant.json"));
  const auto json_out = run_command(cli() + " gradcam --run " + run + " --faithfulness --out " + dir.file("no/x.json"));
  CATCH_CHECK(json_out.exit_code == 2);
  CATCH_CHECK(json_out.output.find("name the .svg file") != std::string::npos);
  const auto one = run_command(cli() + " gradcam --run " + run + " --faithfulness --images 4 --out " + dir.file("no/x.svg"));
  CATCH_CHECK(one.exit_code == 2);
  CATCH_CHECK(one.output.find("at least two images") != std::string::npos);
  const auto fractions = run_command(cli() + " gradcam --run " + run + " --faithfulness --limit 10 --fractions 0.5,0.2 --out " + dir.file("no/x.svg"));
  CATCH_CHECK(fractions.exit_code == 2);
  CATCH_CHECK(fractions.output.find("--fractions") != std::string::npos);
  CATCH_CHECK(fractions.output.find("increase strictly") != std::string::npos);
  const auto imputation = run_command(cli() + " gradcam --run " + run + " --faithfulness --imputation blur --out " + dir.file("no/x.svg"));
  CATCH_CHECK(imputation.exit_code == 2);
  CATCH_CHECK(imputation.output.find("--imputation: unknown imputation 'blur'") != std::string::npos);

  const auto method = run_command(cli() + " gradcam --run " + run + " --images 3 --method scorecam --out " + dir.file("no"));
  CATCH_CHECK(method.exit_code == 2);
  CATCH_CHECK(method.output.find("--method: unknown Grad-CAM method 'scorecam'") != std::string::npos);

  const auto image = run_command(cli() + " gradcam --run " + run + " --images 10000 --out " + dir.file("no"));
  CATCH_CHECK(image.exit_code == 2);
  CATCH_CHECK(image.output.find("--images 10000") != std::string::npos);
  const auto klass = run_command(cli() + " gradcam --run " + run + " --images 1 --class 12 --out " + dir.file("no"));
  CATCH_CHECK(klass.exit_code == 2);
  CATCH_CHECK(klass.output.find("--class 12") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("no")));
}
