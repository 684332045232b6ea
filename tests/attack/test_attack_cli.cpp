// `labelrep attack` on a run trained by `labelrep train`, as a user would run it.
#include "catch.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "labelrep/core/npy.hpp"
#include "support.hpp"

using labelrep_test::run_command;

namespace {
// A JSON file the command wrote.
nlohmann::json read_json(const std::string& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}
}  // namespace

CATCH_TEST_CASE("labelrep attack sweeps attacks and epsilons over a run's test images and writes JSON", "[attack][cli]") {
  const std::string cli = labelrep_test::cli_path();
  CATCH_REQUIRE_FALSE(cli.empty());  // built with LABELREP_BUILD_TOOLS
  labelrep_test::TempDir dir;
  const std::string run = dir.file("run");
  const auto trained = run_command(cli + " train --dataset fashion-mnist --label composite --label-size 32 --encoder small-cnn --epochs 1 "
                                         "--level 1 --validation 300 --no-flip --out " + run);
  CATCH_INFO(trained.output);
  CATCH_REQUIRE(trained.exit_code == 0);

  const std::string out = dir.file("attack.json");
  const auto r = run_command(cli + " attack --run " + run + " --attacks fgsm,bim-targeted --eps 0,0.1,0.3 --limit 64 --seed 1 --out " + out +
                                 " --per-image " + dir.file("per/outcome.npy"));
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(r.output.find("bim-targeted") != std::string::npos);
  CATCH_CHECK(r.output.find("wrote " + out) != std::string::npos);
  const auto j = read_json(out);
  CATCH_CHECK(j["images"] == 64);
  CATCH_CHECK(j["run"] == run);
  CATCH_CHECK(j["dataset"] == "fashion-mnist");
  CATCH_CHECK(j["labels"] == "composite");
  CATCH_CHECK(j["epsilon_unit"] == "normalized");
  CATCH_CHECK(j["seed"] == 1);
  const auto initially = j["initially_correct"].get<std::int64_t>();
  // One epoch on 1% of the pool leaves the model near chance; what matters here is the bookkeeping
  // (the attacks' effect is tested in test_attack.cpp). The run is seeded: 8 of the 64 are correct.
  CATCH_REQUIRE(initially > 0);
  CATCH_REQUIRE(j["attacks"].size() == 2);
  for (const auto& a : j["attacks"]) {
    CATCH_REQUIRE(a["points"].size() == 3);
    CATCH_CHECK(a["points"][0]["epsilon"] == 0.0);
    CATCH_CHECK(a["points"][0]["accuracy"].get<double>() == j["clean_accuracy"].get<double>());
    CATCH_CHECK(a["points"][0]["subset_accuracy"].get<double>() == 1.0);
    for (const auto& p : a["points"]) {
      CATCH_CHECK(p["accuracy"].get<double>() == static_cast<double>(p["correct"].get<std::int64_t>()) / 64.0);
      CATCH_CHECK(p["subset_accuracy"].get<double>() <= 1.0);
    }
  }
  // Per image: [attacks, eps, images] bool files whose sums are the counts.
  const auto per_image = labelrep::read_npy(dir.file("per/outcome.npy"));
  const auto target_hit = labelrep::read_npy(dir.file("per/outcome.target_hit.npy"));
  CATCH_REQUIRE(per_image.sizes() == torch::IntArrayRef({2, 3, 64}));
  CATCH_CHECK(per_image.scalar_type() == torch::kBool);
  CATCH_REQUIRE(target_hit.sizes() == torch::IntArrayRef({2, 3, 64}));
  for (std::int64_t a = 0; a < 2; ++a)
    for (std::int64_t e = 0; e < 3; ++e) {
      CATCH_CHECK(per_image[a][e].sum().item<std::int64_t>() == j["attacks"][a]["points"][e]["correct"].get<std::int64_t>());
      if (a == 1) CATCH_CHECK(target_hit[a][e].sum().item<std::int64_t>() == j["attacks"][a]["points"][e]["target_hits"].get<std::int64_t>());
    }
  CATCH_CHECK(j["per_image"]["correct"] == dir.file("per/outcome.npy"));
  CATCH_CHECK(j["per_image"]["target_hit"] == dir.file("per/outcome.target_hit.npy"));
  // A relative --per-image is recorded absolute, so that the sweep's reader finds it from anywhere.
  const auto relative = run_command("cd " + dir.file("") + " && " + cli + " attack --run " + run +
                                    " --attacks fgsm --eps 0,0.1 --limit 8 --out rel.json --per-image rel/outcome.npy");
  CATCH_INFO(relative.output);
  CATCH_REQUIRE(relative.exit_code == 0);
  const auto rel = read_json(dir.file("rel.json"));
  const std::string recorded = rel["per_image"]["correct"];
  CATCH_CHECK(std::filesystem::path(recorded).is_absolute());
  CATCH_CHECK(std::filesystem::equivalent(recorded, dir.file("rel/outcome.npy")));
  const auto not_npy = run_command(cli + " attack --run " + run + " --attacks fgsm --per-image " + dir.file("outcome.txt") + " --out " + dir.file("x.json"));
  CATCH_CHECK(not_npy.exit_code == 2);
  CATCH_CHECK(not_npy.output.find("--per-image") != std::string::npos);

  CATCH_CHECK(j["attacks"][1]["targeted"] == true);
  CATCH_CHECK(j["attacks"][1]["points"][0]["target_hit_rate"].get<double>() == 0.0);
  CATCH_CHECK(j["attacks"][1]["points"][2]["target_hits"].get<std::int64_t>() + j["attacks"][1]["points"][2]["correct"].get<std::int64_t>() <=
              initially);

  const auto pixel = run_command(cli + " attack --run " + run +
                                 " --attacks pgd,apgd-margin --eps 0.02 --eps-unit pixel --steps 3 --apgd-steps 6 --restarts 2 --limit 16 --out " +
                                 dir.file("pixel.json"));
  CATCH_INFO(pixel.output);
  CATCH_REQUIRE(pixel.exit_code == 0);
  const auto p = read_json(dir.file("pixel.json"));
  CATCH_CHECK(p["epsilon_unit"] == "pixel");
  CATCH_CHECK(p["steps"] == 3);
  CATCH_CHECK(p["restarts"] == 2);
  CATCH_CHECK(pixel.output.find("pgd, apgd with 2 restarts") != std::string::npos);
  CATCH_CHECK(p["attacks"][0]["attack"] == "pgd");
  CATCH_CHECK(p["attacks"][1]["attack"] == "apgd-margin");
  CATCH_CHECK(p["attacks"][1]["method"] == "apgd");
  CATCH_CHECK(p["attacks"][1]["objective"] == "margin");
  CATCH_CHECK(p["attacks"][0]["steps"] == 3);
  CATCH_CHECK(p["attacks"][1]["steps"] == 6);
  CATCH_CHECK(pixel.output.find("apgd with 6 steps") != std::string::npos);
  CATCH_CHECK(pixel.output.find("\napgd-margin ") != std::string::npos);
  CATCH_CHECK_FALSE(p.contains("unbounded_correct"));  // no untargeted FGSM or BIM: no unbounded check
  CATCH_CHECK(j.contains("unbounded_correct"));
  CATCH_CHECK(r.output.find("unbounded-attack") != std::string::npos);

  const auto square = run_command(cli + " attack --run " + run + " --attacks bim,square,square-targeted --eps 0,0.3 --queries 20 --limit 64 "
                                  "--no-unbounded-check --out " + dir.file("square.json"));
  CATCH_INFO(square.output);
  CATCH_REQUIRE(square.exit_code == 0);
  const auto q = read_json(dir.file("square.json"));
  CATCH_CHECK(q["queries"] == 20);
  CATCH_CHECK(q["attacks"][2]["attack"] == "square-targeted");
  CATCH_CHECK_FALSE(q.contains("unbounded_correct"));
  CATCH_CHECK(square.output.find("square-beats-attack bim") != std::string::npos);
  CATCH_CHECK(square.output.find("worst case") != std::string::npos);
  CATCH_CHECK(square.output.find("worst case, 95% interval over 64 images (Wilson): eps 0.3: ") != std::string::npos);
  CATCH_REQUIRE(q["worst_case"].size() == 2);
  for (const auto& a : q["attacks"]) CATCH_CHECK(q["worst_case"][1]["correct"].get<std::int64_t>() <= a["points"][1]["correct"].get<std::int64_t>());
  const auto queries = run_command(cli + " attack --run " + run + " --attacks square --queries 0 --out " + dir.file("x.json"));
  CATCH_CHECK(queries.exit_code == 2);
  CATCH_CHECK(queries.output.find("--queries must be >= 1") != std::string::npos);

  // APGD-T beside the untargeted APGD in one sweep, over each image's top other classes; the count is
  // refused without an APGD-T.
  const auto apgd_t = run_command(cli + " attack --run " + run + " --attacks apgd,apgd-t-margin --target-classes 3 --eps 0,0.2 --limit 32 --out " +
                                  dir.file("apgd_t.json"));
  CATCH_INFO(apgd_t.output);
  CATCH_REQUIRE(apgd_t.exit_code == 0);
  CATCH_CHECK(apgd_t.output.find("apgd-t over the top 3 other classes") != std::string::npos);
  const auto restarted = run_command(cli + " attack --run " + run + " --attacks apgd-t --restarts 2 --eps 0,0.2 --limit 8 --out " + dir.file("t2.json"));
  CATCH_CHECK(restarted.output.find(", apgd-t with 2 restarts, apgd-t over the top 9 other classes") != std::string::npos);
  const auto apgd_t_json = read_json(dir.file("apgd_t.json"));
  CATCH_CHECK(apgd_t_json["attacks"][1]["target_classes"] == 3);
  CATCH_CHECK(apgd_t_json["worst_case"].size() == 2);
  const std::pair<const char*, const char*> refusals[] = {
      {" --attacks bim,apgd --target-classes 3", "--target-classes 3 applies to APGD-T (apgd-t, apgd-t-margin, apgd-t-dlr)"},
      {" --attacks apgd-t --target-classes 0", "--target-classes must be >= 1, got 0"},
      {" --attacks apgd-t-targeted", "unknown attack 'apgd-t-targeted'"}};
  for (const auto& [bad, says] : refusals) {
    const auto refused = run_command(cli + " attack --run " + run + bad + " --out " + dir.file("x.json"));
    CATCH_INFO(bad << ": " << refused.output);
    CATCH_CHECK(refused.exit_code == 2);
    CATCH_CHECK(refused.output.find(says) != std::string::npos);
  }

  // The L2 threat model: its own ε (the defaults are the paper's L∞ ones); Square searches in the L2 ball.
  const auto l2 = run_command(cli + " attack --run " + run + " --attacks fgsm,bim,apgd,square --queries 50 --norm l2 --eps 0,1 --eps-unit pixel --limit 32 --out " +
                              dir.file("l2.json"));
  CATCH_INFO(l2.output);
  CATCH_REQUIRE(l2.exit_code == 0);
  CATCH_CHECK(l2.output.find("eps in pixel units, L2 ball") != std::string::npos);
  const auto l2_sweep = read_json(dir.file("l2.json"));
  CATCH_CHECK(l2_sweep["norm"] == "l2");
  CATCH_CHECK(l2_sweep["attacks"].size() == 4);
  CATCH_CHECK(j["norm"] == "linf");
  const auto l2_default_eps = run_command(cli + " attack --run " + run + " --attacks fgsm --norm l2 --out " + dir.file("x.json"));
  CATCH_CHECK(l2_default_eps.exit_code == 2);
  CATCH_CHECK(l2_default_eps.output.find("--norm l2 needs --eps") != std::string::npos);
  const auto bad_norm = run_command(cli + " attack --run " + run + " --norm l1 --eps 0,1 --out " + dir.file("x.json"));
  CATCH_CHECK(bad_norm.exit_code == 2);
  CATCH_CHECK(bad_norm.output.find("l1") != std::string::npos);

  // labelrep radius: each image's smallest breaking ε, its summary and its accuracy curve.
  const auto radius = run_command(cli + " radius --run " + run + " --attack bim --max-eps 0.5 --bisections 4 --limit 32 --out " +
                                  dir.file("radius/r.json"));
  CATCH_INFO(radius.output);
  CATCH_REQUIRE(radius.exit_code == 0);
  CATCH_CHECK(radius.output.find("radius of the ") != std::string::npos);
  CATCH_CHECK(radius.output.find("accuracy from the radii: eps 0.0625: ") != std::string::npos);
  const auto rj = read_json(dir.file("radius/r.json"));
  CATCH_CHECK(rj["attack"] == "bim");
  CATCH_CHECK(rj["norm"] == "linf");
  CATCH_CHECK(rj["images"] == 32);
  CATCH_CHECK(rj["resolution"].get<double>() == 0.5 / 16);
  CATCH_CHECK(rj["per_image"] == dir.file("radius/r.npy"));
  const auto radii = labelrep::read_npy(dir.file("radius/r.npy"));
  CATCH_REQUIRE(radii.sizes() == torch::IntArrayRef({32}));
  CATCH_CHECK(radii.scalar_type() == torch::kFloat64);
  CATCH_CHECK(((radii == 0) | ((radii > 0) & (radii <= 0.5)) | torch::isinf(radii)).all().item<bool>());
  CATCH_CHECK(rj["attacked"].get<std::int64_t>() == (radii > 0).sum().item<std::int64_t>());
  CATCH_CHECK(rj["unbroken"].get<std::int64_t>() == torch::isinf(radii).sum().item<std::int64_t>());
  for (const auto& p : rj["accuracy"])
    CATCH_CHECK(p["correct"].get<std::int64_t>() == (radii > p["epsilon"].get<double>()).sum().item<std::int64_t>());
  // APGD-T's radii; --target-classes only with APGD-T.
  const auto radius_t = run_command(cli + " radius --run " + run + " --attack apgd-t-margin --target-classes 2 --max-eps 0.5 --bisections 3 --limit 16 --out " +
                                    dir.file("radius/t.json"));
  CATCH_INFO(radius_t.output);
  CATCH_REQUIRE(radius_t.exit_code == 0);
  CATCH_CHECK(read_json(dir.file("radius/t.json"))["target_classes"] == 2);
  for (const char* bad : {" --max-eps 0", " --attack noise", " --bisections 0", " --attack cw", " --attack apgd --target-classes 2", " --attack apgd-t --target-classes 0"}) {
    const auto refused = run_command(cli + " radius --run " + run + bad + " --out " + dir.file("x.json"));
    CATCH_INFO(bad << ": " << refused.output);
    CATCH_CHECK(refused.exit_code == 2);
  }
  CATCH_CHECK(run_command(cli + " radius --run " + run + " --out " + dir.file("radius.txt")).exit_code == 2);

  const auto name = run_command(cli + " attack --run " + run + " --attacks fgsm,cw --out " + dir.file("x.json"));
  CATCH_CHECK(name.exit_code == 2);
  CATCH_CHECK(name.output.find("unknown attack 'cw'") != std::string::npos);
  const auto eps = run_command(cli + " attack --run " + run + " --eps 0,-0.1 --out " + dir.file("x.json"));
  CATCH_CHECK(eps.exit_code == 2);
  CATCH_CHECK(eps.output.find("--eps") != std::string::npos);
  const auto unit = run_command(cli + " attack --run " + run + " --eps-unit pixels --out " + dir.file("x.json"));
  CATCH_CHECK(unit.exit_code == 2);
  CATCH_CHECK(unit.output.find("pixels") != std::string::npos);
  const auto no_apgd = run_command(cli + " attack --run " + run + " --attacks bim --apgd-steps 20 --out " + dir.file("x.json"));
  CATCH_CHECK(no_apgd.exit_code == 2);
  CATCH_CHECK(no_apgd.output.find("--apgd-steps 20 applies to apgd") != std::string::npos);
  const auto negative_apgd = run_command(cli + " attack --run " + run + " --attacks apgd --apgd-steps -2 --out " + dir.file("x.json"));
  CATCH_CHECK(negative_apgd.exit_code == 2);
  const auto no_pgd = run_command(cli + " attack --run " + run + " --attacks fgsm --restarts 3 --out " + dir.file("x.json"));
  CATCH_CHECK(no_pgd.exit_code == 2);
  CATCH_CHECK(no_pgd.output.find("--restarts 3 applies to pgd, apgd and apgd-t") != std::string::npos);
  std::filesystem::create_directories(dir.file("in-the-way.npy"));  // found before the sweep runs
  const auto in_the_way = run_command(cli + " attack --run " + run + " --attacks fgsm --per-image " + dir.file("in-the-way.npy") + " --out " + dir.file("x.json"));
  CATCH_CHECK(in_the_way.exit_code == 2);
  CATCH_CHECK(in_the_way.output.find("is a directory") != std::string::npos);
  const auto restarts = run_command(cli + " attack --run " + run + " --restarts 0 --out " + dir.file("x.json"));
  CATCH_CHECK(restarts.exit_code == 2);
  CATCH_CHECK(restarts.output.find("--restarts must be >= 1") != std::string::npos);
  const auto steps = run_command(cli + " attack --run " + run + " --steps 0 --out " + dir.file("x.json"));
  CATCH_CHECK(steps.exit_code == 2);
  CATCH_CHECK(steps.output.find("--steps") != std::string::npos);
  // -1 is refused like any other threshold that is not positive (it once stood for "left out").
  for (const char* threshold : {"-1", "0"}) {
    const auto bad = run_command(cli + " attack --run " + run + " --threshold " + threshold + " --out " + dir.file("x.json"));
    CATCH_INFO(bad.output);
    CATCH_CHECK(bad.exit_code == 2);
    CATCH_CHECK(bad.output.find("--threshold must be a finite number > 0") != std::string::npos);
  }
  const auto missing = run_command(cli + " attack --run " + dir.file("no-run") + " --out " + dir.file("x.json"));
  CATCH_CHECK(missing.exit_code == 1);
  CATCH_CHECK(missing.output.find(dir.file("no-run")) != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("x.json")));
  // Without --out the sweep goes into the run directory, where `labelrep report` finds it.
  const auto no_out = run_command(cli + " attack --run " + run + " --attacks fgsm --eps 0,0.1 --limit 8");
  CATCH_CHECK(no_out.exit_code == 0);
  CATCH_CHECK(std::filesystem::exists(run + "/attack.json"));
}
