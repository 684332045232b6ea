#pragma once
/// \file cam_faithfulness.hpp  Does a saliency map point at what the model uses? Remove the pixels a map
/// ranks highest (or lowest) and watch the model's decision: ROAD, "Remove And Debias" (Rong et al.,
/// ICML 2022), for models trained on any label representation.
///
/// For each image, a fraction f of its pixels (all channels of a pixel together) is removed in the
/// order of its heatmap, and the removed pixels are imputed:
///   - Imputation::kNoisyLinear (ROAD, the default): each removed pixel becomes the weighted mean of its
///     8 neighbours (weight 1/6 for the 4 direct, 1/12 for the 4 diagonal ones; neighbours outside the
///     image left out), solved jointly for all removed pixels of an image and channel — a sparse
///     linear system, solved by preconditioned conjugate gradients in float64 on the images' device —
///     plus Gaussian noise of standard deviation FaithfulnessOptions::noise. Unlike a constant fill,
///     the imputed values do not draw the removal mask's shape into the image, which would tell the
///     model where the map was (the "class information leakage" ROAD removes).
///   - Imputation::kConstant: the removed pixels get FaithfulnessOptions::fill (0 is the training mean
///     for images normalised as labelrep trains them): the classic deletion curve.
/// The model then decodes the imputed images (nearest label, argmax for categorical labels), and a
/// curve is the share of images still decoded as the class the map explains, per fraction:
///   - most relevant first (MoRF): a faithful map's curve falls fast;
///   - least relevant first (LeRF): a faithful map's curve stays up;
///   - the baseline: the same two orders by *another image's* map (image i takes the map of image i + 1,
///     the last the first's). It removes regions shaped like this kind of map (as contiguous, as sparse,
///     where such maps usually are) but chosen without looking at this image. A map that knows where this
///     image's evidence is falls below the baseline's MoRF and stays above its LeRF (beats_baseline).
///     Like for like matters: Grad-CAM's ReLU leaves many zeros, whose ties are broken in a seeded random
///     order, so LeRF first removes scattered pixels, which the imputation fills almost perfectly, while
///     MoRF removes a blob; a map's LeRF − MoRF gap is partly this, whatever the map knows, and the
///     baseline has the same part. (A random pixel order is no baseline for the same reason.)
/// ROAD's combined score is the mean over fractions of (LeRF − MoRF) / 2 (at most 0.5; 0.45 on the
/// default grid, whose fraction 0 adds 0); combined_beyond_baseline() subtracts the baseline's, so it is
/// about 0 for a map that knows nothing about the image, however sparse.
///
/// Example:
/// \code
///   auto heat = labelrep::analysis::grad_cam(model, images, ids, *labels);
///   auto road = labelrep::analysis::cam_faithfulness(model, images, ids, labels, heat);
///   // road.beats_baseline(), road.road_combined(), road.combined_beyond_baseline(),
///   // road.beyond_baseline_interval.low, road.significantly_beats_baseline()
/// \endcode

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <torch/arg.h>
#include <torch/types.h>

#include "labelrep/eval/interval.hpp"
#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/models/model.hpp"

namespace labelrep::analysis {

enum class Imputation { kNoisyLinear, kConstant };

/// "road" (noisy linear) or "constant".
LABELREP_API const char* imputation_name(Imputation imputation);
/// Parses imputation_name()'s strings. Throws InvalidArgument naming the value and the known names.
LABELREP_API Imputation parse_imputation(const std::string& name);

struct LABELREP_API FaithfulnessOptions {
  /// The shares of each image's pixels to remove, strictly increasing, each in [0, 1) and leaving at
  /// least one pixel (round(f·H·W) < H·W: removing every pixel leaves nothing to impute from). 0 gives
  /// the images' own decoding as the curves' start.
  TORCH_ARG(std::vector<double>, fractions) = std::vector<double>{0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  TORCH_ARG(Imputation, imputation) = Imputation::kNoisyLinear;
  /// kNoisyLinear: standard deviation of the noise added to each imputed value, in the images' units
  /// (ROAD's 0.01), ≥ 0.
  TORCH_ARG(double, noise) = 0.01;
  /// kConstant: the value of a removed pixel, finite.
  TORCH_ARG(double, fill) = 0.0;
  /// Seeds the noise and the tie-breaking (the same seed, the same curves).
  TORCH_ARG(std::uint64_t, seed) = 0;
  /// Images per pass, ≥ 1 (each pass holds four imputed copies of them, one per order). The seeds are
  /// drawn per batch: the same seed and batch size give the same curves. Small batches stay in the CPU's
  /// caches (500 Fashion-MNIST images on 2 cores: 13.7 s at 32, 18.2 s at 64, 27.5 s at 256); raise it
  /// on a GPU.
  TORCH_ARG(std::int64_t, batch_size) = 32;
  /// A progress line on stderr while it runs (on a terminal only).
  TORCH_ARG(bool, progress) = false;
};

/// One removal curve: per fraction, the share of images still decoded as the explained class, with its
/// 95% Wilson interval over the images (eval::wilson_interval).
struct LABELREP_API FaithfulnessCurve {
  std::string name;  ///< "most relevant first", "least relevant first", "another image's map, most relevant first", ...
  std::vector<double> fractions, kept, kept_low, kept_high;
  /// The mean of `kept` over the fractions (the area under the curve for an evenly spaced grid).
  double area() const;
};

struct LABELREP_API FaithfulnessResult {
  std::int64_t images = 0;
  Imputation imputation = Imputation::kNoisyLinear;
  FaithfulnessCurve most_relevant_first, least_relevant_first;
  /// The same orders by another image's map.
  FaithfulnessCurve baseline_most_relevant_first, baseline_least_relevant_first;
  /// ROAD's combined score: the mean over fractions of (LeRF − MoRF) / 2, in [−0.5, 0.5].
  double road_combined() const;
  /// The same for the baseline's two curves.
  double baseline_road_combined() const;
  /// road_combined() − baseline_road_combined(): what the map knows about each image beyond what a map
  /// of its kind shows anyway.
  double combined_beyond_baseline() const;
  /// MoRF's area below the baseline's MoRF, and LeRF's above the baseline's LeRF: the map knows where
  /// this image's evidence is, better than a map of another image.
  bool beats_baseline() const;
  /// Per image (in the input's order): the mean over fractions of (LeRF − MoRF) / 2 by its own map and
  /// by the baseline's. Their means are road_combined() and baseline_road_combined().
  std::vector<double> image_combined, image_baseline_combined;
  /// The 95% interval of combined_beyond_baseline() (its `mean`): a percentile bootstrap of the
  /// per-image differences image_combined − image_baseline_combined (paired: each image is compared
  /// with itself), 10,000 resamples seeded by FaithfulnessOptions::seed. It says whether a gap is more
  /// than the luck of which images were checked.
  eval::MeanInterval beyond_baseline_interval;
  /// beats_baseline(), and the interval of the gap lies above 0: the map beats the baseline by more than
  /// the sample of images explains.
  bool significantly_beats_baseline() const;
};

/// Checks options as cam_faithfulness does, before any work: throws InvalidArgument naming the option.
LABELREP_API void check_faithfulness_options(const FaithfulnessOptions& options);

/// Removes and imputes the pixels of each image in the order of `heatmaps`, and decodes the result.
/// requires: images `[N, C, H, W]` floating point and finite, N ≥ 2 (the baseline takes another
/// image's map), prepared as the model was
/// trained, on the model's device; class_ids `[N]` integer in [0, labels->num_classes()) (the class each map explains: the true
/// or the predicted one); heatmaps `[N, H, W]` real and finite (any scale: only their order counts), any
/// device; a model whose outputs have the labels' shape.
/// ensures: four curves over options.fractions(); the model's mode and its parameters' `.grad` are
/// unchanged; the same inputs and seed give the same result on the same device.
/// throws: InvalidArgument naming the argument for other shapes, dtypes, ids, a null label set, bad
/// options (check_faithfulness_options) or a fraction that removes every pixel of these images;
/// TorchError / OutOfMemory from libtorch.
LABELREP_API FaithfulnessResult cam_faithfulness(models::Model& model, const torch::Tensor& images, const torch::Tensor& class_ids,
                                                 std::shared_ptr<const labels::LabelRepresentation> labels, const torch::Tensor& heatmaps,
                                                 const FaithfulnessOptions& options = {});

/// ROAD's noisy linear imputation of the pixels marked in `removed`: the values that make each removed
/// pixel the weighted mean of its in-image neighbours (1/6 direct, 1/12 diagonal), plus Gaussian noise
/// of standard deviation `noise` drawn from `seed`; the other pixels are returned unchanged.
/// requires: images `[N, C, H, W]` floating point and finite; removed `[N, H, W]` bool on any device,
/// leaving at least one pixel of every image; noise ≥ 0 and finite.
/// ensures: a tensor like `images` (dtype, device); kept pixels bit-identical; with noise 0, an image
/// that is linear in the row and column around a removed hole away from the border is reproduced.
/// throws: InvalidArgument naming the argument; InternalError if the solver does not converge.
LABELREP_API torch::Tensor impute_noisy_linear(const torch::Tensor& images, const torch::Tensor& removed, double noise = 0.01,
                                               std::uint64_t seed = 0);

}  // namespace labelrep::analysis
