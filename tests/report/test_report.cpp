// Reports from run directories: Table 1 numbers over seeds, curves, data-level plot, labels, HTML.
#include "catch.hpp"

#include <torch/torch.h>

#include <fmt/format.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "labelrep/analysis/plot.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/labels/statistics.hpp"
#include "labelrep/report/report.hpp"
#include "labelrep/train/run_directory.hpp"
#include "support.hpp"

using namespace labelrep;

namespace {
void fake_run(const std::string& dir, const std::string& label, std::uint64_t seed, double level, double accuracy, bool categorical,
              const nlohmann::json& method_options = nlohmann::json::object()) {
  train::RunDirectory run(dir);
  nlohmann::json config = {{"dataset", "fashion-mnist"}, {"encoder", "small-cnn"}, {"label", label}, {"seed", seed}, {"level", level},
                           {"label_size", 16}};
  config.update(method_options);  // e.g. standardize_labels
  run.write_config(config.dump());
  // As the Trainer writes them: a run without a validation set (validation 0) has no validation column.
  const bool validated = config.value("validation", 5000) > 0;
  for (int e = 1; e <= 3; ++e) {
    std::map<std::string, double> row = {{"epoch", e}, {"train_loss", 1.0 / e}};
    if (validated) row["validation_accuracy"] = accuracy * e / 3.0;
    run.append_metrics(row);
  }
  nlohmann::json test = {{"accuracy", accuracy}};
  if (!categorical) test["threshold_accuracy"] = accuracy / 2;
  nlohmann::json result = {{"test", test}, {"best_epoch", 3}, {"best_validation_accuracy", validated ? nlohmann::json(accuracy) : nlohmann::json()},
                           {"selection", validated ? "validation" : "last epoch"}, {"parameters", 1000},
                           {"labels", {{"kind", label}}}, {"config", config}};
  run.write_result(result.dump());
}
}  // namespace

CATCH_TEST_CASE("find_runs looks for runs up to three levels below the root, as documented", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/x/y/z"), "composite", 0, 100, 0.90, false);
  fake_run(dir.file("runs/p/q/r/s"), "composite", 1, 100, 0.80, false);
  const auto runs = report::find_runs(dir.file("runs"));
  CATCH_REQUIRE(runs.size() == 1);
  CATCH_CHECK(runs[0].directory == dir.file("runs/x/y/z"));
}

CATCH_TEST_CASE("a report groups seeds, plots curves and levels, and draws the labels", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/a"), "composite", 0, 100, 0.90, false);
  fake_run(dir.file("runs/b"), "composite", 1, 100, 0.80, false);
  fake_run(dir.file("runs/c"), "category", 0, 100, 0.88, true);
  fake_run(dir.file("runs/d"), "category", 0, 10, 0.70, true);
  train::RunDirectory(dir.file("runs/unfinished")).write_config("{}");
  const auto runs = report::find_runs(dir.file("runs"));
  CATCH_CHECK(runs.size() == 4);
  CATCH_CHECK(runs[0].validation_curve.size() == 3);
  CATCH_CHECK(report::write_report(dir.file("runs"), dir.file("out")) == 4);
  const std::string html = read_file(dir.file("out/index.html"));
  const std::string md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(html.find("85.00 ± 5.00") != std::string::npos);  // composite over seeds 0 and 1
  CATCH_CHECK(html.find("42.50 ± 2.50") != std::string::npos);  // its threshold accuracy
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | category | 10 | 1 | 70.00 | – |") != std::string::npos);
  CATCH_CHECK(std::filesystem::exists(dir.file("out/data_efficiency.svg")));
  CATCH_CHECK(html.find("<svg") != std::string::npos);
  CATCH_CHECK(html.find("data:image/png;base64,iVBORw0KGgo") != std::string::npos);  // the PNG signature, embedded
  CATCH_CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));    // no external resources
  CATCH_CHECK(std::filesystem::exists(dir.file("out/labels_fashion_mnist_composite/labels.png")));
  CATCH_CHECK(md.find("| fashion-mnist | composite | 16×16 | 8.00 ± 0.00") != std::string::npos);

  CATCH_CHECK_THROWS_AS(report::write_report(dir.file("out"), dir.file("out2")), InvalidArgument);  // no runs there
  CATCH_CHECK_THROWS_AS(report::find_runs(dir.file("nowhere")), IoError);
  labelrep_test::write_bytes(dir.file("runs/a/result.json"), "{\"test\": 1}");
  CATCH_CHECK_THROWS_AS(report::find_runs(dir.file("runs")), FormatError);
  // Each field the report reads, missing or of the wrong type: FormatError naming the file.
  const nlohmann::json good = {{"test", {{"accuracy", 0.9}, {"threshold_accuracy", 0.4}}}, {"labels", {{"kind", "composite"}}},
                               {"config", {{"dataset", "fashion-mnist"}, {"level", 100}}}, {"best_epoch", 1}};
  const std::vector<std::pair<std::string, nlohmann::json>> broken = {
      {"labels", nullptr}, {"/test/threshold_accuracy", nullptr}, {"/config/level", "all"}, {"/config/mirror_evaluation", 1},
      {"/test/accuracy", 7.5}, {"/test/threshold_accuracy", -0.1}};
  for (const auto& [where, value] : broken) {
    CATCH_INFO(where);
    nlohmann::json j = good;
    if (where == "labels") j.erase("labels");
    else j[nlohmann::json::json_pointer(where)] = value;
    labelrep_test::write_bytes(dir.file("runs/a/result.json"), j.dump());
    try {
      report::find_runs(dir.file("runs"));
      CATCH_FAIL("accepted");
    } catch (const FormatError& e) {
      CATCH_CHECK(e.path() == dir.file("runs/a/result.json"));
    }
  }
}

CATCH_TEST_CASE("a report shows random labels drawn with two label seeds as two label sets", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/a"), "uniform", 0, 100, 0.90, false, {{"label_seed", 1}});
  fake_run(dir.file("runs/b"), "uniform", 0, 100, 0.80, false, {{"label_seed", 2}});
  CATCH_REQUIRE(report::write_report(dir.file("runs"), dir.file("out")) == 2);
  const std::string md = read_file(dir.file("out/report.md"));
  CATCH_INFO(md);
  CATCH_CHECK(md.find("| fashion-mnist | uniform | 16×16 |") != std::string::npos);
  CATCH_CHECK(md.find("| fashion-mnist | uniform 16×16 label seed 2 | 16×16 |") != std::string::npos);
  CATCH_CHECK(std::filesystem::exists(dir.file("out/labels_fashion_mnist_uniform/labels.png")));
  CATCH_CHECK(std::filesystem::exists(dir.file("out/labels_fashion_mnist_uniform_16_16_label_seed_2/labels.png")));
}

CATCH_TEST_CASE("a report keeps standardized regression and mirror evaluation apart from the paper's method on the same labels", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/raw"), "composite", 0, 100, 0.90, false);
  fake_run(dir.file("runs/standardized"), "composite", 1, 100, 0.80, false, {{"standardize_labels", true}});
  fake_run(dir.file("runs/mirror"), "composite", 2, 100, 0.70, false, {{"standardize_labels", true}, {"mirror_evaluation", true}});
  CATCH_CHECK(report::write_report(dir.file("runs"), dir.file("out")) == 3);
  const std::string md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | composite | 100 | 1 | 90.00 |") != std::string::npos);
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | composite (standardized) | 100 | 1 | 80.00 |") != std::string::npos);
  // Evaluation on image and mirror image is another protocol: its own row too.
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | composite (standardized) (mirror-evaluated) | 100 | 1 | 70.00 |") != std::string::npos);
  CATCH_CHECK(md.find("85.00") == std::string::npos);  // not averaged as two seeds of one method
  CATCH_CHECK(md.find("75.00") == std::string::npos);
}

CATCH_TEST_CASE("a report never averages runs of different recipes as seeds, and names what differs", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/short"), "composite", 0, 100, 0.60, false, {{"epochs", 2}});
  fake_run(dir.file("runs/long0"), "composite", 0, 100, 0.90, false, {{"epochs", 200}});
  fake_run(dir.file("runs/long1"), "composite", 1, 100, 0.80, false, {{"epochs", 200}, {"threads", 4}});  // threads: not the experiment
  fake_run(dir.file("runs/category"), "category", 0, 100, 0.88, true);
  CATCH_CHECK(report::write_report(dir.file("runs"), dir.file("out")) == 4);
  const std::string md = read_file(dir.file("out/report.md"));
  CATCH_INFO(md);
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | composite [epochs 200] | 100 | 2 | 85.00 ± 5.00 |") != std::string::npos);
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | composite [epochs 2] | 100 | 1 | 60.00 |") != std::string::npos);
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | category | 100 | 1 | 88.00 |") != std::string::npos);  // alone: no suffix
  CATCH_CHECK(md.find("76.67") == std::string::npos);  // not the three composite runs as three seeds
}

CATCH_TEST_CASE("a run trained on a label file gets the statistics convention of the kind its file name says", "[report]") {
  labelrep_test::TempDir dir;
  // Labels of very different ranges: normalised per label or over the whole set, the distances differ.
  torch::manual_seed(11);
  const torch::Tensor matrix = torch::rand({10, 8, 8}) * torch::arange(1, 11, torch::kFloat32).view({10, 1, 1});
  const std::string given = dir.file("my_speech.npy");
  write_npy(given, matrix);
  fake_run(dir.file("runs/a"), given, 0, 100, 0.9, false);
  labels::FileLabels(given).save(dir.file("runs/a/labels.npy"));  // what run_experiment keeps: kind "file"
  CATCH_CHECK(report::write_report(dir.file("runs"), dir.file("out")) == 1);
  const std::string md = read_file(dir.file("out/report.md"));
  CATCH_INFO(md);
  const auto expected = labels::label_statistics(matrix, labels::paper_statistics_options("speech"));
  const auto global = labels::label_statistics(matrix, labels::paper_statistics_options("file"));
  const auto l2 = [](const labels::LabelStatistics& s) { return fmt::format("{:.2f} ± {:.2f} |\n", s.l2.mean, s.l2.std); };
  CATCH_REQUIRE(l2(expected) != l2(global));
  CATCH_CHECK(md.find("| fashion-mnist | my_speech.npy (speech) | 8×8 |") != std::string::npos);
  CATCH_CHECK(md.find(l2(expected)) != std::string::npos);

  // A damaged labels.npy: the row says so in both reports rather than vanishing from the table.
  const std::string saved = read_file(dir.file("runs/a/labels.npy"));
  labelrep_test::write_bytes(dir.file("runs/a/labels.npy"), saved.substr(0, 100));
  CATCH_CHECK(report::write_report(dir.file("runs"), dir.file("out2")) == 1);
  CATCH_CHECK(read_file(dir.file("out2/report.md")).find("not available: ") != std::string::npos);
  CATCH_CHECK(read_file(dir.file("out2/index.html")).find("not available: ") != std::string::npos);
}

namespace {
// A sweep's JSON as `labelrep attack` writes it: fgsm at ε = 0 and 0.1 over 100 images.
// `checks` (if not null) is its "masking_checks" list.
void fake_attack(const std::string& file, double clean, double attacked, bool threshold, const nlohmann::json& checks = nullptr) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& [eps, acc] : {std::pair<double, double>{0.0, clean}, {0.1, attacked}}) {
    nlohmann::json p = {{"epsilon", eps}, {"accuracy", acc}, {"subset_accuracy", acc / clean}, {"correct", 100 * acc},
                        {"accuracy_ci95", {acc - 0.05, acc + 0.05}}};
    if (threshold) p["threshold_accuracy"] = acc / 2;
    points.push_back(p);
  }
  nlohmann::json sweep = {{"images", 100}, {"epsilon_unit", "normalized"}, {"steps", 5},
                          {"attacks", {{{"attack", "fgsm"}, {"method", "fgsm"}, {"targeted", false}, {"points", points}}}}};
  if (!checks.is_null()) sweep["masking_checks"] = checks;
  labelrep::write_file_atomically(file, sweep.dump());
}
}  // namespace

CATCH_TEST_CASE("a report plots accuracy under attack from the runs' sweeps and shows their figures", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/a"), "composite", 0, 100, 0.90, false);
  fake_run(dir.file("runs/b"), "composite", 1, 100, 0.80, false);
  fake_run(dir.file("runs/c"), "category", 0, 100, 0.88, true);
  // Sweeps a and b carry gradient-masking checks (one of b's failed), c was written before there were any.
  const auto check = [](const char* name, bool passed, const char* detail) {
    return nlohmann::json{{"check", name}, {"attack", "fgsm"}, {"passed", passed}, {"detail", detail}};
  };
  fake_attack(dir.file("runs/a/attack.json"), 0.90, 0.60, true, {check("noise-beats-attack", true, "never"), check("not-monotone", true, "never")});
  fake_attack(dir.file("runs/b/attack.json"), 0.80, 0.40, true,
              {check("noise-beats-attack", false, "at eps 0.1 random noise leaves 30 images correct, fgsm leaves 40"),
               check("not-monotone", true, "never"), check("zero-gradient", false, "a | in a detail")});
  fake_attack(dir.file("runs/c/attack.json"), 0.88, 0.10, false);
  std::filesystem::create_directories(dir.file("runs/a/figures/gradcam"));
  labelrep::write_file_atomically(dir.file("runs/a/figures/tsne.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><title>map-a</title></svg>\n");
  labelrep::write_file_atomically(dir.file("runs/a/figures/gradcam/0.png"), std::string("\x89PNG\r\n\x1a\n", 8) + "data");
  const auto runs = report::find_runs(dir.file("runs"));
  CATCH_REQUIRE(runs.size() == 3);
  CATCH_CHECK(runs[0].attack_files == std::vector<std::string>{dir.file("runs/a/attack.json")});
  CATCH_CHECK(runs[0].figure_files.size() == 2);
  report::write_report(dir.file("runs"), dir.file("out"));
  const std::string html = read_file(dir.file("out/index.html"));
  const std::string md = read_file(dir.file("out/report.md"));
  // Seeds 0 and 1 of the composite runs: 60% and 40% at ε = 0.1, threshold 30% and 20%.
  // The interval over the images is shown for one seed; over seeds the std is the spread.
  CATCH_CHECK(md.find("| fashion-mnist · small-cnn | fgsm | composite | 0.1 | 100 | 2 | 50.00 ± 10.00 | – | 25.00 ± 5.00 |") != std::string::npos);
  CATCH_CHECK(md.find("| fashion-mnist · small-cnn | fgsm | category | 0.1 | 100 | 1 | 10.00 | 5.0–15.0 | – |") != std::string::npos);
  CATCH_CHECK(html.find("<td>10.00</td><td>5.0–15.0</td>") != std::string::npos);
  const std::string plot = read_file(dir.file("out/attack_fashion_mnist_small_cnn_fgsm.svg"));
  CATCH_CHECK(plot.find("composite threshold") != std::string::npos);
  CATCH_CHECK(plot.find("composite nearest") != std::string::npos);
  CATCH_CHECK(plot.find("category nearest") != std::string::npos);
  CATCH_CHECK(plot.find("stroke-dasharray") != std::string::npos);  // nearest-label accuracy dotted
  CATCH_CHECK(html.find(plot.substr(0, 200)) != std::string::npos);   // inline in the HTML
  CATCH_CHECK(html.find("<title>map-a</title>") != std::string::npos);  // the run's t-SNE, inline
  CATCH_CHECK(html.find("data:image/png;base64,iVBORw0KGgpkYXRh") != std::string::npos);  // its Grad-CAM picture
  CATCH_CHECK(md.find("(runs/a/tsne.svg)") != std::string::npos);
  CATCH_CHECK(std::filesystem::exists(dir.file("out/runs/a/gradcam/0.png")));
  CATCH_CHECK(md.find("5 checks in 2 sweeps") != std::string::npos);
  CATCH_CHECK(md.find("**2 failed**") != std::string::npos);
  CATCH_CHECK(md.find("| zero-gradient | fgsm | a \\| in a detail |") != std::string::npos);  // the | escaped: one cell
  CATCH_CHECK(md.find("| " + dir.file("runs/b/attack.json") + " | noise-beats-attack | fgsm | at eps 0.1 random noise leaves 30 images correct, fgsm "
                      "leaves 40 |") != std::string::npos);
  CATCH_CHECK(html.find("<h3>Gradient-masking checks</h3>") != std::string::npos);
  // PGD and APGD with restarts are curves of their own, and so is their worst case.
  labelrep::write_file_atomically(dir.file("runs/a/attack_pgd.json"),
                                  R"({"images": 100, "restarts": 3, "steps": 20, "attacks": [{"attack": "pgd", "method": "pgd", )"
                                  R"("points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.2}]}, )"
                                  R"({"attack": "apgd-margin", "method": "apgd", "objective": "margin", "steps": 50, )"
                                  R"("points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.12}]}], )"
                                  R"("worst_case": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.11}]})");
  report::write_report(dir.file("runs"), dir.file("out"));
  const auto with_restarts = read_file(dir.file("out/report.md"));
  CATCH_CHECK(with_restarts.find("| fashion-mnist · small-cnn | pgd (3 restarts) | composite | 0.1 | 100 | 1 | 20.00 | – |") != std::string::npos);
  CATCH_CHECK(with_restarts.find("| fashion-mnist · small-cnn | apgd-margin (50 steps) (3 restarts) | composite | 0.1 | 100 | 1 | 12.00 | – |") !=
              std::string::npos);
  CATCH_CHECK(with_restarts.find("| worst case of pgd, apgd-margin (50 steps) (3 restarts) | composite | 0.1 | 100 | 1 | 11.00 | – |") != std::string::npos);
  CATCH_CHECK(read_file(dir.file("out/index.html")).find("50 steps, on the decision margin") != std::string::npos);  // the curve's own steps
  std::filesystem::remove(dir.file("runs/a/attack_pgd.json"));
  // The report of the runs with one more sweep of run a, `runs/a/attack_apgd_t.json`: its report.md.
  const auto report_with_apgd_t = [&](const std::string& sweep_json) {
    labelrep::write_file_atomically(dir.file("runs/a/attack_apgd_t.json"), sweep_json);
    report::write_report(dir.file("runs"), dir.file("out"));
    return read_file(dir.file("out/report.md"));
  };
  // APGD-T is a curve of its own, named by its target classes; the untargeted APGD beside it is not.
  const auto side_by_side = report_with_apgd_t(
      R"({"images": 100, "steps": 20, "attacks": [{"attack": "apgd-t-margin", "method": "apgd-t", "target_classes": 9, )"
      R"("objective": "margin", "targeted": false, "points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.06}]}, )"
      R"({"attack": "apgd-margin", "method": "apgd", "objective": "margin", "targeted": false, )"
      R"("points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.08}]}], )"
      R"("worst_case": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.05}]})");
  CATCH_CHECK(side_by_side.find("| fashion-mnist · small-cnn | apgd-t-margin (20 steps) (top-9 targets) | composite | 0.1 | 100 | 1 | 6.00 |") !=
              std::string::npos);
  CATCH_CHECK(side_by_side.find("| fashion-mnist · small-cnn | apgd-margin (20 steps) | composite | 0.1 | 100 | 1 | 8.00 |") != std::string::npos);
  CATCH_CHECK(side_by_side.find("| fashion-mnist · small-cnn | worst case of apgd-t-margin, apgd-margin (20 steps) (top-9 targets) | composite | 0.1 | 100 | 1 | 5.00 |") !=
              std::string::npos);
  // A sweep written before APGD-T had its own name gives target_classes for the whole sweep: its
  // untargeted APGD was APGD-T, a curve of its own; the targeted APGD of the same sweep is not.
  const auto with_targets = report_with_apgd_t(
      R"({"images": 100, "target_classes": 9, "steps": 20, "attacks": [{"attack": "apgd-margin", "method": "apgd", )"
      R"("objective": "margin", "targeted": false, "points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.07}]}, )"
      R"({"attack": "apgd-targeted", "method": "apgd", "targeted": true, )"
      R"("points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.5}]}]})");
  CATCH_CHECK(with_targets.find("| fashion-mnist · small-cnn | apgd-margin (20 steps) (top-9 targets) | composite | 0.1 | 100 | 1 | 7.00 |") !=
              std::string::npos);
  CATCH_CHECK(with_targets.find("| fashion-mnist · small-cnn | apgd-targeted (20 steps) | composite | 0.1 | 100 | 1 | 50.00 |") != std::string::npos);
  std::filesystem::remove(dir.file("runs/a/attack_apgd_t.json"));
  // So is Square with its query budget, and a curve on the decision margin says so.
  labelrep::write_file_atomically(dir.file("runs/a/attack_square.json"),
                                  R"({"images": 100, "queries": 500, "steps": 5, "attacks": [{"attack": "square", "method": "square", )"
                                  R"("points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.3}]}, )"
                                  R"({"attack": "bim-margin", "method": "iterative", "objective": "margin", )"
                                  R"("points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.25}]}], )"
                                  R"("worst_case": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.15}]})");
  report::write_report(dir.file("runs"), dir.file("out"));
  const auto with_square = read_file(dir.file("out/report.md"));
  CATCH_CHECK(with_square.find("| fashion-mnist · small-cnn | square (500 queries) | composite | 0.1 | 100 | 1 | 30.00 | – |") != std::string::npos);
  CATCH_CHECK(with_square.find("bim-margin: ") != std::string::npos);
  CATCH_CHECK(with_square.find("| fashion-mnist · small-cnn | worst case of square, bim-margin (500 queries) | composite | 0.1 | 100 | 1 | "
                              "15.00 | – |") != std::string::npos);
  // The worst case of many attacks: its figure's file name is capped (the attack list would pass the
  // 255-byte limit of file names).
  nlohmann::json many = {{"images", 100}, {"attacks", nlohmann::json::array()},
                         {"worst_case", {{{"epsilon", 0}, {"accuracy", 0.9}}, {{"epsilon", 0.1}, {"accuracy", 0.1}}}}};
  for (const char* name : {"fgsm", "fgsm-targeted", "bim", "bim-targeted", "pgd-margin", "pgd-margin-targeted", "bim-margin", "bim-margin-targeted",
                           "noise", "square-targeted"})
    many["attacks"].push_back({{"attack", name}, {"points", {{{"epsilon", 0}, {"accuracy", 0.9}}, {{"epsilon", 0.1}, {"accuracy", 0.3}}}}});
  labelrep::write_file_atomically(dir.file("runs/a/attack_many.json"), many.dump());
  report::write_report(dir.file("runs"), dir.file("out_many"));
  std::vector<std::string> worst_files;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("out_many")))
    if (entry.path().filename().string().find("worst_case") != std::string::npos) worst_files.push_back(entry.path().filename().string());
  CATCH_REQUIRE(worst_files.size() == 2);  // the two sweeps' worst cases stay two figures
  for (const auto& file : worst_files) CATCH_CHECK(file.size() <= 7 + 100 + 4);  // attack_ + at most 100 + .svg
  CATCH_CHECK(worst_files[0] != worst_files[1]);
  std::filesystem::remove(dir.file("runs/a/attack_many.json"));
  CATCH_CHECK(read_file(dir.file("out/index.html")).find("5 steps, on the decision margin") != std::string::npos);
  std::filesystem::remove(dir.file("runs/a/attack_square.json"));
  // A curve on the DLR loss says so too.
  labelrep::write_file_atomically(dir.file("runs/a/attack_dlr.json"),
                                  R"({"images": 100, "steps": 5, "attacks": [{"attack": "apgd-dlr", "method": "apgd", "objective": "dlr", )"
                                  R"("points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.1, "accuracy": 0.4}]}]})");
  report::write_report(dir.file("runs"), dir.file("out_dlr"));
  CATCH_CHECK(read_file(dir.file("out_dlr/index.html")).find("apgd-dlr (5 steps), ε in normalized units, 5 steps, on the DLR loss") != std::string::npos);
  std::filesystem::remove(dir.file("runs/a/attack_dlr.json"));
  // An L2 sweep is a curve of its own, named and described by its threat model.
  labelrep::write_file_atomically(dir.file("runs/a/attack_l2.json"),
                                  R"({"images": 100, "norm": "l2", "epsilon_unit": "pixel", "steps": 5, "attacks": [{"attack": "fgsm", "method": "fgsm", )"
                                  R"("points": [{"epsilon": 0, "accuracy": 0.9}, {"epsilon": 0.5, "accuracy": 0.2}]}]})");
  report::write_report(dir.file("runs"), dir.file("out"));
  CATCH_CHECK(read_file(dir.file("out/report.md")).find("| fashion-mnist · small-cnn | fgsm (L2, pixel ε) | composite | 0.5 | 100 | 1 | 20.00 | – |") !=
              std::string::npos);
  CATCH_CHECK(read_file(dir.file("out/index.html")).find("ε in pixel units, L2 ball") != std::string::npos);
  std::filesystem::remove(dir.file("runs/a/attack_l2.json"));

  labelrep::write_file_atomically(dir.file("runs/c/attack.json"), "{\"images\": 3}");
  CATCH_CHECK_THROWS_AS(report::write_report(dir.file("runs"), dir.file("out")), FormatError);
  // Fields of the wrong type and an attack without points name the file too (not an internal error).
  const std::string points = R"("points": [{"epsilon": 0, "accuracy": 0.9}])";
  for (const std::string& sweep : {R"({"attacks": [{"attack": "fgsm", "method": 3, )" + points + "}]}",
                                   R"({"steps": "five", "attacks": [{"attack": "bim", "method": "iterative", )" + points + "}]}",
                                   R"({"images": -3, "attacks": [{"attack": "fgsm", )" + points + "}]}",
                                   R"({"masking_checks": 3, "attacks": [{"attack": "fgsm", )" + points + "}]}",
                                   R"({"masking_checks": [{"check": "zero-gradient"}], "attacks": [{"attack": "fgsm", )" + points + "}]}",
                                   std::string(R"({"attacks": [{"attack": "fgsm", "points": []}]})")}) {
    CATCH_INFO(sweep);
    labelrep::write_file_atomically(dir.file("runs/c/attack.json"), sweep);
    if (sweep.find("\"method\": 3") != std::string::npos) {  // an unknown method is only a label: the report goes on
      CATCH_CHECK_NOTHROW(report::write_report(dir.file("runs"), dir.file("out")));
      continue;
    }
    try {
      report::write_report(dir.file("runs"), dir.file("out"));
      CATCH_FAIL("accepted");
    } catch (const FormatError& e) {
      CATCH_CHECK(e.path() == dir.file("runs/c/attack.json"));
    }
  }
}

CATCH_TEST_CASE("line plots: axes, series, error bands, escaping, validation", "[report]") {
  analysis::LinePlot plot("Accuracy <vs> ε", "epoch", "accuracy");
  plot.add_series("speech & co", {1, 2, 3}, {0.5, 0.7, 0.9}, {0.1, 0.05, 0.01});
  plot.add_series("category", {1, 2, 3}, {0.6, 0.7, 0.8});
  const auto svg = plot.svg();
  CATCH_CHECK(svg.rfind("<svg", 0) == 0);
  CATCH_CHECK(svg.find("Accuracy &lt;vs&gt; ε") != std::string::npos);
  CATCH_CHECK(svg.find("font-size=\"14\" font-weight=\"bold\">Accuracy") != std::string::npos);
  // A title too long for the picture is set smaller rather than cut off.
  analysis::LinePlot long_title(std::string(120, 'w'), "x", "y");
  long_title.add_series("a", {0, 1}, {0, 1});
  const auto long_svg = long_title.svg();
  const auto at = long_svg.find("font-weight=\"bold\">w");
  CATCH_REQUIRE(at != std::string::npos);
  const auto size_at = long_svg.rfind("font-size=\"", at) + 11;
  const double size = std::stod(long_svg.substr(size_at, long_svg.find('"', size_at) - size_at));
  CATCH_CHECK(size < 14);
  CATCH_CHECK(size >= 8);
  CATCH_CHECK(svg.find("speech &amp; co") != std::string::npos);
  CATCH_CHECK(svg.find("<polygon") != std::string::npos);  // the error band
  CATCH_CHECK(svg.find("<polyline") != svg.rfind("<polyline"));  // two lines
  CATCH_CHECK_THROWS_AS(plot.add_series("bad", {1, 2}, {1}), InvalidArgument);
  CATCH_CHECK_THROWS_AS(plot.add_series("nan", {1}, {std::nan("")}), InvalidArgument);
  CATCH_CHECK_THROWS_AS(analysis::LinePlot("empty", "x", "y").svg(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(plot.svg(100, 80), InvalidArgument);  // too small for its frame
  CATCH_CHECK_THROWS_AS(plot.set_y_range(0, INFINITY), InvalidArgument);
  CATCH_CHECK_THROWS_AS(plot.set_y_range(1, 1), InvalidArgument);
}

// Not in the default run: needs Debian's chromium (apt-get install chromium). Run it with
// build/tests/labelrep_tests "[browser]". The page must render from the single file, with no network.
CATCH_TEST_CASE("the HTML report renders offline in headless Chromium", "[report][browser][slow]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/a"), "composite", 0, 100, 0.90, false);
  fake_run(dir.file("runs/c"), "category", 0, 10, 0.70, true);
  report::write_report(dir.file("runs"), dir.file("out"));
  // Only index.html travels: the figure files beside it must not be needed.
  std::filesystem::create_directories(dir.file("alone"));
  std::filesystem::copy_file(dir.file("out/index.html"), dir.file("alone/index.html"));
  const std::string browser = "chromium --headless --no-sandbox --disable-gpu --no-first-run --proxy-server=127.0.0.1:9 "
                              "--window-size=1200,2400 --virtual-time-budget=3000 ";
  const auto dom = labelrep_test::run_command(browser + "--dump-dom file://" + dir.file("alone/index.html") + " 2>/dev/null");
  CATCH_REQUIRE(dom.exit_code == 0);
  CATCH_CHECK(dom.output.find("<table") != std::string::npos);
  CATCH_CHECK(dom.output.find("<svg") != std::string::npos);
  CATCH_CHECK(dom.output.find("85.00") == std::string::npos);  // one composite seed here: 90.00
  CATCH_CHECK(dom.output.find("90.00") != std::string::npos);
  const auto shot = labelrep_test::run_command(browser + "--screenshot=" + dir.file("shot.png") + " file://" + dir.file("alone/index.html") +
                                               " 2>/dev/null");
  CATCH_REQUIRE(shot.exit_code == 0);
  CATCH_REQUIRE(std::filesystem::exists(dir.file("shot.png")));
  CATCH_CHECK(std::filesystem::file_size(dir.file("shot.png")) > 20000);  // a page with tables, plots and pictures, not a blank one
}

CATCH_TEST_CASE("a report takes runs without a validation set as a recipe of their own, without a curve", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/all/a"), "composite", 0, 100, 0.91, false, {{"validation", 0}});
  fake_run(dir.file("runs/all/b"), "composite", 1, 100, 0.89, false, {{"validation", 0}});
  const auto runs = report::find_runs(dir.file("runs/all"));
  CATCH_REQUIRE(runs.size() == 2);
  CATCH_CHECK(runs[0].validation_curve.empty());
  CATCH_CHECK(report::write_report(dir.file("runs/all"), dir.file("out-all")) == 2);
  const std::string md_all = read_file(dir.file("out-all/report.md"));
  CATCH_INFO(md_all);
  CATCH_CHECK(md_all.find("| fashion-mnist | small-cnn | composite | 100 | 2 | 90.00 ± 1.00 |") != std::string::npos);
  CATCH_CHECK(md_all.find("Validation accuracy during training") == std::string::npos);  // no run has a curve to plot

  fake_run(dir.file("runs/held-out"), "composite", 0, 100, 0.80, false);
  CATCH_CHECK(report::write_report(dir.file("runs"), dir.file("out")) == 3);
  const std::string md = read_file(dir.file("out/report.md"));
  CATCH_INFO(md);
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | composite [validation 0] | 100 | 2 | 90.00 ± 1.00 |") != std::string::npos);
  CATCH_CHECK(md.find("| fashion-mnist | small-cnn | composite [validation (unset)] | 100 | 1 | 80.00 |") != std::string::npos);
  CATCH_CHECK(md.find("Validation accuracy during training") != std::string::npos);
}

CATCH_TEST_CASE("a report tabulates the runs' ROAD checks of their Grad-CAM maps and names a malformed one", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/speech"), "speech", 0, 100, 0.90, false);
  fake_run(dir.file("runs/category"), "category", 0, 100, 0.88, true);
  const auto check = [](const std::string& layer, double morf, double baseline_morf, double lerf, double baseline_lerf) {
    nlohmann::json doc = {{"run", "x"}, {"method", "hirescam"}, {"score", "margin"}, {"layer", layer}, {"class", "true"}, {"images", 500},
                          {"imputation", "road"}, {"noise", 0.01}, {"seed", 0}, {"fractions", {0.0, 0.5}}};
    doc["curves"]["most_relevant_first"]["area"] = morf;
    doc["curves"]["least_relevant_first"]["area"] = lerf;
    doc["curves"]["baseline_most_relevant_first"]["area"] = baseline_morf;
    doc["curves"]["baseline_least_relevant_first"]["area"] = baseline_lerf;
    doc["road_combined"] = (lerf - morf) / 2;
    doc["baseline_road_combined"] = (baseline_lerf - baseline_morf) / 2;
    doc["combined_beyond_baseline"] = (lerf - morf) / 2 - (baseline_lerf - baseline_morf) / 2;
    doc["beats_baseline"] = morf < baseline_morf && lerf > baseline_lerf;
    return doc.dump();
  };
  std::filesystem::create_directories(dir.file("runs/speech/figures"));
  std::filesystem::create_directories(dir.file("runs/category/figures"));
  // With the gap's interval (as labelrep writes them now): one significant, one whose interval reaches 0.
  const auto with_interval = [&](const std::string& layer, double morf, double baseline_morf, double lerf, double baseline_lerf, double low,
                                 double high) {
    auto doc = nlohmann::json::parse(check(layer, morf, baseline_morf, lerf, baseline_lerf));
    doc["combined_beyond_baseline_ci95"] = {low, high};
    doc["significantly_beats_baseline"] = doc["beats_baseline"].get<bool>() && low > 0;
    return doc;
  };
  write_file_atomically(dir.file("runs/speech/figures/gradcam_faithfulness.json"), check("", 0.420, 0.490, 0.600, 0.520));
  write_file_atomically(dir.file("runs/speech/figures/gradcam_faithfulness_at-body_5.json"),
                        with_interval("body.5", 0.420, 0.490, 0.600, 0.520, 0.051, 0.098).dump());
  write_file_atomically(dir.file("runs/speech/figures/gradcam_faithfulness_at-body_2.json"),
                        with_interval("body.2", 0.480, 0.490, 0.530, 0.520, -0.004, 0.024).dump());
  write_file_atomically(dir.file("runs/category/figures/gradcam_faithfulness_at-body_5.json"), check("body.5", 0.690, 0.680, 0.700, 0.700));
  const auto runs = report::find_runs(dir.file("runs"));
  CATCH_REQUIRE(runs.size() == 2);
  CATCH_CHECK(runs[1].faithfulness_files.size() == 3);  // runs/speech, after runs/category
  report::write_report(dir.file("runs"), dir.file("out"));
  const std::string md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(md.find("## Are the Grad-CAM maps faithful? (ROAD)") != std::string::npos);
  CATCH_CHECK(md.find("| speech | hirescam of the margin, last stage | road | 500 | 0.420 | 0.490 | 0.600 | 0.520 | 0.090 | 0.075 | yes |") !=
              std::string::npos);
  CATCH_CHECK(md.find("| category | hirescam of the margin, body.5 | road | 500 | 0.690 | 0.680 | 0.700 | 0.700 | 0.005 | -0.005 | **no** |") !=
              std::string::npos);
  CATCH_CHECK(md.find("| speech | hirescam of the margin, body.5 | road | 500 | 0.420 | 0.490 | 0.600 | 0.520 | 0.090 | 0.075 [0.051, 0.098] | yes |") !=
              std::string::npos);
  CATCH_CHECK(md.find("| speech | hirescam of the margin, body.2 | road | 500 | 0.480 | 0.490 | 0.530 | 0.520 | 0.025 | 0.010 [-0.004, 0.024] | "
                      "**not significant** |") != std::string::npos);
  const auto html = read_file(dir.file("out/index.html"));
  CATCH_CHECK(html.find("<td><strong>no</strong></td>") != std::string::npos);
  CATCH_CHECK(html.find("<td>0.010 [-0.004, 0.024]</td><td><strong>not significant</strong></td>") != std::string::npos);

  auto no_verdict = with_interval("body.5", 0.4, 0.5, 0.6, 0.5, 0.01, 0.1);
  no_verdict.erase("significantly_beats_baseline");
  write_file_atomically(dir.file("runs/speech/figures/gradcam_faithfulness_at-body_5.json"), no_verdict.dump());
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); }, "significantly_beats_baseline");
  auto bad_interval = with_interval("body.5", 0.4, 0.5, 0.6, 0.5, 0.01, 0.1);
  bad_interval["combined_beyond_baseline_ci95"] = {0.01};
  write_file_atomically(dir.file("runs/speech/figures/gradcam_faithfulness_at-body_5.json"), bad_interval.dump());
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); }, "combined_beyond_baseline_ci95");
  std::filesystem::remove(dir.file("runs/speech/figures/gradcam_faithfulness_at-body_5.json"));

  auto broken = nlohmann::json::parse(check("", 0.4, 0.5, 0.6, 0.5));
  broken.erase("road_combined");
  write_file_atomically(dir.file("runs/speech/figures/gradcam_faithfulness.json"), broken.dump());
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); }, "road_combined");
  write_file_atomically(dir.file("runs/speech/figures/gradcam_faithfulness.json"), "{ not json");
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); },
                                                "gradcam_faithfulness.json");
}

CATCH_TEST_CASE("a report compares each run's robustness with the categorical run's image by image", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/composite0"), "composite", 0, 100, 0.90, false);
  fake_run(dir.file("runs/composite1"), "composite", 1, 100, 0.85, false);  // no categorical run of seed 1: no pair
  fake_run(dir.file("runs/category0"), "category", 0, 100, 0.88, true);
  // A sweep of fgsm and bim at ε 0 and 0.1 on 40 images, whose per-image file is named as `labelrep
  // attack --per-image` records it (here a bare name, found beside the sweep).
  // `norm` empty: none written, as by labelrep before it had L2 attacks (L∞).
  const auto sweep = [&](const std::string& run, const std::string& name, const torch::Tensor& correct, std::vector<double> epsilons,
                         std::uint64_t seed = 0, const std::string& norm = "", std::int64_t target_classes = 0) {
    nlohmann::json points = nlohmann::json::array();
    for (double eps : epsilons) points.push_back({{"epsilon", eps}, {"accuracy", 0.5}});
    nlohmann::json doc = {{"images", 40}, {"seed", seed}, {"steps", 5},
                          {"attacks",
                           {{{"attack", "fgsm"}, {"method", "fgsm"}, {"points", points}},
                            {{"attack", "bim"}, {"method", "iterative"}, {"points", points}}}},
                          {"per_image", {{"correct", name + ".npy"}}}};
    if (!norm.empty()) doc["norm"] = norm;
    if (target_classes > 0)  // the first attack APGD-T
      doc["attacks"][0] = {{"attack", "apgd-t-margin"}, {"method", "apgd-t"}, {"objective", "margin"}, {"targeted", false},
                           {"target_classes", target_classes}, {"points", points}};
    write_file_atomically(dir.file("runs/" + run + "/" + name + ".json"), doc.dump());
    if (correct.defined()) write_npy(dir.file("runs/" + run + "/" + name + ".npy"), correct);
  };
  const auto outcomes = [](std::int64_t clean, std::int64_t fgsm, std::int64_t bim) {  // the first k images correct
    auto c = torch::zeros({2, 2, 40}, torch::kBool);
    c[0][0].slice(0, 0, clean).fill_(true);
    c[1][0].slice(0, 0, clean).fill_(true);
    c[0][1].slice(0, 0, fgsm).fill_(true);
    c[1][1].slice(0, 0, bim).fill_(true);
    return c;
  };
  // Composite: all 40 clean, 30 survive FGSM and 25 BIM (the worst case: 25); categorical: 30 clean,
  // 10 survive FGSM, 15 BIM (worst case 10).
  sweep("composite0", "attack", outcomes(40, 30, 25), {0.0, 0.1});
  sweep("category0", "attack", outcomes(30, 10, 15), {0.0, 0.1});
  sweep("composite1", "attack", outcomes(40, 30, 25), {0.0, 0.1});
  // Other ε on the same images: nothing to pair it with; the same attacks with other seeds (other
  // targets and random starts) are other attacks.
  sweep("composite0", "attack_other", outcomes(40, 30, 25), {0.0, 0.2});
  sweep("composite0", "attack_seed", outcomes(40, 30, 25), {0.0, 0.4}, 1);
  sweep("category0", "attack_seed", outcomes(40, 30, 25), {0.0, 0.4}, 2);
  // Two close runs: 40 against 38 clean, the same 25 left at ε = 0.3.
  sweep("composite0", "attack_close", outcomes(40, 30, 25), {0.0, 0.3});
  sweep("category0", "attack_close", outcomes(38, 25, 28), {0.0, 0.3});
  // The L2 threat model: L2 sweeps pair with L2 sweeps (named so), never with L∞ ones; a sweep that
  // says "linf" pairs with one written before sweeps said.
  sweep("composite0", "attack_l2", outcomes(40, 30, 25), {0.0, 0.7}, 0, "l2");
  sweep("category0", "attack_l2", outcomes(30, 10, 15), {0.0, 0.7}, 0, "l2");
  sweep("composite0", "attack_l2_only", outcomes(40, 30, 25), {0.0, 0.8}, 0, "l2");
  sweep("category0", "attack_linf_only", outcomes(30, 10, 15), {0.0, 0.8});
  sweep("composite0", "attack_linf", outcomes(40, 30, 25), {0.0, 0.9}, 0, "linf");
  sweep("category0", "attack_old", outcomes(30, 10, 15), {0.0, 0.9});
  // APGD-T pairs with APGD-T over as many target classes, and says so.
  sweep("composite0", "attack_apgd_t", outcomes(40, 30, 25), {0.0, 0.6}, 0, "", 3);
  sweep("category0", "attack_apgd_t", outcomes(30, 10, 15), {0.0, 0.6}, 0, "", 3);
  sweep("composite0", "attack_apgd_t9", outcomes(40, 30, 25), {0.0, 0.65}, 0, "", 9);
  sweep("category0", "attack_apgd_t9", outcomes(30, 10, 15), {0.0, 0.65}, 0, "", 5);
  report::write_report(dir.file("runs"), dir.file("out"));
  std::string md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(md.find("## Robust on the same images? (paired, against categorical labels)") != std::string::npos);
  CATCH_CHECK(md.find("| 0 | 40 | 100.00 | 95.00 | +5.00 [") != std::string::npos);
  CATCH_CHECK(md.find("| 2 / 0 | 0.5 | no significant difference |") != std::string::npos);
  CATCH_CHECK(md.find("| 0.3 | 40 | 62.50 | 62.50 | +0.00 [+0.00, +0.00] | 0 / 0 | 1 | no significant difference |") != std::string::npos);
  // ε = 0.1: 62.5% against 25%, 15 images only the composite run keeps, none the other way:
  // McNemar's p = 2 · 2^-15 = 6.1e-05.
  const auto row = md.find("| fashion-mnist · small-cnn | composite vs category | 0 | fgsm, bim | 0.1 | 40 | 62.50 | 25.00 | +37.50 [");
  CATCH_REQUIRE(row != std::string::npos);
  CATCH_CHECK(md.substr(row, md.find('\n', row) - row).find("] | 15 / 0 | 6.1e-05 | more robust |") != std::string::npos);
  // ε = 0 compares clean accuracy: 40 against 30, 10 disagreements all one way, p = 2 · 2^-10.
  CATCH_CHECK(md.find("| composite vs category | 0 | fgsm, bim | 0 | 40 | 100.00 | 75.00 | +25.00 [") != std::string::npos);
  CATCH_CHECK(md.find("| 10 / 0 | 0.002 | more accurate |") != std::string::npos);
  // One plot per pair of sweeps, named by both sweeps' files.
  CATCH_CHECK(read_file(dir.file("out/paired_fashion_mnist_small_cnn_composite_vs_category_0_fgsm_bim_attack_attack.svg")).find("95% interval, low") !=
              std::string::npos);
  CATCH_CHECK(std::filesystem::exists(dir.file("out/paired_fashion_mnist_small_cnn_composite_vs_category_0_fgsm_bim_attack_close_attack_close.svg")));
  CATCH_CHECK(md.find("| fgsm, bim | 0.4 |") == std::string::npos);
  CATCH_CHECK(md.find("| fgsm, bim (L2, normalized ε) | 0.7 | 40 | 62.50 | 25.00 | +37.50 [") != std::string::npos);
  CATCH_CHECK(md.find("| fgsm, bim (L2, normalized ε) | 0.8 |") == std::string::npos);
  CATCH_CHECK(md.find("| fgsm, bim | 0.8 |") == std::string::npos);
  CATCH_CHECK(md.find("| fgsm, bim | 0.9 | 40 | 62.50 | 25.00 |") != std::string::npos);
  CATCH_CHECK(md.find("| apgd-t-margin, bim (top-3 targets) | 0.6 | 40 | 62.50 | 25.00 | +37.50 [") != std::string::npos);
  CATCH_CHECK(md.find("| composite vs category | 0 | apgd-t-margin, bim (top-9 targets) |") == std::string::npos);  // 9 against 5: other attacks
  // Five pairs of sweeps, two ε each: ten rows; seed 1, the other ε list, L2 against L∞ and APGD-T over
  // other numbers of classes pair with nothing.
  std::size_t rows = 0;
  for (auto at = md.find("| composite vs category |"); at != std::string::npos; at = md.find("| composite vs category |", at + 1)) ++rows;
  CATCH_CHECK(rows == 10);
  CATCH_CHECK(md.find("| composite vs category | 1 |") == std::string::npos);
  const std::string html = read_file(dir.file("out/index.html"));
  CATCH_CHECK(html.find("<td>+37.50 [") != std::string::npos);
  CATCH_CHECK(html.find("composite vs category: fgsm, bim</figcaption>") != std::string::npos);

  // A per-image file that is gone: the sweep is left out, and the report says so.
  std::filesystem::remove(dir.file("runs/composite0/attack.npy"));
  report::write_report(dir.file("runs"), dir.file("out"));
  md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(md.find("| fgsm, bim | 0.1 |") == std::string::npos);
  CATCH_CHECK(md.find("Left out: " + dir.file("runs/composite0/attack.json") + " (its per-image file attack.npy is gone)") != std::string::npos);
  // One of the wrong shape is the sweep's fault, named.
  write_npy(dir.file("runs/composite0/attack.npy"), torch::zeros({2, 3, 40}, torch::kBool));
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); }, "expected bool [2, 2, 40]");
  write_npy(dir.file("runs/composite0/attack.npy"), torch::zeros({2, 2, 40}, torch::kFloat32));
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); }, "attack.npy");
  // A sweep with per-image outcomes but no attacks, or with attacks at different ε, names the sweep.
  write_npy(dir.file("runs/composite0/attack.npy"), outcomes(40, 30, 25));
  write_file_atomically(dir.file("runs/composite0/attack_other.json"), R"({"images": 40, "attacks": [], "per_image": {"correct": "attack.npy"}})");
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); }, "but no attacks");
  write_file_atomically(dir.file("runs/composite0/attack_other.json"),
                        R"({"images": 40, "attacks": [{"attack": "fgsm", "points": [{"epsilon": 0, "accuracy": 1}, {"epsilon": 0.1, "accuracy": 1}]}, )"
                        R"({"attack": "bim", "points": [{"epsilon": 0, "accuracy": 1}, {"epsilon": 0.2, "accuracy": 1}]}], "per_image": {"correct": "attack.npy"}})");
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); }, "attack 'bim' has other ε");
}

CATCH_TEST_CASE("a report compares each run's test accuracy with the categorical run's image by image", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/composite0"), "composite", 0, 100, 0.90, false);
  fake_run(dir.file("runs/category0"), "category", 0, 100, 0.75, true);
  fake_run(dir.file("runs/uniform0"), "uniform", 0, 100, 0.70, false);  // trained before the predictions were kept
  fake_run(dir.file("runs/composite2"), "composite", 2, 100, 0.90, false);
  fake_run(dir.file("runs/category2"), "category", 2, 100, 0.90, true);
  // Mirror-evaluated runs pair with mirror-evaluated categorical runs only.
  fake_run(dir.file("runs/composite3m"), "composite", 3, 100, 0.90, false, {{"mirror_evaluation", true}});
  fake_run(dir.file("runs/category3m"), "category", 3, 100, 0.90, true, {{"mirror_evaluation", true}});
  fake_run(dir.file("runs/category3"), "category", 3, 100, 0.90, true);
  // 200 test images of 4 classes; the composite run gets 180 right, the categorical one 150, and they
  // disagree on 40 (only composite) + 10 (only category) images.
  const auto truth = torch::arange(200, torch::kLong) % 4;
  const auto predictions = [&](const std::function<bool(std::int64_t)>& right) {
    auto p = torch::stack({truth, truth.clone()}, 1);
    for (std::int64_t i = 0; i < 200; ++i)
      if (!right(i)) p[i][1] = (truth[i].item<std::int64_t>() + 1) % 4;
    return p;
  };
  // By i % 20: 0..13 both right, 14..17 only composite, 18 only category, 19 neither.
  write_npy(dir.file("runs/composite0/test_predictions.npy"), predictions([](std::int64_t i) { return i % 20 < 18; }));
  write_npy(dir.file("runs/category0/test_predictions.npy"), predictions([](std::int64_t i) { return i % 20 < 14 || i % 20 == 18; }));
  // Seed 2: another order of the test images: not comparable.
  write_npy(dir.file("runs/composite2/test_predictions.npy"), predictions([](std::int64_t) { return true; }));
  write_npy(dir.file("runs/category2/test_predictions.npy"), torch::stack({truth.flip(0), truth.flip(0)}, 1));
  for (const char* run : {"composite3m", "category3m", "category3"})
    write_npy(dir.file(std::string("runs/") + run + "/test_predictions.npy"), predictions([](std::int64_t) { return true; }));
  report::write_report(dir.file("runs"), dir.file("out"));
  const std::string md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(md.find("## As accurate on the same images? (paired, against categorical labels)") != std::string::npos);
  // 90% against 75%: 40 / 10 disagreements, McNemar's p = 2 · P(X ≤ 10), X ~ B(50, 1/2) = 2.4e-05.
  const auto row = md.find("| fashion-mnist · small-cnn | composite vs category | 0 | 200 | 90.00 | 75.00 | +15.00 [");
  CATCH_REQUIRE(row != std::string::npos);
  CATCH_CHECK(md.substr(row, md.find('\n', row) - row).find("] | 40 / 10 | 2.4e-05 | more accurate |") != std::string::npos);
  CATCH_CHECK(md.find("| uniform vs category |") == std::string::npos);
  CATCH_CHECK(md.find("| composite (mirror-evaluated) vs category (mirror-evaluated) | 3 | 200 | 100.00 | 100.00 | +0.00 [+0.00, +0.00] | 0 / 0 | 1 | "
                      "no significant difference |") != std::string::npos);
  CATCH_CHECK(md.find("| composite (mirror-evaluated) vs category |") == std::string::npos);
  CATCH_CHECK(md.find("| composite vs category | 3 |") == std::string::npos);
  CATCH_CHECK(md.find("Left out: 1 run(s) without test_predictions.npy (trained by an earlier labelrep; `labelrep evaluate --run RUN --views "
                      "image --predictions RUN/test_predictions.npy` writes it): " + dir.file("runs/uniform0")) != std::string::npos);
  CATCH_CHECK(md.find("Left out: " + dir.file("runs/composite2") + " and " + dir.file("runs/category2") + " (their test sets differ)") !=
              std::string::npos);
  CATCH_CHECK(read_file(dir.file("out/index.html")).find("<td>40 / 10</td><td>2.4e-05</td><td>more accurate</td>") != std::string::npos);
  // A file of another type is the run's fault, named.
  write_npy(dir.file("runs/category0/test_predictions.npy"), torch::zeros({200, 2}, torch::kFloat32));
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); },
                                                "category0/test_predictions.npy");
}

CATCH_TEST_CASE("a report shows the runs' robust radii and compares them image by image", "[report]") {
  labelrep_test::TempDir dir;
  fake_run(dir.file("runs/composite0"), "composite", 0, 100, 0.90, false);
  fake_run(dir.file("runs/category0"), "category", 0, 100, 0.88, true);
  const double inf = std::numeric_limits<double>::infinity();
  // A radius file as `labelrep radius` writes it, with its radii beside it.
  const auto radius_file = [&](const std::string& run, const std::string& name, const std::vector<double>& radii, double max_epsilon,
                               double median, std::int64_t target_classes = -1) {
    nlohmann::json j = {{"attack", target_classes > 0 ? "apgd-t-margin" : "apgd-margin"}, {"norm", "linf"}, {"epsilon_unit", "normalized"},
                        {"steps", 5}, {"step_fraction", 0},
                        {"queries", 1000}, {"seed", 0}, {"max_epsilon", max_epsilon}, {"bisections", 8}, {"images", radii.size()},
                        {"attacked", 9}, {"unbroken", 1}, {"median_radius", median}, {"quartiles", {0.1, nullptr}},
                        {"per_image", name + ".npy"}};
    if (target_classes >= 0) j["target_classes"] = target_classes;  // -1: a file written before the field (or of another attack)
    write_file_atomically(dir.file("runs/" + run + "/" + name + ".json"), j.dump());
    write_npy(dir.file("runs/" + run + "/" + name + ".npy"), torch::tensor(radii, torch::kFloat64));
  };
  // The composite run's radius is larger on 8 images, smaller on none; two ties (both 0, both 0.05).
  radius_file("composite0", "radius", {0, 0.1, 0.2, 0.2, 0.3, inf, 0.05, 0.1, 0.15, 0.25}, 0.3, 0.175);
  radius_file("category0", "radius", {0, 0.05, 0.1, 0.1, 0.1, 0.2, 0.05, 0.05, 0.05, 0.05}, 0.3, 0.05);
  radius_file("category0", "radius_wide", {0, 0.05, 0.1, 0.1, 0.1, 0.2, 0.05, 0.05, 0.05, 0.05}, 0.5, 0.05);  // other settings: no pair
  report::write_report(dir.file("runs"), dir.file("out"));
  std::string md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(md.find("## How far from being broken? (robust radius)") != std::string::npos);
  CATCH_CHECK(md.find("| fashion-mnist · small-cnn | composite | 0 | apgd-margin | 10 | 9 | 0.175 [0.1, not broken] | 1 |") != std::string::npos);
  // A sign test: p = 2 · 2^-8.
  CATCH_CHECK(md.find("| fashion-mnist · small-cnn | composite vs category | 0 | apgd-margin | 10 | 0.175 | 0.05 | 8 / 0 | 0.0078 | larger radii |") !=
              std::string::npos);
  std::size_t pairs = 0;
  for (auto at = md.find("| composite vs category |"); at != std::string::npos; at = md.find("| composite vs category |", at + 1)) ++pairs;
  CATCH_CHECK(pairs == 1);
  // One plot per settings: the accuracy the radii give at each ε.
  CATCH_CHECK(std::filesystem::exists(dir.file("out/radius_1_fashion_mnist_small_cnn_apgd_margin.svg")));
  CATCH_CHECK(std::filesystem::exists(dir.file("out/radius_2_fashion_mnist_small_cnn_apgd_margin.svg")));
  CATCH_CHECK(read_file(dir.file("out/index.html")).find("accuracy from the radii under apgd-margin") != std::string::npos);

  // APGD-T's radii: their own row, named so; 0 target classes is the same search as a file without the field.
  radius_file("composite0", "radius_apgd_t", {0, 0.1, 0.2, 0.2, 0.3, inf, 0.05, 0.1, 0.15, 0.25}, 0.3, 0.175, 9);
  radius_file("category0", "radius_apgd_t", {0, 0.05, 0.1, 0.1, 0.1, 0.2, 0.05, 0.05, 0.05, 0.05}, 0.3, 0.05, 5);  // 5 against 9: no pair
  radius_file("category0", "radius_zero", {0, 0.05, 0.1, 0.1, 0.1, 0.2, 0.05, 0.05, 0.05, 0.05}, 0.7, 0.05, 0);
  radius_file("composite0", "radius_zero", {0, 0.1, 0.2, 0.2, 0.3, inf, 0.05, 0.1, 0.15, 0.25}, 0.7, 0.175);
  report::write_report(dir.file("runs"), dir.file("out"));
  md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(md.find("| fashion-mnist · small-cnn | composite | 0 | apgd-t-margin (top-9 targets) | 10 | 9 |") != std::string::npos);
  pairs = 0;
  for (auto at = md.find("| composite vs category |"); at != std::string::npos; at = md.find("| composite vs category |", at + 1)) ++pairs;
  CATCH_CHECK(pairs == 2);  // the first files, and the two with 0 target classes (one without the field)
  for (const char* run : {"composite0", "category0"})
    for (const char* name : {"radius_apgd_t", "radius_zero"})
      for (const char* extension : {".json", ".npy"}) std::filesystem::remove(dir.file(std::string("runs/") + run + "/" + name + extension));

  // The per-image file gone: the table keeps the file's summary, the comparison leaves it out and says so.
  std::filesystem::remove(dir.file("runs/composite0/radius.npy"));
  report::write_report(dir.file("runs"), dir.file("out"));
  md = read_file(dir.file("out/report.md"));
  CATCH_CHECK(md.find("| composite vs category |") == std::string::npos);
  CATCH_CHECK(md.find("Left out: " + dir.file("runs/composite0/radius.json") + " (its per-image file radius.npy is gone)") != std::string::npos);
  // Radii beyond the largest ε, or a file without its attack, are the file's fault, named.
  write_npy(dir.file("runs/composite0/radius.npy"), torch::tensor(std::vector<double>(10, 0.4), torch::kFloat64));
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); }, "radius.npy");
  write_file_atomically(dir.file("runs/composite0/radius.json"), R"({"images": 10})");
  labelrep_test::check_throws_with<FormatError>([&] { report::write_report(dir.file("runs"), dir.file("out")); }, "no text 'attack'");
}
