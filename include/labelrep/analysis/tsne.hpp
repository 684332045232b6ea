#pragma once
/// \file tsne.hpp  t-SNE embeddings of feature vectors (van der Maaten & Hinton 2008; Barnes-Hut:
/// van der Maaten 2014), for the paper's feature-space figures.
///
/// Two methods share one optimiser:
///   - kExact: dense input affinities P and the exact O(N²) gradient — for a few thousand points;
///   - kBarnesHut: P on the ⌊3·perplexity⌋ nearest neighbours and a 2-D quadtree for the repulsive
///     forces (a cell of width w at distance d is summarised when w/d < θ) — for 10,000 points and more.
/// The schedule is the standard one (sklearn, bhtsne): early exaggeration 12 for the first 250
/// iterations with momentum 0.5, then momentum 0.8; per-coordinate gains (+0.2 / ×0.8, at least 0.01);
/// learning rate max(N / 12 / 4, 50) unless given; 1000 iterations. The initial embedding is the
/// first two principal components scaled to a standard deviation of 1e-4 (or, with TsneInit::kRandom,
/// N(0, 1e-4²) draws from a generator seeded by `seed`). Nothing draws from a global generator; the
/// same input and options give the same output bit for bit (the per-point work may run on libtorch's
/// intra-op threads, but every sum is formed in a fixed order).
///
/// Example:
/// \code
///   torch::Tensor features = model->features(images);          // [N, 64]
///   torch::Tensor xy = labelrep::analysis::tsne(features, labelrep::analysis::TsneOptions().perplexity(30).seed(1));
///   // xy: [N, 2] float64
/// \endcode

#include <cstdint>
#include <string>
#include <torch/arg.h>
#include <torch/types.h>

#include "labelrep/export.hpp"

namespace labelrep::analysis {

enum class TsneMethod { kExact, kBarnesHut };
enum class TsneInit { kPca, kRandom };

struct LABELREP_API TsneOptions {
  /// Effective number of neighbours; requires 0 < perplexity < (N − 1) / 3.
  TORCH_ARG(double, perplexity) = 30.0;
  /// Gradient-descent iterations (≥ 1), the early-exaggeration ones included.
  TORCH_ARG(std::int64_t, iterations) = 1000;
  /// 0: automatic, max(N / early_exaggeration / 4, 50). Otherwise > 0.
  TORCH_ARG(double, learning_rate) = 0.0;
  TORCH_ARG(double, early_exaggeration) = 12.0;
  /// Iterations with exaggerated P and momentum 0.5 (the rest use momentum 0.8); ≥ 0.
  TORCH_ARG(std::int64_t, exaggeration_iterations) = 250;
  TORCH_ARG(TsneMethod, method) = TsneMethod::kBarnesHut;
  /// Barnes-Hut accuracy, in [0, 1]: 0 visits every point (exact forces, slow); 0.5 is the usual choice.
  TORCH_ARG(double, theta) = 0.5;
  TORCH_ARG(TsneInit, init) = TsneInit::kPca;
  /// Seeds the random initialisation (TsneInit::kRandom, or the PCA fallback for constant features).
  TORCH_ARG(std::uint64_t, seed) = 0;
  /// Non-empty: while optimising, a progress line with this label, iterations, rate and time left on
  /// stderr when it is a terminal (core/progress.hpp); nothing otherwise. Changes no result.
  TORCH_ARG(std::string, progress_label) = "";
};

/// Embeds `features` in two dimensions.
/// requires: features `[N, D]`, floating point, finite, on any device (they are copied to the CPU as
/// float64); N ≥ 2 and 0 < perplexity < (N − 1)/3; iterations ≥ 1; exaggeration_iterations ≥ 0;
/// early_exaggeration > 0; learning_rate ≥ 0; theta in [0, 1].
/// ensures: a `[N, 2]` float64 CPU tensor; row i is the position of feature row i.
/// throws: InvalidArgument naming the option or argument (e.g. "perplexity 30 must be below (N − 1)/3
/// = 3 for N = 10 points") when a requirement fails, and when the optimisation diverges (positions
/// that are no longer finite: lower the learning rate).
/// thread-safety: reentrant; uses libtorch's intra-op thread pool for the per-point work.
LABELREP_API torch::Tensor tsne(const torch::Tensor& features, const TsneOptions& options = {});

/// The Kullback-Leibler divergence KL(P‖Q) of an embedding with the exact (dense) P of `features` at
/// this perplexity: the quantity t-SNE minimises, to compare embeddings. O(N²) memory and time.
/// requires: as tsne(), and embedding `[N, 2]` finite. throws: InvalidArgument otherwise.
LABELREP_API double tsne_kl_divergence(const torch::Tensor& features, const torch::Tensor& embedding, double perplexity);

/// Options of tsne_place.
struct LABELREP_API TsnePlaceOptions {
  /// Effective number of reference neighbours of each new point; requires 0 < perplexity < N_ref / 3.
  /// Lower than a map's usual 30 (as openTSNE's transform): a new point should follow its closest
  /// references, not the average of a wide neighbourhood.
  TORCH_ARG(double, perplexity) = 5.0;
  /// Gradient-descent iterations per point (≥ 1): momentum 0.5 for the first 50, then 0.8, with the
  /// per-coordinate gains of tsne().
  TORCH_ARG(std::int64_t, iterations) = 250;
  /// Step size (> 0). Each point's gradient is 2 Σ_j (p_j − q_j)(y − y_j)/(1 + |y − y_j|²), at most
  /// about 1 in size, so steps of about a map unit.
  TORCH_ARG(double, learning_rate) = 1.0;
  /// Non-empty: a progress line with this label on a terminal (core/progress.hpp). Changes no result.
  TORCH_ARG(std::string, progress_label) = "";
};

/// Places new points into an existing t-SNE map without moving it (out-of-sample t-SNE, as openTSNE's
/// transform): e.g. the test set into a training-set map, or adversarial images into the map of the
/// clean ones. For each new point alone: p_j over its ⌊3·perplexity⌋ + 1 nearest reference features
/// (perplexity-calibrated, as tsne()), a start at the p-weighted mean of their map positions, then
/// gradient descent on KL(p‖q) with q_j ∝ (1 + |y − y_j|²)⁻¹ over all reference positions (exact,
/// O(N_ref) per point and iteration). New points do not interact: a point lands in the same place
/// whatever else is placed with it. Deterministic (no random draws; per-point work on libtorch's
/// intra-op threads, each sum in a fixed order).
/// requires: reference_features `[N, D]` and new_features `[M, D]` (M ≥ 0) floating point and finite;
/// reference_embedding `[N, 2]` finite (tsne()'s output for reference_features, or any map of them);
/// N ≥ 2; options as documented. ensures: `[M, 2]` float64 on the CPU, row i the position of new row i.
/// throws: InvalidArgument naming the argument or option when a requirement fails, and when the
/// descent diverges (positions no longer finite: lower the learning rate).
LABELREP_API torch::Tensor tsne_place(const torch::Tensor& reference_features, const torch::Tensor& reference_embedding,
                                      const torch::Tensor& new_features, const TsnePlaceOptions& options = {});

}  // namespace labelrep::analysis
