#include "labelrep/analysis/cam_faithfulness.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "labelrep/core/error.hpp"
#include "labelrep/core/progress.hpp"
#include "labelrep/eval/interval.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "core/boundary.hpp"
#include "core/eval_mode_guard.hpp"
#include "core/seed_mix.hpp"

namespace labelrep::analysis {
namespace {

using torch::indexing::Slice;

// A map's two removal orders (the baseline takes both by the next image's map).
enum class RemovalOrder { kMostRelevantFirst, kLeastRelevantFirst };

// The streams of FaithfulnessOptions::seed: the tie-breaking order and, per fraction, the noise.
constexpr std::uint64_t kOrderStream = 0x6f72646572ULL;
constexpr std::uint64_t kNoiseStream = 0x726f6164ULL;
// The bootstrap's resampling draws from a stream of its own, apart from the order and the noise.
constexpr std::uint64_t kBootstrapStream = 0x626f6f74ULL;
// Enough that the interval's ends move by well under 0.001 from one seed to another.
constexpr std::int64_t kBootstrapResamples = 10000;

// Σ over the 8 neighbours of w·v (w = 1/6 direct, 1/12 diagonal; outside the image counts as 0) for
// v `[B, 1, H, W]`: shifted slices of the zero-padded map, elementwise on any device.
torch::Tensor neighbour_sum(const torch::Tensor& v) {
  const auto h = v.size(2), w = v.size(3);
  const auto p = torch::constant_pad_nd(v, {1, 1, 1, 1}, 0.0);
  const auto at = [&](std::int64_t dy, std::int64_t dx) { return p.index({Slice(), Slice(), Slice(1 + dy, 1 + dy + h), Slice(1 + dx, 1 + dx + w)}); };
  const auto direct = at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1);
  const auto diagonal = at(-1, -1) + at(-1, 1) + at(1, -1) + at(1, 1);
  return direct / 6.0 + diagonal / 12.0;
}

torch::Tensor per_sample_sum(const torch::Tensor& v) { return v.sum({1, 2, 3}, /*keepdim=*/true); }

// The noiseless linear imputation, float64 `[B, 1, H, W]`: for the unknown pixels u (1 where removed),
// the y with  Wᵢ·yᵢ − Σ_{j unknown} wᵢⱼ·yⱼ = Σ_{k known} wᵢₖ·xₖ  (Wᵢ the sum of i's in-image neighbour
// weights), i.e. each removed pixel the weighted mean of its neighbours. The matrix is symmetric, and
// positive definite whenever every image keeps a pixel (each connected hole then borders a kept pixel),
// so conjugate gradients with the diagonal Wᵢ as preconditioner solve it, all images at once.
torch::Tensor linear_imputation(const torch::Tensor& x, const torch::Tensor& unknown) {
  const auto known = 1.0 - unknown;
  const auto weight_sum = neighbour_sum(torch::ones({1, 1, x.size(2), x.size(3)}, x.options()));
  const auto inverse_diagonal = unknown / weight_sum.clamp_min(1e-300);
  const auto apply = [&](const torch::Tensor& y) { return (weight_sum * y - neighbour_sum(y)) * unknown; };
  const auto b = neighbour_sum(x * known) * unknown;
  auto y = b * inverse_diagonal;
  auto r = b - apply(y);
  auto z = r * inverse_diagonal;
  auto p = z.clone();
  auto rz = per_sample_sum(r * z);
  const auto b_norm = per_sample_sum(b * b).sqrt();
  // Exact arithmetic ends after at most one step per unknown; rounding needs a few more.
  const std::int64_t max_steps = x.size(2) * x.size(3) + 100;
  for (std::int64_t step = 0;; ++step) {
    // The check syncs with the device, so it runs every 8 steps.
    if (step % 8 == 0 && (per_sample_sum(r * r).sqrt() <= 1e-10 * b_norm + 1e-300).all().item<bool>()) break;
    if (step >= max_steps)
      throw InternalError(fmt::format("impute_noisy_linear: conjugate gradients did not converge in {} steps", max_steps));
    const auto ap = apply(p);
    const auto curvature = per_sample_sum(p * ap);
    const auto alpha = torch::where(curvature > 0, rz / curvature.clamp_min(1e-300), torch::zeros_like(rz));
    y = y + alpha * p;
    r = r - alpha * ap;
    z = r * inverse_diagonal;
    const auto rz_next = per_sample_sum(r * z);
    const auto beta = torch::where(rz > 0, rz_next / rz.clamp_min(1e-300), torch::zeros_like(rz));
    p = z + beta * p;
    rz = rz_next;
  }
  return y;
}

// Standard normal noise `sizes`, float64 on the CPU, from its own generator.
torch::Tensor seeded_normal(torch::IntArrayRef sizes, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randn(sizes, generator, torch::kFloat64);
}

// Imputes the pixels of `removed` `[B, H, W]` (bool, on the images' device) in images `[B, C, H, W]`;
// `noise` (float64 `[B, C, H, W]`, already scaled) is added to the linear imputation.
torch::Tensor impute(const torch::Tensor& images, const torch::Tensor& removed, Imputation imputation, double fill, const torch::Tensor& noise) {
  const auto mask = removed.unsqueeze(1).expand_as(images);
  if (imputation == Imputation::kConstant) return torch::where(mask, torch::full_like(images, fill), images);
  const auto b = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto x = images.to(torch::kFloat64).reshape({b * c, 1, h, w});
  const auto unknown = mask.to(torch::kFloat64).reshape({b * c, 1, h, w});
  auto filled = linear_imputation(x, unknown).reshape({b, c, h, w});
  if (noise.defined()) filled = filled + noise.to(filled.device());
  return torch::where(mask, filled.to(images.dtype()), images);
}

void check_images(const torch::Tensor& images, const char* where) {
  if (!images.defined() || images.dim() != 4 || !torch::isFloatingType(images.scalar_type()))
    throw InvalidArgument(fmt::format("{}: images must be a floating-point tensor [N, C, H, W]", where));
  if (images.size(2) < 1 || images.size(3) < 1)
    throw InvalidArgument(fmt::format("{}: images [{}] have no pixels", where, fmt::join(images.sizes(), ", ")));
}

// Each image's pixels (flattened, `[B, H·W]` int64) in removal order. Ties in the heatmap keep the order
// of `shuffle` (a random permutation per image).
torch::Tensor removal_order(const torch::Tensor& heat, const torch::Tensor& shuffle, RemovalOrder order) {
  const auto shuffled_heat = heat.gather(1, shuffle);
  const auto sorted = std::get<1>(torch::sort(shuffled_heat, /*stable=*/true, /*dim=*/1, /*descending=*/order == RemovalOrder::kMostRelevantFirst));
  return shuffle.gather(1, sorted);
}

}  // namespace

void check_faithfulness_options(const FaithfulnessOptions& o) {
  if (o.fractions().empty()) throw InvalidArgument("cam_faithfulness: fractions must not be empty");
  for (std::size_t i = 0; i < o.fractions().size(); ++i) {
    const double f = o.fractions()[i];
    if (!(f >= 0.0 && f < 1.0)) throw InvalidArgument(fmt::format("cam_faithfulness: fraction {} must be in [0, 1)", f));
    if (i > 0 && !(f > o.fractions()[i - 1]))
      throw InvalidArgument(fmt::format("cam_faithfulness: fractions must increase strictly, got [{}]", fmt::join(o.fractions(), ", ")));
  }
  if (o.imputation() != Imputation::kNoisyLinear && o.imputation() != Imputation::kConstant)
    throw InvalidArgument(fmt::format("cam_faithfulness: unknown imputation {}", static_cast<int>(o.imputation())));
  if (!(std::isfinite(o.noise()) && o.noise() >= 0.0))
    throw InvalidArgument(fmt::format("cam_faithfulness: noise {} must be finite and at least 0", o.noise()));
  if (!std::isfinite(o.fill())) throw InvalidArgument(fmt::format("cam_faithfulness: fill {} must be finite", o.fill()));
  if (o.batch_size() < 1) throw InvalidArgument(fmt::format("cam_faithfulness: batch_size {} must be at least 1", o.batch_size()));
}

const char* imputation_name(Imputation imputation) {
  switch (imputation) {
    case Imputation::kNoisyLinear: return "road";
    case Imputation::kConstant: return "constant";
  }
  return "unknown";
}

Imputation parse_imputation(const std::string& name) {
  for (const auto imputation : {Imputation::kNoisyLinear, Imputation::kConstant})
    if (name == imputation_name(imputation)) return imputation;
  throw InvalidArgument(fmt::format("unknown imputation '{}' (expected road or constant)", name));
}

double FaithfulnessCurve::area() const {
  if (kept.empty()) return std::nan("");
  double sum = 0;
  for (double k : kept) sum += k;
  return sum / static_cast<double>(kept.size());
}

namespace {
// The mean over fractions of (LeRF − MoRF) / 2.
double combined(const FaithfulnessCurve& morf, const FaithfulnessCurve& lerf) {
  if (morf.kept.empty() || morf.kept.size() != lerf.kept.size()) return std::nan("");
  double sum = 0;
  for (std::size_t i = 0; i < morf.kept.size(); ++i) sum += (lerf.kept[i] - morf.kept[i]) / 2.0;
  return sum / static_cast<double>(morf.kept.size());
}
}  // namespace

double FaithfulnessResult::road_combined() const { return combined(most_relevant_first, least_relevant_first); }

double FaithfulnessResult::baseline_road_combined() const { return combined(baseline_most_relevant_first, baseline_least_relevant_first); }

double FaithfulnessResult::combined_beyond_baseline() const { return road_combined() - baseline_road_combined(); }

bool FaithfulnessResult::beats_baseline() const {
  return most_relevant_first.area() < baseline_most_relevant_first.area() && least_relevant_first.area() > baseline_least_relevant_first.area();
}

bool FaithfulnessResult::significantly_beats_baseline() const { return beats_baseline() && beyond_baseline_interval.low > 0.0; }

torch::Tensor impute_noisy_linear(const torch::Tensor& images, const torch::Tensor& removed, double noise, std::uint64_t seed) try {
  check_images(images, "impute_noisy_linear");
  const auto n = images.size(0), h = images.size(2), w = images.size(3);
  if (!removed.defined() || removed.scalar_type() != torch::kBool || removed.sizes() != torch::IntArrayRef({n, h, w}))
    throw InvalidArgument(fmt::format("impute_noisy_linear: removed must be a bool tensor [{}, {}, {}] (one mask per image)", n, h, w));
  if (!(std::isfinite(noise) && noise >= 0.0))
    throw InvalidArgument(fmt::format("impute_noisy_linear: noise {} must be finite and at least 0", noise));
  if (n == 0) return images.clone();
  const auto mask = removed.to(images.device());
  const auto full = mask.flatten(1).all(1);
  if (full.any().item<bool>())
    throw InvalidArgument(fmt::format("impute_noisy_linear: removed marks every pixel of image {}; keep at least one to impute from",
                                      full.to(torch::kLong).argmax().item<std::int64_t>()));
  if (!torch::isfinite(images).all().item<bool>()) throw InvalidArgument("impute_noisy_linear: images must be finite (found NaN or infinity)");
  torch::NoGradGuard no_grad;
  const auto scaled_noise = noise > 0 ? seeded_normal(images.sizes(), seed) * noise : torch::Tensor();
  return impute(images.detach(), mask, Imputation::kNoisyLinear, 0.0, scaled_noise);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("impute_noisy_linear");
}

FaithfulnessResult cam_faithfulness(models::Model& model, const torch::Tensor& images, const torch::Tensor& class_ids,
                                    std::shared_ptr<const labels::LabelRepresentation> labels, const torch::Tensor& heatmaps,
                                    const FaithfulnessOptions& options) try {
  if (model.is_empty()) throw InvalidArgument("cam_faithfulness: model is empty");
  if (!labels) throw InvalidArgument("cam_faithfulness: labels is null");
  check_faithfulness_options(options);
  check_images(images, "cam_faithfulness");
  if (images.size(0) < 2)
    throw InvalidArgument(fmt::format("cam_faithfulness: images has {} image(s); give at least two (the baseline takes another image's map)",
                                      images.size(0)));
  const std::int64_t n = images.size(0), height = images.size(2), width = images.size(3), pixels = height * width;
  if (!class_ids.defined() || class_ids.dim() != 1 || class_ids.size(0) != n || torch::isFloatingType(class_ids.scalar_type()) ||
      class_ids.scalar_type() == torch::kBool)
    throw InvalidArgument(fmt::format("cam_faithfulness: class_ids must be an integer tensor [{}] (one class per image)", n));
  {
    const auto low = class_ids.min().item<std::int64_t>(), high = class_ids.max().item<std::int64_t>();
    if (low < 0 || high >= labels->num_classes())
      throw InvalidArgument(fmt::format("cam_faithfulness: class_ids must be in [0, {}), got {}", labels->num_classes(), low < 0 ? low : high));
  }
  if (!heatmaps.defined() || heatmaps.sizes() != torch::IntArrayRef({n, height, width}) || heatmaps.scalar_type() == torch::kBool ||
      heatmaps.is_complex())
    throw InvalidArgument(fmt::format("cam_faithfulness: heatmaps must be a real tensor [{}, {}, {}] (one map per image, the images' size)", n,
                                      height, width));
  if (!torch::isfinite(heatmaps).all().item<bool>()) throw InvalidArgument("cam_faithfulness: heatmaps must be finite");
  if (!torch::isfinite(images).all().item<bool>()) throw InvalidArgument("cam_faithfulness: images must be finite (found NaN or infinity)");

  const auto& fractions = options.fractions();
  for (const double f : fractions)
    if (std::llround(f * static_cast<double>(pixels)) >= pixels)
      throw InvalidArgument(fmt::format("cam_faithfulness: fraction {} removes every pixel of a {}x{} image; keep at least one", f, height, width));
  // The orders: the map's MoRF and LeRF, then the same by the baseline's maps.
  constexpr std::size_t kOrders = 4;
  // Per order and fraction: the images still decoded as their class.
  std::vector<std::vector<std::int64_t>> kept(kOrders, std::vector<std::int64_t>(fractions.size(), 0));
  // Per order and image: the fractions at which it was still decoded as its class.
  auto image_hits = torch::zeros({static_cast<std::int64_t>(kOrders), n}, torch::kLong);
  // The baseline's maps: image i takes the map of image i + 1 (the last the first's).
  const auto other_maps = heatmaps.roll(/*shifts=*/-1, /*dims=*/0);

  detail::EvalModeGuard eval_mode(*model);
  torch::NoGradGuard no_grad;
  const eval::NearestNeighborEvaluator evaluator(std::move(labels));
  const auto device = images.device();
  std::optional<ProgressLine> progress;
  if (options.progress()) progress.emplace("ROAD", n * static_cast<std::int64_t>(fractions.size()), "image fractions");
  for (std::int64_t begin = 0; begin < n; begin += options.batch_size()) {
    const std::int64_t end = std::min(n, begin + options.batch_size()), b = end - begin;
    const auto x = images.slice(0, begin, end).detach();
    const auto ids = class_ids.slice(0, begin, end).to(device, torch::kLong);
    const auto flat = [&](const torch::Tensor& maps) { return maps.slice(0, begin, end).detach().to(torch::kCPU, torch::kFloat64).reshape({b, pixels}); };
    const auto batch_seed = detail::mix_seed(options.seed(), static_cast<std::uint64_t>(begin));
    auto generator = at::make_generator<at::CPUGeneratorImpl>(detail::mix_seed(batch_seed, kOrderStream));
    const auto shuffle = torch::rand({b, pixels}, generator, torch::kFloat64).argsort(/*dim=*/std::int64_t{1}, /*descending=*/false);
    const auto own = flat(heatmaps), other = flat(other_maps);
    const torch::Tensor sequences[kOrders] = {removal_order(own, shuffle, RemovalOrder::kMostRelevantFirst),
                                              removal_order(own, shuffle, RemovalOrder::kLeastRelevantFirst),
                                              removal_order(other, shuffle, RemovalOrder::kMostRelevantFirst),
                                              removal_order(other, shuffle, RemovalOrder::kLeastRelevantFirst)};
    // Each pixel's position in each order, `[4·B, H·W]`: pixel p is removed at fraction f if its rank is
    // below round(f·H·W). The four orders go through the imputation and the model as one batch.
    std::vector<torch::Tensor> ranks;
    for (const auto& sequence : sequences)
      ranks.push_back(torch::empty_like(sequence).scatter_(1, sequence, torch::arange(pixels, sequence.options()).expand({b, pixels})));
    const auto rank = torch::cat(ranks, 0).to(device);
    const auto copies = static_cast<std::int64_t>(kOrders);
    const auto x_all = x.repeat({copies, 1, 1, 1});
    const auto ids_all = ids.repeat({copies});
    for (std::size_t f = 0; f < fractions.size(); ++f) {
      const auto removed_count = static_cast<std::int64_t>(std::llround(fractions[f] * static_cast<double>(pixels)));
      torch::Tensor input = x_all;
      if (removed_count > 0) {
        const auto removed = (rank < removed_count).view({copies * b, height, width});
        // The same noise for every order at a fraction: their curves differ by the order only.
        torch::Tensor noise;
        if (options.imputation() == Imputation::kNoisyLinear && options.noise() > 0)
          noise = (seeded_normal(x.sizes(), detail::mix_seed(batch_seed, kNoiseStream + f)) * options.noise()).repeat({copies, 1, 1, 1});
        input = impute(x_all, removed, options.imputation(), options.fill(), noise);
      }
      const auto image_hit = (evaluator.predict(model->forward(input)) == ids_all).view({copies, b}).to(torch::kCPU, torch::kLong);
      image_hits.slice(1, begin, end) += image_hit;
      const auto hits = image_hit.sum(1);
      for (std::size_t o = 0; o < kOrders; ++o) kept[o][f] += hits[static_cast<std::int64_t>(o)].item<std::int64_t>();
      if (progress) progress->advance(b);
    }
  }
  if (progress) progress->finish();

  FaithfulnessResult result;
  result.images = n;
  result.imputation = options.imputation();
  FaithfulnessCurve* curves[kOrders] = {&result.most_relevant_first, &result.least_relevant_first, &result.baseline_most_relevant_first,
                                        &result.baseline_least_relevant_first};
  const char* names[kOrders] = {"most relevant first", "least relevant first", "another image's map, most relevant first",
                                "another image's map, least relevant first"};
  for (std::size_t o = 0; o < kOrders; ++o) {
    auto& curve = *curves[o];
    curve.name = names[o];
    curve.fractions = fractions;
    for (std::size_t f = 0; f < fractions.size(); ++f) {
      const auto interval = eval::wilson_interval(kept[o][f], n);
      curve.kept.push_back(static_cast<double>(kept[o][f]) / static_cast<double>(n));
      curve.kept_low.push_back(interval.low);
      curve.kept_high.push_back(interval.high);
    }
  }
  // Per image, the mean over fractions of (LeRF − MoRF) / 2 by its own map and by the baseline's: their
  // means are the two combined scores, and their paired differences give the interval of the gap.
  const auto scale = 1.0 / (2.0 * static_cast<double>(fractions.size()));
  const auto own_gap = ((image_hits[1] - image_hits[0]).to(torch::kFloat64) * scale).contiguous();
  const auto baseline_gap = ((image_hits[3] - image_hits[2]).to(torch::kFloat64) * scale).contiguous();
  result.image_combined.assign(own_gap.data_ptr<double>(), own_gap.data_ptr<double>() + n);
  result.image_baseline_combined.assign(baseline_gap.data_ptr<double>(), baseline_gap.data_ptr<double>() + n);
  std::vector<double> beyond(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < beyond.size(); ++i) beyond[i] = result.image_combined[i] - result.image_baseline_combined[i];
  auto& gap = result.beyond_baseline_interval;
  gap = eval::bootstrap_mean_interval(beyond, 0.95, kBootstrapResamples, detail::mix_seed(options.seed(), kBootstrapStream));
  // The same number as the curves give (the per-image mean can differ from it in the last bit).
  gap.mean = result.combined_beyond_baseline();
  gap.low = std::min(gap.low, gap.mean);
  gap.high = std::max(gap.high, gap.mean);
  return result;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("cam_faithfulness");
}

}  // namespace labelrep::analysis
