// ROAD: the noisy linear imputation against a dense solve of its equations, and the removal curves on a
// model whose evidence sits in a known patch (a map on the patch beats another image's map, its inverse
// loses).
#include "catch.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <tuple>

#include "labelrep/analysis/cam_faithfulness.hpp"
#include "labelrep/analysis/gradcam.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "planted_patch.hpp"
#include "support.hpp"

namespace {

// The imputation's equations written out as a dense system, one image and channel at a time: for a
// removed pixel i, (Σ_{j in image} wᵢⱼ)·yᵢ − Σ_{j removed} wᵢⱼ·yⱼ = Σ_{k kept} wᵢₖ·xₖ, w = 1/6 for
// the 4 direct and 1/12 for the 4 diagonal neighbours; solved with a dense float64 solver.
torch::Tensor dense_imputation(const torch::Tensor& images, const torch::Tensor& removed) {
  auto out = images.to(torch::kFloat64).clone();
  const auto h = images.size(2), w = images.size(3);
  for (std::int64_t n = 0; n < images.size(0); ++n) {
    std::vector<std::int64_t> index(static_cast<std::size_t>(h * w), -1);
    std::int64_t unknowns = 0;
    for (std::int64_t p = 0; p < h * w; ++p)
      if (removed[n][p / w][p % w].item<bool>()) index[static_cast<std::size_t>(p)] = unknowns++;
    for (std::int64_t c = 0; c < images.size(1); ++c) {
      auto a = torch::zeros({unknowns, unknowns}, torch::kFloat64);
      auto b = torch::zeros({unknowns}, torch::kFloat64);
      for (std::int64_t p = 0; p < h * w; ++p) {
        const auto row = index[static_cast<std::size_t>(p)];
        if (row < 0) continue;
        const auto i = p / w, j = p % w;
        for (std::int64_t di = -1; di <= 1; ++di)
          for (std::int64_t dj = -1; dj <= 1; ++dj) {
            if ((di == 0 && dj == 0) || i + di < 0 || i + di >= h || j + dj < 0 || j + dj >= w) continue;
            const double weight = (di == 0 || dj == 0) ? 1.0 / 6.0 : 1.0 / 12.0;
            a[row][row] += weight;
            const auto q = (i + di) * w + (j + dj);
            const auto col = index[static_cast<std::size_t>(q)];
            if (col >= 0) a[row][col] -= weight;
            else b[row] += weight * out[n][c][i + di][j + dj].item<double>();
          }
      }
      const auto y = torch::linalg_solve(a, b.unsqueeze(1)).squeeze(1);
      for (std::int64_t p = 0; p < h * w; ++p) {
        const auto row = index[static_cast<std::size_t>(p)];
        if (row >= 0) out[n][c][p / w][p % w] = y[row];
      }
    }
  }
  return out;
}

// The planted patch of planted_patch.hpp at one of two places, chosen per image: top right (rows 3..8,
// columns 21..26) or bottom left (rows 23..28, columns 5..10). Returns the images, their classes and
// the true maps (1 on the image's patch).
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> planted_two_places(std::int64_t n, at::Generator& gen) {
  using labelrep_test::kPatch;
  using labelrep_test::kSide;
  const auto ids = torch::randint(0, 2, {n}, gen, torch::kLong);
  const auto place = torch::randint(0, 2, {n}, gen, torch::kLong);
  auto images = torch::randn({n, 1, kSide, kSide}, gen, torch::kFloat32);
  auto maps = torch::zeros({n, kSide, kSide}, torch::kFloat32);
  for (std::int64_t i = 0; i < n; ++i) {
    const bool low = place[i].item<std::int64_t>() == 1;
    const std::int64_t top = low ? 23 : 3, left = low ? 5 : 21;
    images[i].slice(1, top, top + kPatch).slice(2, left, left + kPatch).fill_(ids[i].item<std::int64_t>() == 1 ? 2.5 : -2.5);
    maps[i].slice(0, top, top + kPatch).slice(1, left, left + kPatch).fill_(1.0);
  }
  return {images, ids, maps};
}

}  // namespace

CATCH_TEST_CASE("impute_noisy_linear solves ROAD's neighbour equations and keeps the other pixels", "[analysis]") {
  using namespace labelrep;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  // Random holes, the border included, two channels.
  const auto images = torch::randn({3, 2, 7, 9}, gen, torch::kFloat64);
  auto removed = torch::rand({3, 7, 9}, gen, torch::kFloat64) < 0.6;
  removed[2].fill_(true);
  removed[2][6][8] = false;  // one kept pixel, in a corner, is enough
  const auto imputed = analysis::impute_noisy_linear(images, removed, /*noise=*/0.0);
  CATCH_REQUIRE(imputed.sizes() == images.sizes());
  CATCH_CHECK(imputed.dtype() == torch::kFloat64);
  const auto reference = dense_imputation(images, removed);
  CATCH_CHECK((imputed - reference).abs().max().item<double>() < 1e-8);
  const auto kept = (~removed).unsqueeze(1).expand_as(images);
  CATCH_CHECK(torch::equal(imputed.masked_select(kept), images.masked_select(kept)));  // bit for bit
  // The last image is its kept pixel everywhere.
  CATCH_CHECK((imputed[2] - images[2].select(1, 6).select(1, 8).view({2, 1, 1})).abs().max().item<double>() < 1e-8);

  // A plane a·row + b·col + c is the mean of its symmetric neighbourhood, so a hole away from the
  // border is filled with the plane itself.
  auto plane = torch::empty({1, 1, 12, 12}, torch::kFloat64);
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 12; ++j) plane[0][0][i][j] = 0.7 * i - 1.3 * j + 2.0;
  auto hole = torch::zeros({1, 12, 12}, torch::kBool);
  hole.slice(1, 2, 10).slice(2, 3, 9).fill_(true);
  hole[0][1][5] = true;
  CATCH_CHECK((analysis::impute_noisy_linear(plane, hole, 0.0) - plane).abs().max().item<double>() < 1e-8);

  // float32 in, float32 out; the kept pixels untouched.
  const auto single = analysis::impute_noisy_linear(images.to(torch::kFloat32), removed, 0.0);
  CATCH_CHECK(single.dtype() == torch::kFloat32);
  CATCH_CHECK((single.to(torch::kFloat64) - reference).abs().max().item<double>() < 1e-5);
}

CATCH_TEST_CASE("impute_noisy_linear adds seeded noise of the given size to the removed pixels only", "[analysis]") {
  using namespace labelrep;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(12);
  const auto images = torch::randn({4, 3, 32, 32}, gen, torch::kFloat32);
  const auto removed = torch::rand({4, 32, 32}, gen, torch::kFloat32) < 0.5;
  const auto clean = analysis::impute_noisy_linear(images, removed, 0.0);
  const auto noisy = analysis::impute_noisy_linear(images, removed, 0.5, /*seed=*/3);
  const auto mask = removed.unsqueeze(1).expand_as(images);
  const auto difference = (noisy - clean).masked_select(mask);
  CATCH_INFO("noise standard deviation " << difference.std().item<double>() << ", mean " << difference.mean().item<double>());
  CATCH_CHECK(std::abs(difference.std().item<double>() - 0.5) < 0.025);
  CATCH_CHECK(std::abs(difference.mean().item<double>()) < 0.025);
  CATCH_CHECK(torch::equal(noisy.masked_select(~mask), images.masked_select(~mask)));
  CATCH_CHECK(torch::equal(noisy, analysis::impute_noisy_linear(images, removed, 0.5, 3)));
  CATCH_CHECK_FALSE(torch::equal(noisy, analysis::impute_noisy_linear(images, removed, 0.5, 4)));
}

CATCH_TEST_CASE("impute_noisy_linear checks its arguments", "[analysis]") {
  using namespace labelrep;
  const auto images = torch::zeros({2, 1, 4, 4});
  auto all = torch::zeros({2, 4, 4}, torch::kBool);
  all[1].fill_(true);
  labelrep_test::check_throws_with<InvalidArgument>([&] { analysis::impute_noisy_linear(images, all); }, "every pixel of image 1");
  labelrep_test::check_throws_with<InvalidArgument>([&] { analysis::impute_noisy_linear(images, torch::zeros({2, 4, 4})); }, "bool tensor [2, 4, 4]");
  labelrep_test::check_throws_with<InvalidArgument>([&] { analysis::impute_noisy_linear(images, torch::zeros({2, 4, 5}, torch::kBool)); },
                                                    "bool tensor [2, 4, 4]");
  labelrep_test::check_throws_with<InvalidArgument>([&] { analysis::impute_noisy_linear(images[0], torch::zeros({4, 4}, torch::kBool)); },
                                                    "[N, C, H, W]");
  labelrep_test::check_throws_with<InvalidArgument>(
      [&] { analysis::impute_noisy_linear(images, torch::zeros({2, 4, 4}, torch::kBool), -0.1); }, "noise -0.1");
  auto nan = images.clone();
  nan[0][0][1][1] = std::nan("");
  labelrep_test::check_throws_with<InvalidArgument>([&] { analysis::impute_noisy_linear(nan, torch::zeros({2, 4, 4}, torch::kBool)); },
                                                    "finite");
  CATCH_CHECK(analysis::impute_noisy_linear(torch::zeros({0, 1, 4, 4}), torch::zeros({0, 4, 4}, torch::kBool)).size(0) == 0);
}

CATCH_TEST_CASE("cam_faithfulness: a map on the evidence beats another image's map, its inverse loses, a flat map is chance",
                "[analysis]") {
  using namespace labelrep;
  using labelrep_test::kSide;
  std::vector<std::shared_ptr<const labels::LabelRepresentation>> sets{
      std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(2)),
      std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(2).size(16))};
  const labelrep_test::PlantedSampler sample = [](std::int64_t n, at::Generator& gen) {
    const auto [images, ids, maps] = planted_two_places(n, gen);
    return std::make_pair(images, ids);
  };
  for (const auto& labels : sets) {
    CATCH_INFO(labels->name() << " labels");
    torch::manual_seed(1);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
    models::Model model(models::SmallCnn(models::SmallCnnOptions().in_channels(1).width(8)).ptr(), models::make_decoder(32, *labels));
    CATCH_REQUIRE(labelrep_test::train_planted(model, labels, gen, sample, 150) >= 0.95);
    const auto [images, ids, maps] = planted_two_places(96, gen);
    const auto options = analysis::FaithfulnessOptions().fractions({0.0, 0.05, 0.2, 0.5, 0.8, 0.95}).batch_size(40);

    // The image's own patch as the map (with a little jitter so that nothing ties).
    const auto truth = maps + torch::rand({96, kSide, kSide}, gen, torch::kFloat32) * 0.01;
    const auto on_patch = analysis::cam_faithfulness(model, images, ids, labels, truth, options);
    CATCH_CHECK(on_patch.images == 96);
    const auto& morf = on_patch.most_relevant_first.kept;
    const auto& lerf = on_patch.least_relevant_first.kept;
    const auto& baseline = on_patch.baseline_most_relevant_first.kept;
    const auto& baseline_lerf = on_patch.baseline_least_relevant_first.kept;
    CATCH_REQUIRE(morf.size() == 6);
    CATCH_INFO("MoRF " << morf[1] << " " << morf[2] << ", LeRF " << lerf[4] << " " << lerf[5] << ", baseline MoRF " << baseline[1]
                       << ", baseline LeRF " << baseline_lerf[5]);
    // At 0 nothing is removed: every order sees the clean images.
    const eval::NearestNeighborEvaluator evaluator(labels);
    model->eval();
    double clean = 0;
    {
      torch::NoGradGuard no_grad;
      clean = (evaluator.predict(model->forward(images)) == ids).to(torch::kFloat64).mean().item<double>();
    }
    CATCH_CHECK(morf[0] == clean);
    CATCH_CHECK(lerf[0] == clean);
    CATCH_CHECK(baseline[0] == clean);
    CATCH_CHECK(baseline_lerf[0] == clean);
    // Removing the 36 patch pixels (5% of 1024 is 51) leaves a coin toss; keeping them keeps the class.
    CATCH_CHECK(morf[1] < 0.75);
    CATCH_CHECK(lerf[5] >= 0.9);  // 95% removed, the patch among the 5% kept
    // Another image's map hits this image's patch half of the time, both ways. (Its LeRF keeps more than
    // half at 95% removed: a single patch pixel left among the kept ones tells the class through the
    // imputation around it.)
    CATCH_CHECK(baseline[1] > morf[1] + 0.1);
    CATCH_CHECK(baseline_lerf[5] < lerf[5]);
    CATCH_CHECK(on_patch.beats_baseline());
    CATCH_CHECK(on_patch.road_combined() > 0.15);
    CATCH_CHECK(on_patch.combined_beyond_baseline() > 0.05);
    CATCH_CHECK(on_patch.combined_beyond_baseline() == on_patch.road_combined() - on_patch.baseline_road_combined());
    // Per image, the two gaps average to the two scores; the gap beyond the baseline is well above 0
    // for 96 images.
    CATCH_REQUIRE(on_patch.image_combined.size() == 96);
    CATCH_REQUIRE(on_patch.image_baseline_combined.size() == 96);
    const auto mean = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); };
    CATCH_CHECK(mean(on_patch.image_combined) == labelrep_test::Approx(on_patch.road_combined()).margin(1e-12));
    CATCH_CHECK(mean(on_patch.image_baseline_combined) == labelrep_test::Approx(on_patch.baseline_road_combined()).margin(1e-12));
    const auto& gap = on_patch.beyond_baseline_interval;
    CATCH_INFO("beyond the baseline " << gap.mean << " [" << gap.low << ", " << gap.high << "]");
    CATCH_CHECK(gap.mean == labelrep_test::Approx(on_patch.combined_beyond_baseline()).margin(1e-12));
    CATCH_CHECK(gap.low > 0.0);
    CATCH_CHECK(gap.low < gap.mean);
    CATCH_CHECK(gap.high > gap.mean);
    CATCH_CHECK(on_patch.significantly_beats_baseline());
    CATCH_CHECK(on_patch.most_relevant_first.name == "most relevant first");
    CATCH_CHECK(on_patch.baseline_least_relevant_first.name == "another image's map, least relevant first");

    // Grad-CAM's own maps of the model (of its decision margin, the default) are faithful too, at the
    // last stage and at an early layer.
    const auto heat = analysis::grad_cam(model, images, ids, *labels);
    const auto cam = analysis::cam_faithfulness(model, images, ids, labels, heat, options);
    CATCH_INFO("Grad-CAM: MoRF area " << cam.most_relevant_first.area() << ", baseline " << cam.baseline_most_relevant_first.area() << ", LeRF "
                                      << cam.least_relevant_first.area() << ", baseline " << cam.baseline_least_relevant_first.area());
    CATCH_CHECK(cam.beats_baseline());
    CATCH_CHECK(cam.road_combined() > 0.1);
    const auto early = analysis::cam_faithfulness(model, images, ids, labels,
                                                  analysis::grad_cam(model, images, ids, *labels, analysis::GradCamOptions().layer("body.5")), options);
    CATCH_INFO("Grad-CAM at body.5: MoRF area " << early.most_relevant_first.area() << ", baseline "
                                                << early.baseline_most_relevant_first.area() << ", LeRF " << early.least_relevant_first.area()
                                                << ", baseline " << early.baseline_least_relevant_first.area());
    CATCH_CHECK(early.beats_baseline());
    CATCH_CHECK(early.road_combined() > 0.1);
    // The classic label score: the logit works for the categorical model; for label regression its
    // gradient vanishes at the fitted label and the maps are no better than another image's.
    const auto classic = analysis::cam_faithfulness(
        model, images, ids, labels, analysis::grad_cam(model, images, ids, *labels, analysis::GradCamOptions().score(analysis::CamScore::kLabel)),
        options);
    CATCH_INFO("label score: combined " << classic.road_combined() << " against the margin's " << cam.road_combined());
    if (labels->is_categorical()) CATCH_CHECK(classic.beats_baseline());
    else CATCH_CHECK(classic.road_combined() < cam.road_combined() - 0.05);

    // The inverse map removes the evidence last: the curves swap and it loses to the baseline.
    const auto inverse = analysis::cam_faithfulness(model, images, ids, labels, -truth, options);
    CATCH_CHECK_FALSE(inverse.beats_baseline());
    CATCH_CHECK(inverse.beyond_baseline_interval.high < 0.0);
    CATCH_CHECK_FALSE(inverse.significantly_beats_baseline());
    CATCH_CHECK(inverse.road_combined() < -0.15);
    // Most relevant first of a map is least relevant first of its negation, exactly: the same pixels are
    // removed (ties keep the same seeded order both ways), with the same noise.
    CATCH_CHECK(inverse.least_relevant_first.kept == on_patch.most_relevant_first.kept);
    CATCH_CHECK(inverse.most_relevant_first.kept == on_patch.least_relevant_first.kept);

    // A flat map ranks nothing: every order is the same seeded random order.
    const auto flat = analysis::cam_faithfulness(model, images, ids, labels, torch::zeros({96, kSide, kSide}), options);
    CATCH_CHECK(flat.most_relevant_first.kept == flat.baseline_most_relevant_first.kept);
    CATCH_CHECK(flat.least_relevant_first.kept == flat.baseline_most_relevant_first.kept);
    CATCH_CHECK(flat.road_combined() == 0.0);
    CATCH_CHECK_FALSE(flat.beats_baseline());
    // A map that is the same for every image (a blob away from both patch places, zeros elsewhere) knows
    // nothing about any one image: it is its own baseline, whatever its LeRF − MoRF gap.
    auto blob = torch::zeros({96, kSide, kSide});
    blob.slice(1, 12, 22).slice(2, 11, 21).fill_(1.0);
    const auto same = analysis::cam_faithfulness(model, images, ids, labels, blob, options);
    CATCH_CHECK(same.most_relevant_first.kept == same.baseline_most_relevant_first.kept);
    CATCH_CHECK(same.least_relevant_first.kept == same.baseline_least_relevant_first.kept);
    CATCH_CHECK(same.combined_beyond_baseline() == 0.0);
    CATCH_CHECK_FALSE(same.beats_baseline());
    CATCH_CHECK(same.beyond_baseline_interval.low == 0.0);
    CATCH_CHECK(same.beyond_baseline_interval.high == 0.0);
    // The true map for image 0 only, the blob for the others: only images 0 and 95 (whose baseline is
    // image 0's map) differ from their baselines. Whatever the two areas say, two images of 96 are no
    // evidence: the interval reaches 0 (a resample leaves both out about one time in seven).
    auto one_true = blob.clone();
    one_true[0] = truth[0];
    const auto lucky = analysis::cam_faithfulness(model, images, ids, labels, one_true, options);
    std::size_t differing = 0;
    for (std::size_t i = 0; i < 96; ++i) differing += lucky.image_combined[i] != lucky.image_baseline_combined[i] ? 1 : 0;
    CATCH_CHECK(differing <= 2);
    CATCH_CHECK(lucky.beyond_baseline_interval.low <= 0.0);
    CATCH_CHECK_FALSE(lucky.significantly_beats_baseline());

    // Seeded; the constant fill (the deletion curve) finds the patch as well.
    CATCH_CHECK(analysis::cam_faithfulness(model, images, ids, labels, heat, options).baseline_least_relevant_first.kept ==
                cam.baseline_least_relevant_first.kept);
    const auto constant = analysis::cam_faithfulness(model, images, ids, labels, truth,
                                                     analysis::FaithfulnessOptions(options).imputation(analysis::Imputation::kConstant));
    CATCH_CHECK(constant.imputation == analysis::Imputation::kConstant);
    CATCH_CHECK(constant.beats_baseline());
  }
}

CATCH_TEST_CASE("FaithfulnessResult: a map beats the baseline significantly only when the gap's interval is above 0", "[analysis]") {
  using namespace labelrep;
  analysis::FaithfulnessResult result;
  const auto curve = [](std::vector<double> kept) {
    analysis::FaithfulnessCurve c;
    c.fractions = {0.0, 0.5};
    c.kept = std::move(kept);
    return c;
  };
  result.most_relevant_first = curve({0.9, 0.3});
  result.least_relevant_first = curve({0.9, 0.8});
  result.baseline_most_relevant_first = curve({0.9, 0.5});
  result.baseline_least_relevant_first = curve({0.9, 0.6});
  CATCH_CHECK(result.most_relevant_first.area() == labelrep_test::Approx(0.6));
  CATCH_CHECK(result.road_combined() == labelrep_test::Approx(0.125));
  CATCH_CHECK(result.baseline_road_combined() == labelrep_test::Approx(0.025));
  CATCH_REQUIRE(result.beats_baseline());
  // The areas favour the map, but the interval of the gap reaches 0: not significant.
  result.beyond_baseline_interval = {0.1, -0.01, 0.2};
  CATCH_CHECK_FALSE(result.significantly_beats_baseline());
  result.beyond_baseline_interval = {0.1, 0.02, 0.2};
  CATCH_CHECK(result.significantly_beats_baseline());
  // An interval above 0 does not overrule the areas: LeRF below the baseline's LeRF is no win.
  result.least_relevant_first = curve({0.9, 0.55});
  CATCH_CHECK_FALSE(result.beats_baseline());
  CATCH_CHECK_FALSE(result.significantly_beats_baseline());
}

CATCH_TEST_CASE("cam_faithfulness keeps each module's mode and the parameters' gradients", "[analysis]") {
  using namespace labelrep;
  torch::manual_seed(4);
  auto labels = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(3));
  models::Model model(models::SmallCnn(models::SmallCnnOptions().in_channels(1).width(4)).ptr(), models::make_decoder(16, *labels));
  model->train();
  // A frozen batch norm inside a training model stays frozen, the rest stays in training.
  auto frozen = model->encoder().named_modules()["body.1"];
  frozen->eval();
  const auto images = torch::randn({5, 1, 12, 12});
  const auto ids = torch::tensor({0, 1, 2, 0, 1});
  const auto result = analysis::cam_faithfulness(model, images, ids, labels, torch::rand({5, 12, 12}),
                                                 analysis::FaithfulnessOptions().fractions({0.0, 0.5}));
  CATCH_CHECK(result.baseline_least_relevant_first.kept.size() == 2);
  CATCH_CHECK(model->is_training());
  CATCH_CHECK(model->encoder().is_training());
  CATCH_CHECK_FALSE(frozen->is_training());
  for (const auto& p : model->parameters()) CATCH_CHECK_FALSE(p.grad().defined());
  // grad_cam too.
  analysis::grad_cam(model, images, ids, *labels);
  CATCH_CHECK(model->is_training());
  CATCH_CHECK_FALSE(frozen->is_training());
}

CATCH_TEST_CASE("cam_faithfulness checks its arguments", "[analysis]") {
  using namespace labelrep;
  torch::manual_seed(3);
  auto labels = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(3));
  models::Model model(models::SmallCnn(models::SmallCnnOptions().in_channels(1).width(4)).ptr(), models::make_decoder(16, *labels));
  const auto images = torch::randn({2, 1, 12, 12});
  const auto ids = torch::tensor({0, 2});
  const auto heat = torch::rand({2, 12, 12});
  using Options = analysis::FaithfulnessOptions;
  const auto fails = [&](const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& h, const Options& o, const char* fragment) {
    labelrep_test::check_throws_with<InvalidArgument>([&] { analysis::cam_faithfulness(model, x, y, labels, h, o); }, fragment);
  };
  fails(images, ids, heat, Options().fractions({}), "fractions must not be empty");
  fails(images, ids, heat, Options().fractions({0.0, 1.0}), "fraction 1 must be in [0, 1)");
  fails(images, ids, heat, Options().fractions({0.5, 0.2}), "increase strictly");
  fails(images, ids, heat, Options().noise(-1), "noise -1");
  fails(images, ids, heat, Options().fill(std::nan("")), "fill");
  fails(images, ids, heat, Options().batch_size(0), "batch_size 0");
  fails(images, torch::tensor({0, 3}), heat, {}, "class_ids must be in [0, 3)");
  fails(images, torch::tensor({0}), heat, {}, "class_ids must be an integer tensor [2]");
  fails(images, ids, torch::rand({2, 12, 11}), {}, "heatmaps must be a real tensor [2, 12, 12]");
  auto nan_heat = heat.clone();
  nan_heat[1][2][2] = std::nan("");
  fails(images, ids, nan_heat, {}, "heatmaps must be finite");
  fails(images.slice(0, 0, 1), ids.slice(0, 0, 1), heat.slice(0, 0, 1), {}, "give at least two");
  fails(images, ids, heat, Options().fractions({0.0, 0.998}), "fraction 0.998 removes every pixel of a 12x12 image");
  labelrep_test::check_throws_with<InvalidArgument>([] { analysis::check_faithfulness_options(Options().fractions({0.3, 0.3})); },
                                                    "increase strictly");
  analysis::check_faithfulness_options(Options());  // the defaults are valid
  labelrep_test::check_throws_with<InvalidArgument>([&] { analysis::cam_faithfulness(model, images, ids, nullptr, heat); }, "labels is null");
  CATCH_CHECK(analysis::parse_imputation("road") == analysis::Imputation::kNoisyLinear);
  CATCH_CHECK(std::string(analysis::imputation_name(analysis::Imputation::kConstant)) == "constant");
  labelrep_test::check_throws_with<InvalidArgument>([] { analysis::parse_imputation("blur"); }, "'blur'");
}

CATCH_TEST_CASE("ROAD and Grad-CAM of the margin run on CUDA and agree with the CPU", "[analysis][cuda]") {
  using namespace labelrep;
  if (!torch::cuda::is_available()) {
    CATCH_WARN("no CUDA device: skipped");
    return;
  }
  // cuDNN's convolutions may use TF32 (10-bit mantissas) by default: an untrained model's near-tie
  // margins would then pick other classes than on the CPU. Full float32 for this comparison.
  struct Tf32Off {
    bool was = at::globalContext().allowTF32CuDNN();
    Tf32Off() { at::globalContext().setAllowTF32CuDNN(false); }
    ~Tf32Off() { at::globalContext().setAllowTF32CuDNN(was); }
  } tf32_off;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
  const auto images = torch::randn({24, 3, 16, 16}, gen, torch::kFloat32);
  const auto removed = torch::rand({24, 16, 16}, gen, torch::kFloat32) < 0.7;
  const auto cpu_imputed = analysis::impute_noisy_linear(images, removed, 0.01, 5);
  const auto gpu_imputed = analysis::impute_noisy_linear(images.cuda(), removed, 0.01, 5);
  CATCH_CHECK(gpu_imputed.device().is_cuda());
  CATCH_CHECK((gpu_imputed.cpu() - cpu_imputed).abs().max().item<double>() < 1e-5);  // the same noise, drawn on the CPU

  torch::manual_seed(8);
  auto labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(8));
  models::Model model(models::SmallCnn(models::SmallCnnOptions().in_channels(3).width(4)).ptr(), models::make_decoder(16, *labels));
  auto on_gpu = models::deep_copy(model, torch::Device(torch::kCUDA));
  const auto ids = torch::randint(0, 4, {24}, gen, torch::kLong);
  const auto heat = analysis::grad_cam(model, images, ids, *labels);
  const auto gpu_heat = analysis::grad_cam(on_gpu, images.cuda(), ids, *labels);
  CATCH_CHECK(gpu_heat.device().is_cuda());
  CATCH_CHECK((gpu_heat.cpu() - heat).abs().max().item<double>() < 1e-3);
  const auto options = analysis::FaithfulnessOptions().fractions({0.0, 0.3, 0.6}).batch_size(10);
  const auto cpu = analysis::cam_faithfulness(model, images, ids, labels, heat, options);
  const auto gpu = analysis::cam_faithfulness(on_gpu, images.cuda(), ids, labels, heat, options);
  for (std::size_t f = 0; f < 3; ++f) {
    // Float rounding may flip an image whose decision is a near tie.
    CATCH_CHECK(std::abs(gpu.most_relevant_first.kept[f] - cpu.most_relevant_first.kept[f]) <= 2.0 / 24 + 1e-12);
    CATCH_CHECK(std::abs(gpu.least_relevant_first.kept[f] - cpu.least_relevant_first.kept[f]) <= 2.0 / 24 + 1e-12);
    CATCH_CHECK(std::abs(gpu.baseline_most_relevant_first.kept[f] - cpu.baseline_most_relevant_first.kept[f]) <= 2.0 / 24 + 1e-12);
    CATCH_CHECK(std::abs(gpu.baseline_least_relevant_first.kept[f] - cpu.baseline_least_relevant_first.kept[f]) <= 2.0 / 24 + 1e-12);
  }
}
