// The labelrep program, run as a user would: output, files, exit codes and error messages.
#include "catch.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "labelrep/audio/waveform.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/data/loaders.hpp"
#include "support.hpp"

using labelrep_test::cli;
using labelrep_test::run_command;

namespace {
std::string authors(const std::string& name) {
  const std::string dir = labelrep_test::shared_dir();
  CATCH_REQUIRE_FALSE(dir.empty());
  return dir + "/reference/authors-labels/" + name;
}
}  // namespace

CATCH_TEST_CASE("labelrep stats --json --preset paper prints Table 2 rows as JSON lines", "[cli]") {
  const auto r = run_command(cli() + " stats --json --preset paper " + authors("cifar10_speech.npy") + " " +
                             authors("cifar10_uniform.npy"));
  CATCH_REQUIRE(r.exit_code == 0);
  std::istringstream lines(r.output);
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(lines, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  CATCH_REQUIRE(rows.size() == 2);
  CATCH_CHECK(rows[0]["file"] == authors("cifar10_speech.npy"));
  CATCH_CHECK(rows[0]["classes"] == 10);
  CATCH_CHECK(rows[0]["shape"] == nlohmann::json::array({64, 64}));
  CATCH_CHECK(rows[0]["entropy"]["mean"].get<double>() == labelrep_test::Approx(11.3487).margin(1e-4));
  CATCH_CHECK(rows[0]["l1"]["mean"].get<double>() == labelrep_test::Approx(23.7974).margin(1e-4));
  CATCH_CHECK(rows[0]["l2"]["std"].get<double>() == labelrep_test::Approx(2.7009).margin(1e-4));
  CATCH_CHECK(rows[1]["l2"]["mean"].get<double>() == labelrep_test::Approx(26.0741).margin(1e-4));
  CATCH_CHECK(rows[1]["convention"]["normalize"] == "global");

  // Explicit options win over the preset.
  const auto forced = run_command(cli() + " stats --json --preset paper --l2 spectral --normalize global " +
                                  authors("cifar10_speech.npy"));
  CATCH_REQUIRE(forced.exit_code == 0);
  CATCH_CHECK(nlohmann::json::parse(forced.output)["l2"]["mean"].get<double>() == labelrep_test::Approx(9.76).margin(5e-3));
}

CATCH_TEST_CASE("labelrep labels writes the .npy, its metadata and pictures", "[cli]") {
  labelrep_test::TempDir dir;
  const auto r = run_command(cli() + " labels uniform --classes cifar10 --seed 48 --out " + dir.file("random.npy") + " --png " +
                             dir.file("png"));
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(torch::equal(labelrep::read_npy(dir.file("random.npy")), labelrep::read_npy(authors("cifar10_random.npy"))));
  CATCH_CHECK(std::filesystem::exists(dir.file("random.npy.json")));
  CATCH_CHECK(std::filesystem::exists(dir.file("png/labels.png")));
  CATCH_CHECK(std::filesystem::exists(dir.file("png/009_truck.png")));

  const auto lowdim = run_command(cli() + " labels lowdim --classes 5 --dimension 3 --out " + dir.file("l.npy"));
  CATCH_REQUIRE(lowdim.exit_code == 0);
  CATCH_CHECK(labelrep::read_npy(dir.file("l.npy")).sizes() == torch::IntArrayRef({5, 3}));
  const auto named = run_command(cli() + " labels category --classes \"cat, dog,bird\" --out " + dir.file("c.npy"));
  CATCH_REQUIRE(named.exit_code == 0);
  CATCH_CHECK(torch::equal(labelrep::read_npy(dir.file("c.npy")), torch::eye(3)));
}

CATCH_TEST_CASE("labelrep reports bad input in one line with a non-zero exit code", "[cli]") {
  labelrep_test::TempDir dir;
  labelrep_test::write_bytes(dir.file("bad.npy"), "\x93NUMPY\x01\x00");
  const auto bad = run_command(cli() + " stats " + dir.file("bad.npy"));
  CATCH_CHECK(bad.exit_code == 1);
  CATCH_CHECK(bad.output.find(dir.file("bad.npy")) != std::string::npos);
  CATCH_CHECK(bad.output.find("labelrep: ") == 0);
  CATCH_CHECK(bad.output.find("Exception raised from") == std::string::npos);  // no libtorch backtrace

  const auto missing = run_command(cli() + " stats " + dir.file("nope.npy"));
  CATCH_CHECK(missing.exit_code == 1);
  CATCH_CHECK(missing.output.find("nope.npy: cannot open") != std::string::npos);
  CATCH_CHECK(missing.output.find("entropy") == std::string::npos);  // no table header without a row

  const auto kind = run_command(cli() + " labels spech --classes cifar10 --out " + dir.file("x.npy"));
  CATCH_CHECK(kind.exit_code == 2);
  CATCH_CHECK(kind.output.find("unknown label kind 'spech'") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("x.npy")));

  const auto classes = run_command(cli() + " labels uniform --classes 0 --out " + dir.file("x.npy"));
  CATCH_CHECK(classes.exit_code == 2);
  CATCH_CHECK(classes.output.find("--classes") != std::string::npos);

  const auto option = run_command(cli() + " stats --l2 euclid " + authors("cifar10_speech.npy"));
  CATCH_CHECK(option.exit_code == 2);
  CATCH_CHECK(option.output.find("--l2") != std::string::npos);

  const auto unwritable = run_command(cli() + " labels constant --classes 3 --out /nonexistent-dir/x.npy");
  CATCH_CHECK(unwritable.exit_code == 1);
  CATCH_CHECK(unwritable.output.find("/nonexistent-dir/x.npy") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists("/nonexistent-dir"));
  // A --png directory that cannot be made (a file in the way) is found before the .npy is written.
  labelrep_test::write_bytes(dir.file("in-the-way"), "x");
  const auto blocked = run_command(cli() + " labels constant --classes 3 --out " + dir.file("y.npy") + " --png " + dir.file("in-the-way/png"));
  CATCH_CHECK(blocked.exit_code == 1);
  CATCH_CHECK(blocked.output.find(dir.file("in-the-way/png")) != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("y.npy")));
  // Smoothing is for category labels only.
  const auto smoothing = run_command(cli() + " labels uniform --classes 3 --smoothing 0.5 --out " + dir.file("s.npy"));
  CATCH_CHECK(smoothing.exit_code == 2);
  CATCH_CHECK(smoothing.output.find("--smoothing") != std::string::npos);

  // An empty value is not 0 (CLI11 would read it so): refused for every numeric option, before anything runs.
  for (const std::string& arguments : {" train --weight-decay '' --out " + dir.file("wd"), " train --crop-padding '' --out " + dir.file("cp"),
                                       " labels uniform --classes 3 --seed '' --out " + dir.file("s.npy"),
                                       " train --weight-decay nan --out " + dir.file("nan"), " train --lr -1 --out " + dir.file("lr"),
                                       " train --checkpoint-every -5 --out " + dir.file("ck")}) {
    CATCH_INFO(arguments);
    const auto empty = run_command(cli() + arguments);
    CATCH_CHECK(empty.exit_code == 2);
  }
  for (const char* name : {"wd", "cp", "s.npy", "nan", "lr", "ck"}) CATCH_CHECK_FALSE(std::filesystem::exists(dir.file(name)));

  // A negative value for an unsigned option is named as such (CLI11 would wrap -1 to 2^64 - 1).
  const auto negative_seed = run_command(cli() + " train --seed -1 --out " + dir.file("seed"));
  CATCH_CHECK(negative_seed.exit_code == 2);
  CATCH_CHECK(negative_seed.output.find("--seed: must not be negative, got -1") != std::string::npos);
  CATCH_CHECK(negative_seed.output.find("18446744073709551615") == std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("seed")));

  // A mistyped command is named, with the list of commands.
  const auto typo = run_command(cli() + " trian --out " + dir.file("typo"));
  CATCH_CHECK(typo.exit_code == 2);
  CATCH_CHECK(typo.output.find("unknown command 'trian'") != std::string::npos);
  CATCH_CHECK(typo.output.find("train") != std::string::npos);
  // `labelrep help train` is `labelrep train --help`.
  const auto help = run_command(cli() + " help train");
  CATCH_CHECK(help.exit_code == 0);
  CATCH_CHECK(help.output.find("--data-dir") != std::string::npos);
  CATCH_CHECK(help.output == run_command(cli() + " train --help").output);
}

CATCH_TEST_CASE("labelrep demo trains both label kinds on Fashion-MNIST and writes a report", "[cli]") {
  labelrep_test::TempDir dir;
  // A miniature of the demo: 1% of the pool, two epochs, small analyses; the real one is `quickstart.sh demo`.
  const auto r = run_command(cli() + " demo --label composite --epochs 2 --level 1 --validation 500 --attack-images 60 --tsne-images 120 --cam-images 60 --out " +
                             dir.file("demo"));
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(std::filesystem::exists(dir.file("demo/report/report.md")));
  CATCH_CHECK(std::filesystem::exists(dir.file("demo/report/index.html")));
  for (const std::string kind : {"composite", "category"}) {
    const auto run = dir.file("demo/runs/fashion-mnist-" + kind + "-seed0");
    CATCH_CHECK(std::filesystem::exists(run + "/result.json"));
    CATCH_CHECK(r.output.find(kind) != std::string::npos);
    // The analyses, in the run where the report finds them: snapshots (epoch 1 of 2), the sweep, the
    // t-SNE progression, Grad-CAM at the second convolution and the last stage.
    CATCH_CHECK(std::filesystem::exists(run + "/snapshots/epoch-0001.ckpt"));
    CATCH_CHECK(std::filesystem::exists(run + "/attack.json"));
    CATCH_CHECK(std::filesystem::exists(run + "/attack_per_image.npy"));  // for the paired comparison
    CATCH_CHECK(std::filesystem::exists(run + "/radius.npy"));             // each image's robust radius
    CATCH_CHECK(std::filesystem::exists(run + "/figures/tsne_progression.svg"));
    CATCH_CHECK(std::filesystem::exists(run + "/figures/tsne_bim_eps0.1.svg"));  // the attacked images placed into the map
    CATCH_CHECK(std::filesystem::exists(run + "/figures/gradcam"));
    // ROAD's check of both layers' maps.
    CATCH_CHECK(std::filesystem::exists(run + "/figures/gradcam_faithfulness.json"));
    CATCH_CHECK(std::filesystem::exists(run + "/figures/gradcam_faithfulness_at-body_5_hirescam.svg"));
  }
  CATCH_CHECK(r.output.find("ROAD faithfulness of HiResCAM of the decision margin at body.5 for the true class, 60 test images") !=
              std::string::npos);
  CATCH_CHECK(r.output.find("test accuracy") != std::string::npos);
  CATCH_CHECK(r.output.find("paired over all 10000 test images: composite ") != std::string::npos);
  CATCH_CHECK(r.output.find("composite vs category labels on the same 60 test images, worst case over the attacks (paired):") != std::string::npos);
  CATCH_CHECK(r.output.find("robust radius under apgd-margin (the smallest eps that breaks each image, paired over 60 images): median ") !=
              std::string::npos);
  const std::string html = labelrep::read_file(dir.file("demo/report/index.html"));
  CATCH_CHECK(html.find("As accurate on the same images? (paired, against categorical labels)") != std::string::npos);
  CATCH_CHECK(html.find("How far from being broken? (robust radius)") != std::string::npos);
  CATCH_CHECK(html.find("Robust on the same images? (paired, against categorical labels)") != std::string::npos);
  CATCH_CHECK(html.find("<td>composite vs category</td><td>0</td><td>fgsm, bim, bim-margin, apgd-margin, apgd-t-margin, noise, square (top-9 targets)</td><td>0.1</td><td>60</td>") !=
              std::string::npos);
  CATCH_CHECK(html.find("Accuracy under adversarial attack") != std::string::npos);
  CATCH_CHECK(html.find("t-SNE over training") != std::string::npos);
  CATCH_CHECK(html.find("under bim at eps 0.1, by true class") != std::string::npos);
  CATCH_CHECK(html.find("_at-body_5_hirescam.png") != std::string::npos);  // HiResCAM at an early layer (the ReLU after the 2nd conv)
  CATCH_CHECK(html.find("Are the Grad-CAM maps faithful? (ROAD)") != std::string::npos);
  CATCH_CHECK(html.find("hirescam of the margin, body.5") != std::string::npos);
}

CATCH_TEST_CASE("labelrep train stores a relative --data-dir absolute, so the run is evaluated from anywhere", "[cli]") {
  labelrep_test::TempDir dir;
  // The installed Fashion-MNIST behind a directory name relative to where train runs.
  const std::filesystem::path linked = dir.file("fmnist");
  std::filesystem::create_directories(linked);
  for (const auto& entry : std::filesystem::directory_iterator(labelrep::data::kFashionMnistDir))
    std::filesystem::create_symlink(entry.path(), linked / entry.path().filename());
  const auto trained = run_command("cd " + dir.path().string() + " && " + cli() +
                                   " train --data-dir ./fmnist --encoder small-cnn --epochs 1 --level 1 --validation 300 --out run");
  CATCH_INFO(trained.output);
  CATCH_REQUIRE(trained.exit_code == 0);
  const auto config = nlohmann::json::parse(labelrep::read_file(dir.file("run/config.json")));
  const std::string stored = config["data_dir"];
  CATCH_CHECK(std::filesystem::path(stored).is_absolute());
  CATCH_CHECK(std::filesystem::equivalent(stored, linked));
  const auto evaluated = run_command("cd / && " + cli() + " evaluate --views image --run " + dir.file("run"));
  CATCH_INFO(evaluated.output);
  CATCH_CHECK(evaluated.exit_code == 0);
}

CATCH_TEST_CASE("labelrep train writes a run directory, reads a finished run and checks its options, and speak --run hears it", "[cli]") {
  labelrep_test::TempDir dir;
  const std::string run = dir.file("run");
  const std::string args = " train --dataset fashion-mnist --label composite --label-size 32 --encoder small-cnn --epochs 1 --level 1 --validation 300 --no-flip --out " + run;
  const auto r = run_command(cli() + args);
  CATCH_REQUIRE(r.exit_code == 0);
  for (const char* name :
       {"config.json", "metrics.csv", "result.json", "best.ckpt", "last.ckpt", "labels.npy", "labels.npy.json", "test_predictions.npy"})
    CATCH_CHECK(std::filesystem::exists(run + "/" + name));
  std::ifstream in(run + "/result.json");
  const auto j = nlohmann::json::parse(in);
  CATCH_CHECK(j["test"]["images"] == 10000);
  // Five steps of training: no claim about accuracy here, only that it is the confusion matrix's.
  std::int64_t total = 0, diagonal = 0;
  for (std::size_t i = 0; i < j["test"]["confusion"].size(); ++i)
    for (std::size_t k = 0; k < j["test"]["confusion"][i].size(); ++k) {
      total += j["test"]["confusion"][i][k].get<std::int64_t>();
      if (i == k) diagonal += j["test"]["confusion"][i][k].get<std::int64_t>();
    }
  CATCH_CHECK(total == 10000);
  CATCH_CHECK(j["test"]["accuracy"].get<double>() == labelrep_test::Approx(static_cast<double>(diagonal) / 10000));
  CATCH_CHECK(j["test"].contains("threshold_accuracy"));
  CATCH_CHECK(j["test"]["confusion"].size() == 10);
  CATCH_CHECK(j["config"]["encoder"] == "small-cnn");
  CATCH_CHECK(j["config"]["horizontal_flip"] == false);
  CATCH_CHECK(j["labels"]["kind"] == "composite");
  CATCH_CHECK(j["labels"]["shape"] == nlohmann::json::array({32, 32}));
  // labelrep evaluate: the best weights on the test set again, by image (as result.json) and with mirrors.
  const auto evaluated = run_command(cli() + " evaluate --json --run " + run);
  CATCH_INFO(evaluated.output);
  CATCH_REQUIRE(evaluated.exit_code == 0);
  // This run trained without flips: a note says what the mirror views assume, then the JSON line.
  CATCH_CHECK(evaluated.output.find("trained without horizontal flips") != std::string::npos);
  const auto e = nlohmann::json::parse(evaluated.output.substr(evaluated.output.find('{')));
  CATCH_CHECK(e["images"] == 10000);
  CATCH_CHECK(std::abs(e["image"]["accuracy"].get<double>() - j["test"]["accuracy"].get<double>()) <= 2e-4);  // rounding: 2 images
  CATCH_CHECK(e["image+mirror"].contains("accuracy"));  // what it decides is the [train] test's
  CATCH_CHECK(e["image+mirror"].contains("threshold_accuracy"));
  const auto table = run_command(cli() + " evaluate --views image --run " + run);
  CATCH_CHECK(table.output.find("image+mirror") == std::string::npos);
  CATCH_CHECK(table.output.find("image ") != std::string::npos);
  CATCH_CHECK(table.output.find("images/s") == std::string::npos);  // piped: no progress line
  // On a terminal (script(1) gives the command one), a progress line counts the test images.
  const auto on_terminal = run_command("script -qec '" + cli() + " evaluate --views image --run " + run + "' /dev/null");
  CATCH_INFO(on_terminal.output);
  CATCH_CHECK(on_terminal.exit_code == 0);
  CATCH_CHECK(on_terminal.output.find("evaluate (image): 10000/10000 (100%) images") != std::string::npos);
  CATCH_CHECK(on_terminal.output.find("images/s") != std::string::npos);
  // --predictions: the same true and predicted classes as the run's own test_predictions.npy, except
  // for images whose decision rounding flips (as the accuracies above).
  const auto saved = run_command(cli() + " evaluate --views image --run " + run + " --predictions " + dir.file("again/predictions.npy"));
  CATCH_INFO(saved.output);
  CATCH_REQUIRE(saved.exit_code == 0);
  const auto own = labelrep::read_npy(run + "/test_predictions.npy"), again_predictions = labelrep::read_npy(dir.file("again/predictions.npy"));
  CATCH_REQUIRE(again_predictions.sizes() == own.sizes());
  CATCH_CHECK(torch::equal(again_predictions.select(1, 0), own.select(1, 0)));
  CATCH_CHECK((again_predictions.select(1, 1) != own.select(1, 1)).sum().item<std::int64_t>() <= 2);
  for (const std::string bad : {" --views both --predictions " + dir.file("p.npy"), " --views image --predictions " + dir.file("p.txt")}) {
    const auto refused = run_command(cli() + " evaluate --run " + run + bad);
    CATCH_CHECK(refused.exit_code == 2);
    CATCH_CHECK(refused.output.find("--predictions") != std::string::npos);
  }
  const auto no_run = run_command(cli() + " evaluate --run " + dir.file("no-such-run"));
  CATCH_CHECK(no_run.exit_code == 1);
  CATCH_CHECK(no_run.output.find(dir.file("no-such-run")) != std::string::npos);
  const auto again = run_command(cli() + args);
  CATCH_CHECK(again.exit_code == 0);
  CATCH_CHECK(again.output.find("test accuracy") != std::string::npos);
  CATCH_CHECK(again.output.find("(best epoch 1, validation ") != std::string::npos);
  // --validation 0: the whole training set is the pool (1 % of 60,000, not of 59,700) and the last epoch is the result.
  const std::string all = dir.file("all");
  const auto unvalidated = run_command(cli() + " train --dataset fashion-mnist --label composite --label-size 32 --encoder small-cnn --epochs 1 "
                                               "--level 1 --validation 0 --no-flip --out " + all);
  CATCH_INFO(unvalidated.output);
  CATCH_CHECK(unvalidated.exit_code == 0);
  CATCH_CHECK(unvalidated.output.find("(last epoch 1, no validation set") != std::string::npos);
  const auto all_result = nlohmann::json::parse(labelrep::read_file(all + "/result.json"));
  CATCH_CHECK(all_result["config"]["train_images"] == 600);
  CATCH_CHECK(all_result["selection"] == "last epoch");
  CATCH_CHECK(j["config"]["train_images"] == 597);
  const auto negative = run_command(cli() + " train --encoder small-cnn --validation -1 --out " + dir.file("negative"));
  CATCH_CHECK(negative.exit_code == 2);
  CATCH_CHECK(negative.output.find("validation must be 0") != std::string::npos);
  // Snapshots asked of a finished run that trained without them: refused, not "already finished" without them.
  const auto snapshots = run_command(cli() + args + " --snapshot-epochs 0,1");
  CATCH_INFO(snapshots.output);
  CATCH_CHECK(snapshots.exit_code == 2);
  CATCH_CHECK(snapshots.output.find("epoch(s) 0, 1 of --snapshot-epochs") != std::string::npos);
  // The same run directory with another experiment is refused, naming the field.
  const auto other = run_command(cli() + args + " --seed 3");
  CATCH_CHECK(other.exit_code == 2);
  CATCH_CHECK(other.output.find("seed") != std::string::npos);

  if (labelrep::audio::has_wav_io()) {
    const auto spoken = run_command(cli() + " speak --run " + run + " --image 3 --iterations 8 --out " + dir.file("say.wav"));
    CATCH_INFO(spoken.output);
    CATCH_CHECK(spoken.exit_code == 0);
    CATCH_CHECK(spoken.output.find("test image 3") != std::string::npos);
    const auto wav = labelrep::audio::read_wav(dir.file("say.wav"));
    CATCH_CHECK(wav.sample_rate == 22050);
    CATCH_CHECK(wav.samples.size() == 256 * 31);  // 32 frames, hop 256, centred
  }
  const auto image = run_command(cli() + " speak --run " + run + " --image 10000 --out " + dir.file("no.wav"));
  CATCH_CHECK(image.exit_code == 2);
  CATCH_CHECK(image.output.find("--image 10000") != std::string::npos);
  const auto missing = run_command(cli() + " speak --run " + dir.file("no-run") + " --image 1 --out " + dir.file("no.wav"));
  CATCH_CHECK(missing.exit_code == 1);
  CATCH_CHECK(missing.output.find(dir.file("no-run")) != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("no.wav")));

  const auto encoder = run_command(cli() + " train --encoder resnet31 --epochs 1 --out " + dir.file("x"));
  CATCH_CHECK(encoder.exit_code == 2);
  CATCH_CHECK(encoder.output.find("resnet31") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("x")));  // a failed start leaves no run directory behind
  // ... also when it fails after the labels were made (a label size the kind refuses) ...
  const auto tiny = run_command(cli() + " train --encoder small-cnn --label composite --label-size 1 --epochs 1 --level 1 --out " +
                                dir.file("tiny"));
  CATCH_CHECK(tiny.exit_code == 2);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("tiny")));
  // ... but a directory that existed before is left as it was.
  std::filesystem::create_directories(dir.file("kept"));
  const auto kept = run_command(cli() + " train --encoder small-cnn --label composite --label-size 1 --epochs 1 --level 1 --out " +
                                dir.file("kept"));
  CATCH_CHECK(kept.exit_code == 2);
  CATCH_CHECK(std::filesystem::is_directory(dir.file("kept")));
  const auto level = run_command(cli() + " train --level 0 --out " + dir.file("y"));
  CATCH_CHECK(level.exit_code == 2);
  CATCH_CHECK(level.output.find("level") != std::string::npos);
  const auto graphs = run_command(cli() + " train --cuda-graphs --out " + dir.file("g"));
  CATCH_CHECK(graphs.exit_code == 2);
  CATCH_CHECK(graphs.output.find("cuda_graphs needs a CUDA device") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("g")));
  const auto mirror = run_command(cli() + " train --mirror-evaluation --no-flip --out " + dir.file("m"));
  CATCH_CHECK(mirror.exit_code == 2);
  CATCH_CHECK(mirror.output.find("mirror_evaluation") != std::string::npos);
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("m")));
  const auto cifar = run_command(cli() + " train --dataset cifar10 --data-dir " + dir.file("nothing") + " --out " + dir.file("z"));
  CATCH_CHECK(cifar.exit_code == 1);
  CATCH_CHECK(cifar.output.find(dir.file("nothing")) != std::string::npos);
}

CATCH_TEST_CASE("labelrep efficiency trains a grid once, summarises it and writes a report", "[cli]") {
  labelrep_test::TempDir dir;
  const std::string args = " efficiency --labels category,lowdim --levels 1,2 --seeds 1 --encoder small-cnn --epochs 1 --validation 300 --out " +
                           dir.file("eff");
  const auto r = run_command(cli() + args);
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(r.output.find("[4/4] lowdim labels, level 2%") != std::string::npos);
  std::ifstream in(dir.file("eff/efficiency.json"));
  const auto j = nlohmann::json::parse(in);
  CATCH_REQUIRE(j.size() == 4);
  CATCH_CHECK(j[0]["label"] == "category");
  CATCH_CHECK(j[3]["level"] == 2.0);
  CATCH_CHECK(j[3].contains("threshold_accuracy"));
  CATCH_CHECK(std::filesystem::exists(dir.file("eff/runs/fashion-mnist-small-cnn-lowdim-level2-seed0/result.json")));
  CATCH_CHECK(std::filesystem::exists(dir.file("eff/report/index.html")));
  // Again: every run is read, none trained.
  const auto again = run_command(cli() + args);
  CATCH_CHECK(again.exit_code == 0);
  CATCH_CHECK(again.output.find("already finished") != std::string::npos);
  CATCH_CHECK(again.output.find("trained in") == std::string::npos);
  const auto level = run_command(cli() + " efficiency --level 5 --out " + dir.file("x"));
  CATCH_CHECK(level.exit_code == 2);  // the grid sets the levels
  const auto bad = run_command(cli() + " efficiency --levels 0,5 --out " + dir.file("y"));
  CATCH_CHECK(bad.exit_code == 2);
  CATCH_CHECK(bad.output.find("level 0") != std::string::npos);
}

CATCH_TEST_CASE("labelrep info --json prints the reference's parameter counts", "[cli]") {
  const auto speech = run_command(cli() + " info --encoder resnet32 --label composite --classes 10 --json");
  CATCH_REQUIRE(speech.exit_code == 0);
  const auto j = nlohmann::json::parse(speech.output);
  CATCH_CHECK(j["parameters"] == 579577);
  CATCH_CHECK(j["output_shape"] == nlohmann::json::array({64, 64}));
  const auto category = run_command(cli() + " info --encoder resnet110 --label category --classes cifar10 --json");
  CATCH_REQUIRE(category.exit_code == 0);
  CATCH_CHECK(nlohmann::json::parse(category.output)["parameters"] == 1730714);
  const auto bad = run_command(cli() + " info --encoder resnet33 --label category --classes 10");
  CATCH_CHECK(bad.exit_code == 2);
  CATCH_CHECK(bad.output.find("resnet33") != std::string::npos);
}

CATCH_TEST_CASE("labelrep data info describes Fashion-MNIST and names a missing CIFAR directory", "[cli]") {
  const auto r = run_command(cli() + " data info fashion-mnist --json");
  CATCH_REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.output);
  CATCH_CHECK(j["train"] == 60000);
  CATCH_CHECK(j["test"] == 10000);
  CATCH_CHECK(j["classes"][9]["name"] == "Ankle boot");
  CATCH_CHECK(j["classes"][9]["test"] == 1000);
  CATCH_CHECK(j["mean"][0].get<double>() == labelrep_test::Approx(0.2860).margin(1e-4));
  const auto text = run_command(cli() + " data info fashion-mnist");
  CATCH_CHECK(text.output.find("60000 training and 10000 test images of 1x28x28") != std::string::npos);
  const auto cifar = run_command(cli() + " data info cifar10 --dir /nonexistent/cifar");
  CATCH_CHECK(cifar.exit_code == 1);
  CATCH_CHECK(cifar.output.find("/nonexistent/cifar/data_batch_1.bin") != std::string::npos);
  CATCH_CHECK(cifar.output.find("cifar-10-binary.tar.gz") != std::string::npos);
}
