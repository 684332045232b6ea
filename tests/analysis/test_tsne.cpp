// t-SNE: separation of planted clusters (exact and Barnes-Hut), determinism, option checks; scatter plots.
#include "catch.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <string>
#include <vector>

#include "labelrep/analysis/plot.hpp"
#include "labelrep/analysis/tsne.hpp"
#include "labelrep/core/error.hpp"

namespace {
using labelrep::analysis::TsneMethod;
using labelrep::analysis::TsneOptions;

// `clusters` Gaussian clusters of `per_cluster` points in `dim` dimensions: unit spread around centres
// drawn with standard deviation `spread` (so centres lie about spread·√(2·dim) apart).
std::pair<torch::Tensor, torch::Tensor> gaussian_clusters(std::int64_t clusters, std::int64_t per_cluster, std::int64_t dim,
                                                          double spread, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto centres = torch::randn({clusters, dim}, gen, torch::kFloat64) * spread;
  const auto ids = torch::arange(clusters, torch::kLong).repeat_interleave(per_cluster);
  const auto points = centres.index_select(0, ids) + torch::randn({clusters * per_cluster, dim}, gen, torch::kFloat64);
  return {points.to(torch::kFloat32), ids};
}

// Fraction of each point's k nearest embedded neighbours that share its class, averaged.
double knn_purity(const torch::Tensor& xy, const torch::Tensor& ids, std::int64_t k) {
  auto d = torch::cdist(xy, xy);
  d.fill_diagonal_(std::numeric_limits<double>::infinity());
  const auto nearest = std::get<1>(torch::topk(d, k, 1, /*largest=*/false));
  return (ids.index({nearest}) == ids.unsqueeze(1)).to(torch::kFloat64).mean().item<double>();
}

// Smallest distance between two cluster centroids over the largest within-cluster RMS radius.
double centroid_separation(const torch::Tensor& xy, const torch::Tensor& ids, std::int64_t clusters) {
  std::vector<torch::Tensor> centroids;
  double radius = 0;
  for (std::int64_t c = 0; c < clusters; ++c) {
    const auto pts = xy.index({ids == c});
    centroids.push_back(pts.mean(0));
    radius = std::max(radius, (pts - centroids.back()).pow(2).sum(1).mean().sqrt().item<double>());
  }
  const auto cs = torch::stack(centroids);
  auto d = torch::cdist(cs, cs);
  d.fill_diagonal_(std::numeric_limits<double>::infinity());
  return d.min().item<double>() / radius;
}
}  // namespace

CATCH_TEST_CASE("tsne separates Gaussian clusters in 20-D, exact and Barnes-Hut", "[analysis]") {
  const auto [features, ids] = gaussian_clusters(4, 50, 20, 4.0, 7);
  for (const auto method : {TsneMethod::kExact, TsneMethod::kBarnesHut}) {
    CATCH_INFO((method == TsneMethod::kExact ? "exact" : "Barnes-Hut"));
    const auto xy = labelrep::analysis::tsne(features, TsneOptions().perplexity(20).method(method));
    CATCH_REQUIRE(xy.sizes() == torch::IntArrayRef({200, 2}));
    CATCH_CHECK(xy.dtype() == torch::kFloat64);
    CATCH_CHECK(torch::isfinite(xy).all().item<bool>());
    CATCH_CHECK(knn_purity(xy, ids, 10) >= 0.95);
    CATCH_CHECK(centroid_separation(xy, ids, 4) > 2.0);
  }
}

CATCH_TEST_CASE("tsne: Barnes-Hut reaches the exact method's KL divergence, far below the initial one", "[analysis]") {
  const auto [features, ids] = gaussian_clusters(3, 40, 10, 3.0, 11);
  const double perplexity = 15;
  const auto exact = labelrep::analysis::tsne(features, TsneOptions().perplexity(perplexity).method(TsneMethod::kExact));
  const auto bh = labelrep::analysis::tsne(features, TsneOptions().perplexity(perplexity).method(TsneMethod::kBarnesHut));
  const auto start = labelrep::analysis::tsne(features, TsneOptions().perplexity(perplexity).iterations(1).learning_rate(1e-12));
  const double kl_exact = labelrep::analysis::tsne_kl_divergence(features, exact, perplexity);
  const double kl_bh = labelrep::analysis::tsne_kl_divergence(features, bh, perplexity);
  const double kl_start = labelrep::analysis::tsne_kl_divergence(features, start, perplexity);
  CATCH_INFO("KL exact " << kl_exact << ", Barnes-Hut " << kl_bh << ", start " << kl_start);
  CATCH_CHECK(kl_exact < 0.5 * kl_start);
  CATCH_CHECK(kl_bh < 1.25 * kl_exact);
}

CATCH_TEST_CASE("tsne is deterministic for a seed and checks its options", "[analysis]") {
  const auto [features, ids] = gaussian_clusters(2, 20, 5, 3.0, 3);
  const auto opts = TsneOptions().perplexity(5).iterations(300);
  CATCH_CHECK(torch::equal(labelrep::analysis::tsne(features, opts), labelrep::analysis::tsne(features, opts)));
  const auto random = TsneOptions(opts).init(labelrep::analysis::TsneInit::kRandom);
  const auto a = labelrep::analysis::tsne(features, TsneOptions(random).seed(1));
  CATCH_CHECK(torch::equal(a, labelrep::analysis::tsne(features, TsneOptions(random).seed(1))));
  CATCH_CHECK_FALSE(torch::equal(a, labelrep::analysis::tsne(features, TsneOptions(random).seed(2))));
  const auto exact = TsneOptions(opts).method(TsneMethod::kExact);
  CATCH_CHECK(torch::equal(labelrep::analysis::tsne(features, exact), labelrep::analysis::tsne(features, exact)));

  // The global generator is neither used nor disturbed.
  torch::manual_seed(5);
  const auto before = torch::rand({4});
  torch::manual_seed(5);
  labelrep::analysis::tsne(features, TsneOptions(random).seed(9));
  CATCH_CHECK(torch::equal(before, torch::rand({4})));

  const auto small = features.slice(0, 0, 10);  // N = 10: perplexity must be in (0, 3)
  CATCH_CHECK_NOTHROW(labelrep::analysis::tsne(small, TsneOptions().perplexity(2.9).iterations(10)));
  for (double bad : {3.0, 30.0, 0.0, -1.0}) {
    CATCH_INFO("perplexity " << bad);
    CATCH_CHECK_THROWS_AS(labelrep::analysis::tsne(small, TsneOptions().perplexity(bad)), labelrep::InvalidArgument);
    try {
      labelrep::analysis::tsne(small, TsneOptions().perplexity(bad));
    } catch (const labelrep::InvalidArgument& e) {
      CATCH_CHECK(std::string(e.what()).find("perplexity") != std::string::npos);
    }
  }
  CATCH_CHECK_THROWS_AS(labelrep::analysis::tsne(features.flatten(), opts), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::analysis::tsne(torch::ones({40, 3}, torch::kLong), opts), labelrep::InvalidArgument);
  auto with_nan = features.clone();
  with_nan[3][1] = std::numeric_limits<float>::quiet_NaN();
  CATCH_CHECK_THROWS_AS(labelrep::analysis::tsne(with_nan, opts), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::analysis::tsne(features, TsneOptions(opts).theta(1.5)), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::analysis::tsne(features, TsneOptions(opts).iterations(0)), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::analysis::tsne(features, TsneOptions(opts).learning_rate(-1)), labelrep::InvalidArgument);
}

CATCH_TEST_CASE("tsne handles duplicate points and constant features", "[analysis]") {
  // Every point twice: zero distances in the neighbour search and in the quadtree's leaves.
  const auto [base, base_ids] = gaussian_clusters(3, 30, 8, 4.0, 21);
  const auto features = torch::cat({base, base}), ids = torch::cat({base_ids, base_ids});
  for (const auto method : {TsneMethod::kExact, TsneMethod::kBarnesHut}) {
    const auto xy = labelrep::analysis::tsne(features, TsneOptions().perplexity(15).method(method));
    CATCH_CHECK(torch::isfinite(xy).all().item<bool>());
    CATCH_CHECK(knn_purity(xy, ids, 10) >= 0.95);
  }
  const auto constant = labelrep::analysis::tsne(torch::ones({30, 4}), TsneOptions().perplexity(5).iterations(50));
  CATCH_CHECK(torch::isfinite(constant).all().item<bool>());
}

CATCH_TEST_CASE("tsne Barnes-Hut embeds 10,000 points", "[analysis][slow]") {
  const auto [features, ids] = gaussian_clusters(10, 1000, 50, 2.0, 5);
  const auto start = std::chrono::steady_clock::now();
  const auto xy = labelrep::analysis::tsne(features, TsneOptions());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double purity = knn_purity(xy, ids, 10);
  CATCH_WARN("10,000 points, 50-D, perplexity 30, 1000 iterations: " << seconds << " s, 10-NN purity " << purity);
  CATCH_CHECK(purity >= 0.95);
}

CATCH_TEST_CASE("scatter plots colour points by class with a legend", "[analysis]") {
  const auto points = torch::tensor({0.0, 0.0, 1.0, 1.0, 2.0, -1.0}, torch::kFloat64).view({3, 2});
  const auto svg = labelrep::analysis::scatter_by_class(points, torch::tensor({0, 2, 0}), {"cat", "dog & co", "bird"}, "t-SNE").svg();
  CATCH_CHECK(svg.rfind("<svg", 0) == 0);
  CATCH_CHECK(svg.find("</svg>") != std::string::npos);
  CATCH_CHECK(svg.find("cat (2)") != std::string::npos);
  CATCH_CHECK(svg.find("dog &amp; co (0)") != std::string::npos);
  CATCH_CHECK(svg.find("bird (1)") != std::string::npos);
  std::size_t circles = 0;
  for (auto at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) ++circles;
  CATCH_CHECK(circles == 3 + 3);  // three points and three legend markers
  CATCH_CHECK_THROWS_AS(labelrep::analysis::scatter_by_class(points, torch::tensor({0, 3, 0}), {"a", "b", "c"}, "x"),
                        labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(labelrep::analysis::scatter_by_class(points.view({2, 3}), torch::tensor({0, 1}), {"a", "b"}, "x"),
                        labelrep::InvalidArgument);
  labelrep::analysis::ScatterPlot empty("nothing");
  empty.add_group("a");
  CATCH_CHECK_THROWS_AS(empty.svg(), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(empty.add_point(1, 0, 0), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(empty.add_point(0, 0, std::nan("")), labelrep::InvalidArgument);
}

CATCH_TEST_CASE("scatter plots that extend their range to the same area share their axes", "[analysis]") {
  // The first circle drawn is the point (0, 0): the same place in both panels only when they share a range.
  const auto first_circle = [](const labelrep::analysis::ScatterPlot& plot) {
    const auto svg = plot.svg();
    const auto at = svg.find("<circle");
    return svg.substr(at, svg.find("r=", at) - at);
  };
  const auto a = torch::tensor({0.0, 0.0, 1.0, 1.0}, torch::kFloat64).view({2, 2});
  const auto b = torch::tensor({0.0, 0.0, 3.0, -2.0}, torch::kFloat64).view({2, 2});
  auto left = labelrep::analysis::scatter_by_class(a, torch::tensor({0, 1}), {"x", "y"}, "clean");
  auto right = labelrep::analysis::scatter_by_class(b, torch::tensor({0, 1}), {"x", "y"}, "attacked");
  CATCH_CHECK(first_circle(left) != first_circle(right));
  left.extend_range(-5, 5, -5, 5);
  right.extend_range(-5, 5, -5, 5);
  CATCH_CHECK(first_circle(left) == first_circle(right));
  CATCH_CHECK_THROWS_AS(left.extend_range(0, std::nan(""), 0, 1), labelrep::InvalidArgument);
  CATCH_CHECK_THROWS_AS(left.extend_range(1, 0, 0, 1), labelrep::InvalidArgument);
}

CATCH_TEST_CASE("tsne_place puts new points from known clusters into their clusters of a fixed map", "[analysis]") {
  using labelrep::analysis::TsnePlaceOptions;
  // 4 clusters of 75 points: per cluster the first 60 make the map, the last 15 are placed into it.
  const auto [all, all_ids] = gaussian_clusters(4, 75, 20, 4.0, 7);
  const auto position = torch::arange(300, torch::kLong) % 75;
  const auto reference_rows = (position < 60).nonzero().squeeze(1), new_rows = (position >= 60).nonzero().squeeze(1);
  const auto reference = all.index_select(0, reference_rows), fresh = all.index_select(0, new_rows);
  const auto reference_ids = all_ids.index_select(0, reference_rows), new_ids = all_ids.index_select(0, new_rows);
  const auto map = labelrep::analysis::tsne(reference, TsneOptions().perplexity(20).seed(1));
  const auto placed = labelrep::analysis::tsne_place(reference, map, fresh);
  CATCH_REQUIRE(placed.sizes() == torch::IntArrayRef({60, 2}));
  CATCH_CHECK(placed.scalar_type() == torch::kFloat64);

  // Each placed point's nearest map point is of its own cluster, and it lies nearer its own cluster's
  // centroid than any other cluster's.
  const auto nearest = std::get<1>(torch::cdist(placed, map).min(1));
  CATCH_CHECK(torch::equal(reference_ids.index_select(0, nearest), new_ids));
  std::vector<torch::Tensor> centroids;
  for (std::int64_t c = 0; c < 4; ++c) centroids.push_back(map.index({reference_ids == c}).mean(0));
  const auto closest_centroid = std::get<1>(torch::cdist(placed, torch::stack(centroids)).min(1));
  CATCH_CHECK(torch::equal(closest_centroid, new_ids));

  // Points are placed alone: a subset lands exactly where it lands among all of them; no randomness.
  const auto some = labelrep::analysis::tsne_place(reference, map, fresh.slice(0, 10, 15));
  CATCH_CHECK(torch::equal(some, placed.slice(0, 10, 15)));
  CATCH_CHECK(torch::equal(labelrep::analysis::tsne_place(reference, map, fresh), placed));
  // A copy of a map point lands near that point (within 5% of the map's extent): the descent does not wander.
  const auto copies = labelrep::analysis::tsne_place(reference, map, reference.slice(0, 0, 20));
  const double extent = (std::get<0>(map.max(0)) - std::get<0>(map.min(0))).max().item<double>();
  const auto offsets = (copies - map.slice(0, 0, 20)).pow(2).sum(1).sqrt();
  CATCH_INFO("largest offset " << offsets.max().item<double>() << " of a map " << extent << " wide");
  CATCH_CHECK(offsets.max().item<double>() < 0.05 * extent);
  // No new points: an empty result.
  CATCH_CHECK(labelrep::analysis::tsne_place(reference, map, fresh.slice(0, 0, 0)).sizes() == torch::IntArrayRef({0, 2}));

  using labelrep::InvalidArgument;
  const auto place = [&](const torch::Tensor& r, const torch::Tensor& e, const torch::Tensor& f, const TsnePlaceOptions& o) {
    return labelrep::analysis::tsne_place(r, e, f, o);
  };
  const TsnePlaceOptions ok;
  CATCH_CHECK_THROWS_AS(place(reference, map, fresh.slice(1, 0, 19), ok), InvalidArgument);        // 19 features, not 20
  CATCH_CHECK_THROWS_AS(place(reference, map.slice(0, 0, 200), fresh, ok), InvalidArgument);       // 200 map rows, 240 points
  CATCH_CHECK_THROWS_AS(place(reference, torch::cat({map, map.slice(1, 0, 1)}, 1), fresh, ok), InvalidArgument);  // [N, 3]
  auto with_nan = fresh.clone();
  with_nan[0][0] = std::nan("");
  CATCH_CHECK_THROWS_AS(place(reference, map, with_nan, ok), InvalidArgument);
  CATCH_CHECK_THROWS_AS(place(reference, map, fresh.to(torch::kLong), ok), InvalidArgument);
  auto o = ok;
  CATCH_CHECK_THROWS_AS(place(reference, map, fresh, o.perplexity(80)), InvalidArgument);  // N/3 = 80
  o = ok;
  CATCH_CHECK_THROWS_AS(place(reference, map, fresh, o.iterations(0)), InvalidArgument);
  o = ok;
  CATCH_CHECK_THROWS_AS(place(reference, map, fresh, o.learning_rate(0)), InvalidArgument);
}
