// The nearest-neighbour evaluator against a brute-force, one-sample-at-a-time implementation.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>

#include "labelrep/core/error.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/kinds.hpp"

using namespace labelrep;

namespace {
// The obvious implementation: for each output, the class with the smallest mean squared error, in double.
std::vector<std::int64_t> brute_force_predict(const torch::Tensor& outputs, const torch::Tensor& labels) {
  std::vector<std::int64_t> predicted;
  for (std::int64_t i = 0; i < outputs.size(0); ++i) {
    double best = INFINITY;
    std::int64_t best_class = -1;
    for (std::int64_t c = 0; c < labels.size(0); ++c) {
      const double d = (outputs[i].to(torch::kDouble) - labels[c].to(torch::kDouble)).pow(2).mean().item<double>();
      if (d < best) best = d, best_class = c;
    }
    predicted.push_back(best_class);
  }
  return predicted;
}
}  // namespace

CATCH_TEST_CASE("nearest-label prediction equals brute force, for matrix and vector labels", "[eval]") {
  torch::manual_seed(11);
  for (const bool vectors : {false, true}) {
    std::shared_ptr<const labels::LabelRepresentation> set;
    if (vectors) set = std::make_shared<const labels::LowDimLabels>(labels::LowDimLabelsOptions(7).dimension(5).seed(2));
    else set = std::make_shared<const labels::UniformLabels>(labels::UniformLabelsOptions(7).height(16).width(16).seed(2));
    const eval::NearestNeighborEvaluator evaluator(set);
    // Outputs near random labels plus noise, and some far away; speech-like offsets (−80..0) too.
    for (const double offset : {0.0, -80.0}) {
      const auto ids = torch::randint(0, 7, {200}, torch::kLong);
      auto outputs = set->targets(ids) + offset + 25.0 * torch::randn(set->targets(ids).sizes());
      const auto predicted = evaluator.predict(outputs - offset);
      const auto expected = brute_force_predict(outputs - offset, set->matrix());
      CATCH_REQUIRE(predicted.size(0) == 200);
      for (std::int64_t i = 0; i < 200; ++i) CATCH_CHECK(predicted[i].item<std::int64_t>() == expected[static_cast<std::size_t>(i)]);
      // distances() agrees with the brute-force mean squared error.
      const auto d = evaluator.distances(outputs.slice(0, 0, 3));
      for (std::int64_t c = 0; c < 7; ++c)
        CATCH_CHECK(d[1][c].item<double>() ==
                    labelrep_test::Approx(((outputs[1] - set->matrix()[c]).pow(2).mean()).item<double>()).epsilon(1e-4));
    }
  }
}

CATCH_TEST_CASE("labels with a large common offset and tiny differences decode correctly", "[eval]") {
  // Speech labels sit in [−80, 0]; classes here differ by 0.05 on top of −40.
  auto base = -40.0 + torch::zeros({3, 64, 64});
  base[1] += 0.05;
  base[2] -= 0.05;
  struct Set final : labels::LabelRepresentation {
    explicit Set(torch::Tensor m) : LabelRepresentation(std::move(m), [] { labels::LabelMetadata md; md.kind = "test"; return md; }()) {}
  };
  const auto set = std::make_shared<const Set>(base);
  const eval::NearestNeighborEvaluator evaluator(set);
  const auto outputs = torch::stack({base[0] + 0.02, base[1] - 0.02, base[2] + 0.02});
  const auto predicted = evaluator.predict(outputs);
  CATCH_CHECK(predicted[0].item<std::int64_t>() == 0);
  CATCH_CHECK(predicted[1].item<std::int64_t>() == 1);
  CATCH_CHECK(predicted[2].item<std::int64_t>() == 2);
}

CATCH_TEST_CASE("categorical labels decode by argmax and have no threshold metric", "[eval]") {
  const auto set = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(4));
  const eval::NearestNeighborEvaluator evaluator(set);
  const auto logits = torch::tensor({{0.1f, 2.0f, 0.0f, -1.0f}, {5.0f, 1.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 3.0f}});
  const auto predicted = evaluator.predict(logits);
  CATCH_CHECK(predicted.equal(torch::tensor({1, 0, 3}, torch::kLong)));
  const auto r = evaluator.tally(logits, torch::tensor({1, 2, 3}, torch::kLong)).result();
  CATCH_CHECK(r.accuracy == labelrep_test::Approx(2.0 / 3.0));
  CATCH_CHECK_FALSE(r.has_threshold);
  CATCH_CHECK_THROWS_AS(evaluator.within_threshold(logits, torch::tensor({1, 2, 3}, torch::kLong)), InvalidArgument);
}

CATCH_TEST_CASE("threshold rule: mean smooth-L1 to the true label below 3.5", "[eval]") {
  const auto set = std::make_shared<const labels::ConstantLabels>(labels::ConstantLabelsOptions(3).size(4).value_range(80));
  const eval::NearestNeighborEvaluator evaluator(set);
  // Class 1 is all 40. Offsets of 3.9 (smooth-L1 3.4 → inside) and 4.1 (3.6 → outside); 0.5 → 0.125.
  const auto outputs = torch::stack({torch::full({4, 4}, 43.9), torch::full({4, 4}, 44.1), torch::full({4, 4}, 40.5)});
  const auto ids = torch::tensor({1, 1, 1}, torch::kLong);
  const auto hits = evaluator.within_threshold(outputs, ids);
  CATCH_CHECK(hits.equal(torch::tensor({true, false, true})));
  const auto r = evaluator.tally(outputs, ids).result();
  CATCH_CHECK(r.threshold_accuracy == labelrep_test::Approx(2.0 / 3.0));
  CATCH_CHECK(r.threshold == 3.5);
  CATCH_CHECK(r.range_max == 80.0);
  const eval::NearestNeighborEvaluator strict(set, eval::NearestNeighborOptions().threshold(0.1));
  CATCH_CHECK(strict.within_threshold(outputs, ids).sum().item<std::int64_t>() == 0);
  CATCH_CHECK_THROWS_AS(eval::NearestNeighborEvaluator(set, eval::NearestNeighborOptions().threshold(0)), InvalidArgument);
}

CATCH_TEST_CASE("tallies add up over batches: accuracy, per-class accuracy, confusion", "[eval]") {
  torch::manual_seed(5);
  const auto set = std::make_shared<const labels::UniformLabels>(labels::UniformLabelsOptions(5).height(8).width(8).seed(1));
  const eval::NearestNeighborEvaluator evaluator(set);
  const auto ids = torch::randint(0, 5, {300}, torch::kLong);
  const auto outputs = set->targets(ids) + 30.0 * torch::randn({300, 8, 8});
  torch::Tensor decided;
  const auto whole = evaluator.tally(outputs, ids, &decided).result();
  CATCH_CHECK(torch::equal(decided, evaluator.predict(outputs)));  // the tally's own decisions, handed out
  eval::EvaluationTally sum(5);
  for (int b = 0; b < 300; b += 64) sum += evaluator.tally(outputs.slice(0, b, b + 64), ids.slice(0, b, b + 64));
  const auto batched = sum.result();
  CATCH_CHECK(batched.count == 300);
  CATCH_CHECK(batched.accuracy == whole.accuracy);
  CATCH_CHECK(torch::equal(batched.confusion, whole.confusion));
  const auto predicted = brute_force_predict(outputs, set->matrix());
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < 300; ++i) correct += predicted[static_cast<std::size_t>(i)] == ids[i].item<std::int64_t>();
  CATCH_CHECK(whole.accuracy == labelrep_test::Approx(static_cast<double>(correct) / 300.0));
  CATCH_CHECK(whole.confusion.sum().item<std::int64_t>() == 300);
  for (std::int64_t c = 0; c < 5; ++c) {
    const auto row = whole.confusion[c];
    CATCH_CHECK(whole.per_class_accuracy[static_cast<std::size_t>(c)] ==
                labelrep_test::Approx(row[c].item<double>() / row.sum().item<double>()));
  }
  CATCH_CHECK_THROWS_AS(eval::EvaluationTally(5).result(), InvalidArgument);
}

CATCH_TEST_CASE("the evaluator names wrong shapes, dtypes and ids", "[eval]") {
  const auto set = std::make_shared<const labels::UniformLabels>(labels::UniformLabelsOptions(5).height(8).width(8));
  const eval::NearestNeighborEvaluator evaluator(set);
  try {
    evaluator.predict(torch::zeros({2, 8, 9}));
    CATCH_FAIL("wrong shape accepted");
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("outputs has shape [2, 8, 9]") != std::string::npos);
  }
  CATCH_CHECK_THROWS_AS(evaluator.predict(torch::zeros({2, 64})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(evaluator.predict(torch::zeros({2, 8, 8}, torch::kLong)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(evaluator.tally(torch::zeros({2, 8, 8}), torch::tensor({0, 1, 2}, torch::kLong)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(evaluator.tally(torch::zeros({2, 8, 8}), torch::tensor({0, 5}, torch::kLong)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(evaluator.tally(torch::zeros({2, 8, 8}), torch::tensor({0.0f, 1.0f})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(eval::NearestNeighborEvaluator(nullptr), InvalidArgument);
}
