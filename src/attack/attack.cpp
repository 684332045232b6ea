#include "labelrep/attack/attack.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>
#include <nlohmann/json.hpp>

#include "labelrep/core/error.hpp"
#include "labelrep/core/progress.hpp"
#include "labelrep/core/random.hpp"
#include "labelrep/eval/interval.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/train/trainer.hpp"
#include "core/boundary.hpp"
#include "core/eval_mode_guard.hpp"
#include "core/json_document.hpp"
#include "core/seed_mix.hpp"
#include "eval/margin.hpp"

namespace labelrep::attack {
namespace {

constexpr AttackKind kAttacks[] = {
    {Method::kFgsm, false, Objective::kLoss},        {Method::kFgsm, true, Objective::kLoss},
    {Method::kIterative, false, Objective::kLoss},   {Method::kIterative, true, Objective::kLoss},
    {Method::kPgd, false, Objective::kLoss},         {Method::kPgd, true, Objective::kLoss},
    {Method::kFgsm, false, Objective::kMargin},      {Method::kFgsm, true, Objective::kMargin},
    {Method::kIterative, false, Objective::kMargin}, {Method::kIterative, true, Objective::kMargin},
    {Method::kPgd, false, Objective::kMargin},       {Method::kPgd, true, Objective::kMargin},
    {Method::kApgd, false, Objective::kLoss},        {Method::kApgd, true, Objective::kLoss},
    {Method::kApgd, false, Objective::kMargin},      {Method::kApgd, true, Objective::kMargin},
    {Method::kFgsm, false, Objective::kDlr},         {Method::kFgsm, true, Objective::kDlr},
    {Method::kIterative, false, Objective::kDlr},    {Method::kIterative, true, Objective::kDlr},
    {Method::kPgd, false, Objective::kDlr},          {Method::kPgd, true, Objective::kDlr},
    {Method::kApgd, false, Objective::kDlr},         {Method::kApgd, true, Objective::kDlr},
    {Method::kApgdTargets, false, Objective::kLoss}, {Method::kApgdTargets, false, Objective::kMargin},
    {Method::kApgdTargets, false, Objective::kDlr},
    {Method::kNoise, false, Objective::kLoss},       {Method::kSquare, false, Objective::kLoss},
    {Method::kSquare, true, Objective::kLoss}};

// The device and floating dtype of a model's parameters (CPU float32 for a model without any).
torch::TensorOptions model_options(models::Model& model) {
  for (const auto& p : model->parameters())
    if (p.is_floating_point()) return torch::TensorOptions().device(p.device()).dtype(p.scalar_type());
  return torch::TensorOptions().device(torch::kCPU).dtype(torch::kFloat32);
}

void check_statistics(const data::ChannelStatistics& s, const char* who) {
  if (s.mean.empty() || s.mean.size() != s.std.size())
    throw InvalidArgument(fmt::format("{}: statistics need one mean and one std per channel, got {} means and {} stds", who,
                                      s.mean.size(), s.std.size()));
  for (std::size_t c = 0; c < s.std.size(); ++c) {
    if (!std::isfinite(s.mean[c])) throw InvalidArgument(fmt::format("{}: statistics mean[{}] is not finite", who, c));
    if (!(s.std[c] > 0) || !std::isfinite(s.std[c]))
      throw InvalidArgument(fmt::format("{}: statistics std[{}] must be positive, got {}", who, c, s.std[c]));
  }
}

void check_epsilon(double epsilon, const char* who) {
  if (!(epsilon >= 0) || !std::isfinite(epsilon))
    throw InvalidArgument(fmt::format("{}: epsilon must be a finite number >= 0, got {}", who, epsilon));
}


// Each image of `t` [N, ...] scaled to Euclidean length 1 (an all-zero image stays zero). Divided by
// its largest magnitude first, so that tiny gradients neither underflow nor overflow when squared.
torch::Tensor unit_length(const torch::Tensor& t) {
  const auto shape = std::vector<std::int64_t>{t.size(0), 1, 1, 1};
  const auto peak = t.abs().flatten(1).amax(1).view(shape);
  const auto scaled = t / torch::where(peak > 0, peak, torch::ones_like(peak));
  const auto length = scaled.flatten(1).pow(2).sum(1).sqrt().view(shape);
  return scaled / torch::where(length > 0, length, torch::ones_like(length));
}

// The direction of steepest ascent of a function with normalised-input gradient `gradient` under the
// threat model's norm, in ε's unit: its sign (L∞), or the gradient in ε's unit (gradient / scale, by the
// chain rule) scaled to length 1 (L2). A step of length λ in ε's unit is λ·(direction / scale), and
// ε_c = ε / scale_c, so a step of a fraction f of ε is f·ε_c·direction for both norms.
torch::Tensor steepest_direction(const torch::Tensor& gradient, Norm norm, const torch::Tensor& scale) {
  return norm == Norm::kLinf ? gradient.sign() : unit_length(gradient / scale);
}

// The ε-ball of the threat model around the images intersected with the box of valid pixels, and the
// projection onto it. ε is one for all images (tensors of first size 1) or one per image (first size N).
struct Ball {
  Norm norm = Norm::kLinf;
  torch::Tensor radius;   // [1 or N, 1, 1, 1]: ε in its unit
  torch::Tensor epsilon;  // [1 or N, C, 1, 1]: ε in normalised units per channel, ε_c = ε / scale_c
  torch::Tensor scale;    // [1, C, 1, 1]: the length in ε's unit of one normalised unit (std_c in pixel units, else 1)
  torch::Tensor low, high;  // [1, C, 1, 1]: the box of valid pixels

  // The ball of the images at `rows` (a per-image ε follows its images).
  Ball rows(const torch::Tensor& keep) const {
    if (radius.size(0) == 1) return *this;
    Ball b = *this;
    b.radius = radius.index_select(0, keep);
    b.epsilon = epsilon.index_select(0, keep);
    return b;
  }

  // L∞: the nearest point (a clamp to the intersection of two axis-aligned boxes). L2: the
  // perturbation shrunk onto the sphere if longer than ε, then clamped to the box; each clamped value
  // moves towards `origin`, which lies in the box, so the clamp only shortens the perturbation.
  torch::Tensor project(const torch::Tensor& point, const torch::Tensor& origin) const {
    if (norm == Norm::kLinf)
      return torch::minimum(torch::maximum(point, torch::maximum(origin - epsilon, low)), torch::minimum(origin + epsilon, high));
    const auto delta = point - origin;
    const auto length = (delta * scale).flatten(1).pow(2).sum(1).sqrt().view({-1, 1, 1, 1});
    // Shrunk by ε / max(length, ε): 1 inside the ball (and 0 for ε = 0, without dividing by zero).
    const auto shrunk = origin + delta * (radius / torch::maximum(length, radius).clamp_min(1e-30));
    return torch::minimum(torch::maximum(shrunk, low), high);
  }
};

// The ball of `o` for images in `options`' dtype and device: ε = o.epsilon() for all, or
// `per_image_epsilon` (`[N]`, in o.unit(), if defined).
Ball make_ball(const AttackOptions& o, const torch::TensorOptions& options, const torch::Tensor& per_image_epsilon) {
  const auto& s = o.statistics();
  const auto channels = static_cast<std::int64_t>(s.mean.size());
  std::vector<double> low, high, scale;
  for (std::size_t c = 0; c < s.mean.size(); ++c) {
    low.push_back((0.0 - s.mean[c]) / s.std[c]);
    high.push_back((1.0 - s.mean[c]) / s.std[c]);
    scale.push_back(o.unit() == EpsilonUnit::kPixel ? s.std[c] : 1.0);
  }
  auto make = [&](const std::vector<double>& v) {
    return torch::tensor(v, torch::kDouble).to(options).view({1, channels, 1, 1});
  };
  Ball ball;
  ball.norm = o.norm();
  ball.scale = make(scale);
  ball.low = make(low);
  ball.high = make(high);
  // ε_c computed in double precision, then rounded once to the images' dtype.
  const auto radius = per_image_epsilon.defined() ? per_image_epsilon.to(torch::kCPU, torch::kDouble).view({-1, 1, 1, 1})
                                                  : torch::full({1, 1, 1, 1}, o.epsilon(), torch::kDouble);
  ball.radius = radius.to(options);
  ball.epsilon = (radius / torch::tensor(scale, torch::kDouble).view({1, channels, 1, 1})).to(options);
  return ball;
}

// A random start or noise direction of the norm for images of `sizes`, from `seed`, with `options`:
// L∞: uniform on [−1, 1) per value (pgd_random_start); L2: a Gaussian direction of length 1 in ε's unit
// (so that x + ε_c·direction lies on the sphere of radius ε). Drawn in float32 on the CPU, so that a
// seed gives the same direction on every device; scaled to length 1 in the images' own precision.
torch::Tensor random_direction(torch::IntArrayRef sizes, std::uint64_t seed, Norm norm, const torch::TensorOptions& options) {
  if (norm == Norm::kLinf) return pgd_random_start(sizes, seed).to(options);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return unit_length(torch::randn(sizes, generator, torch::kFloat32).to(options));
}

// APGD or APGD-T (whose searches are APGD): the step schedule, apgd_steps and restarts are theirs.
bool is_apgd(Method method) { return method == Method::kApgd || method == Method::kApgdTargets; }

double step_fraction(const AttackOptions& o) {
  if (o.method() == Method::kFgsm || o.method() == Method::kNoise) return 1.0;
  if (o.step_fraction() > 0) return o.step_fraction();
  // The first step; APGD halves it where it stops gaining.
  if (is_apgd(o.method())) return 2.0;
  const double steps = static_cast<double>(o.steps());
  return o.method() == Method::kPgd ? 2.5 / steps : 1.0 / steps;
}

// The streams of a seed (detail::mix_seed) that the noise and Square draw from.
constexpr std::uint64_t kNoiseStream = 0x6e6f697365ULL;
constexpr std::uint64_t kSquareStream = 0x737175617265ULL;
// APGD-T's searches for a target_classes option (0: AutoAttack's).
std::int64_t target_classes_of(std::int64_t option) { return option > 0 ? option : kAutoAttackTargetClasses; }

// APGD-T's j-th search starts from the stream kTargetSearchStream + j of the seed.
constexpr std::uint64_t kTargetSearchStream = 0x746172676574ULL;
using detail::mix_seed;

double ratio(std::int64_t a, std::int64_t b) {
  return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : std::numeric_limits<double>::quiet_NaN();
}

// The 95% Wilson interval of correct / images (NaN, NaN without images).
std::pair<double, double> accuracy_interval(std::int64_t correct, std::int64_t images) {
  if (images < 1) return {std::nan(""), std::nan("")};
  const auto interval = eval::wilson_interval(correct, images);
  return {interval.low, interval.high};
}

// As written in the JSON's "method".
const char* method_name(Method method) {
  switch (method) {
    case Method::kFgsm: return "fgsm";
    case Method::kIterative: return "iterative";
    case Method::kPgd: return "pgd";
    case Method::kApgd: return "apgd";
    case Method::kApgdTargets: return "apgd-t";
    case Method::kNoise: return "noise";
    case Method::kSquare: return "square";
  }
  return "unknown";
}

// As written in the JSON's "objective".
const char* objective_name(Objective objective) {
  switch (objective) {
    case Objective::kLoss: return "loss";
    case Objective::kMargin: return "margin";
    case Objective::kDlr: return "dlr";
  }
  return "unknown";
}

bool follows_gradient(Method method) { return method != Method::kNoise && method != Method::kSquare; }

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

const char* epsilon_unit_name(EpsilonUnit unit) {
  return unit == EpsilonUnit::kPixel ? "pixel" : "normalized";
}

EpsilonUnit parse_epsilon_unit(const std::string& name) {
  if (name == "normalized") return EpsilonUnit::kNormalized;
  if (name == "pixel") return EpsilonUnit::kPixel;
  throw InvalidArgument(fmt::format("unknown epsilon unit '{}' (expected normalized or pixel)", name));
}

const char* norm_name(Norm norm) { return norm == Norm::kL2 ? "l2" : "linf"; }

Norm parse_norm(const std::string& name) {
  if (name == "linf") return Norm::kLinf;
  if (name == "l2") return Norm::kL2;
  throw InvalidArgument(fmt::format("unknown norm '{}' (expected linf or l2)", name));
}

std::string attack_name(const AttackKind& kind) {
  std::string name = method_name(kind.method);
  if (name == "iterative") name = "bim";
  if (kind.objective == Objective::kMargin) name += "-margin";
  if (kind.objective == Objective::kDlr) name += "-dlr";
  return kind.targeted ? name + "-targeted" : name;
}

AttackKind parse_attack(const std::string& name) {
  std::string known;
  for (const auto& kind : kAttacks) {
    if (name == attack_name(kind)) return kind;
    known += (known.empty() ? "" : ", ") + attack_name(kind);
  }
  throw InvalidArgument(fmt::format("unknown attack '{}' (expected one of {})", name, known));
}

std::vector<double> paper_epsilons() { return {0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3}; }

void AttackOptions::validate() const {
  check_statistics(statistics_, "attack");
  check_epsilon(epsilon_, "attack");
  if (steps_ < 1) throw InvalidArgument(fmt::format("attack: steps must be >= 1, got {}", steps_));
  if (!(step_fraction_ >= 0) || !std::isfinite(step_fraction_))
    throw InvalidArgument(fmt::format("attack: step_fraction must be a finite number >= 0, got {}", step_fraction_));
  if (method_ == Method::kNoise && targeted_) throw InvalidArgument("attack: noise cannot be targeted (it follows no gradient)");
  if (objective_ != Objective::kLoss && (method_ == Method::kNoise || method_ == Method::kSquare))
    throw InvalidArgument(fmt::format("attack: the {} objective is for fgsm, bim, pgd, apgd and apgd-t (noise follows nothing, Square always "
                                      "searches on the margin)",
                                      objective_name(objective_)));
  if (queries_ < 1) throw InvalidArgument(fmt::format("attack: queries must be >= 1, got {}", queries_));
  if (target_classes_ < 0)
    throw InvalidArgument(fmt::format("attack: target_classes must be >= 0 (0: AutoAttack's {}), got {}", kAutoAttackTargetClasses, target_classes_));
  if (target_classes_ > 0 && method_ != Method::kApgdTargets)
    throw InvalidArgument(fmt::format("attack: target_classes is for APGD-T (Method::kApgdTargets: apgd-t, apgd-t-margin, apgd-t-dlr), not {}; "
                                      "it no longer turns the untargeted APGD into APGD-T",
                                      attack_name({method_, targeted_, objective_})));
  if (method_ == Method::kApgdTargets && targeted_)
    throw InvalidArgument("attack: APGD-T cannot be targeted (its targeted searches answer the untargeted question; use apgd-targeted)");
  if (!(square_fraction_ > 0 && square_fraction_ <= 1))
    throw InvalidArgument(fmt::format("attack: square_fraction must be in (0, 1], got {}", square_fraction_));
}

torch::Tensor pgd_random_start(torch::IntArrayRef sizes, std::uint64_t seed) try {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::rand(sizes, generator, torch::kFloat32).mul_(2.0).sub_(1.0);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("pgd_random_start");
}

namespace {

// Each output's margin loss to `ids`: the best other class's score minus the class's, with the
// scores the evaluator decides by (logits, or minus the mean squared error to each label). Positive
// while the output is not classified as `ids`; differentiable.
torch::Tensor margin_loss(const eval::NearestNeighborEvaluator& evaluator, const torch::Tensor& outputs, const torch::Tensor& ids) {
  return detail::class_margins(evaluator, outputs, ids).neg();
}

// Each output's decision margin for its aim, what Square lowers: positive while the image is not
// broken (untargeted: still its true class; targeted: not yet its target).
torch::Tensor decision_margin(const eval::NearestNeighborEvaluator& evaluator, const torch::Tensor& outputs, const torch::Tensor& aim,
                              bool targeted) {
  const auto loss = margin_loss(evaluator, outputs, aim);
  return targeted ? loss : loss.neg();
}

// Each image's objective to `ids` (the true classes, or the targets when `targeted`): the model's
// training loss, in its decoder's loss scale (a standardized model's), the margin loss or the DLR loss
// (`evaluator` needed for these two). Untargeted attacks climb it, targeted ones descend it. `[N]`,
// differentiable.
torch::Tensor objective_values(models::Model& model, const torch::Tensor& outputs, const torch::Tensor& ids,
                               const labels::LabelRepresentation& labels, Objective objective, bool targeted, train::LossKind loss,
                               const eval::NearestNeighborEvaluator* evaluator) {
  if (objective != Objective::kLoss && !evaluator)
    throw Error(fmt::format("attack: the {} objective needs an evaluator (internal error)", objective_name(objective)));
  if (objective == Objective::kMargin) return margin_loss(*evaluator, outputs, ids);
  // While an image is still decoded as its true class y (as every image an APGD-T search holds), the
  // targeted DLR's margin, the best class other than the target minus the target, is AutoAttack's
  // z_y − z_t.
  if (objective == Objective::kDlr) return detail::dlr_losses(*evaluator, outputs, ids, targeted);
  const auto kind = loss == train::LossKind::kAuto ? train::default_loss(labels) : loss;
  const auto scale = kind == train::LossKind::kCrossEntropy ? torch::Tensor() : model->decoder().loss_scale();
  return train::per_image_label_loss(outputs, ids, labels, loss, scale);
}

// Each image's own gradient of the objective at `input` (a leaf that requires grad), from its `outputs`.
torch::Tensor input_gradient(models::Model& model, const torch::Tensor& outputs, const torch::Tensor& input, const torch::Tensor& ids,
                             const labels::LabelRepresentation& labels, Objective objective, bool targeted, train::LossKind loss,
                             const eval::NearestNeighborEvaluator* evaluator, bool retain_graph) {
  // The sum: each image's gradient is that of its own objective.
  const auto total = objective_values(model, outputs, ids, labels, objective, targeted, loss, evaluator).sum();
  return torch::autograd::grad({total}, {input}, {}, retain_graph)[0];
}

// Square's share of the image area at query `query` of `queries`: the paper's schedule for 10,000
// queries (halved after 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000), scaled to the budget.
double square_share(double first_share, std::int64_t query, std::int64_t queries) {
  const auto on_paper_scale = static_cast<std::int64_t>(static_cast<double>(query) / static_cast<double>(queries) * 10000.0);
  double share = first_share;
  for (const std::int64_t halving : {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000})
    if (on_paper_scale > halving) share /= 2;
  return share;
}

// The L2 Square's centre-weighted rectangle (Andriushchenko et al. 2020, Sec. 3.2): on rows × cols,
// nested rectangles around the centre, ring k from the centre weighted Σ_{j≥k} 1/(j+1)², scaled to
// Euclidean length 1. float64 on the CPU (an empty tensor for rows = 0).
torch::Tensor centred_rectangles(std::int64_t rows, std::int64_t cols) {
  auto pattern = torch::zeros({rows, cols}, torch::kDouble);
  if (rows == 0 || cols == 0) return pattern;
  const auto centre_row = rows / 2, centre_col = cols / 2;
  for (std::int64_t k = 0; k <= std::max(centre_row, centre_col); ++k)
    pattern.slice(0, std::max<std::int64_t>(centre_row - k, 0), std::min(centre_row + k + 1, rows))
        .slice(1, std::max<std::int64_t>(centre_col - k, 0), std::min(centre_col + k + 1, cols))
        .add_(1.0 / static_cast<double>((k + 1) * (k + 1)));
  return pattern / pattern.pow(2).sum().sqrt();
}

// The L2 Square's window pattern of side `side`: the top half one centred rectangle, the bottom half
// the negative of another, the whole of length 1. [side, side], float64 on the CPU.
torch::Tensor l2_square_pattern(std::int64_t side) {
  const auto pattern = torch::cat({centred_rectangles(side / 2, side), centred_rectangles(side - side / 2, side).neg()}, 0);
  return pattern / pattern.pow(2).sum().sqrt();
}

// The Square attack (Andriushchenko et al. 2020) on checked inputs: random search that keeps a window
// change when the decision margin falls, each image until it is broken or the queries are spent.
// L∞: the window is set to a random ±ε per channel. L2: the window gets the centre-weighted pattern
// (random sign per channel, randomly transposed) plus its old content, and takes over the length that
// a second random window gives up (that window is zeroed), so the perturbation stays on the sphere of
// radius ε in ε's unit before the box clamp. Every draw comes from one local generator (CPU, float32),
// so a seed gives the same images on every device.
torch::Tensor square_attack(models::Model& model, const eval::NearestNeighborEvaluator& evaluator, const torch::Tensor& x,
                            const torch::Tensor& aim, const AttackOptions& options, const Ball& ball) {
  torch::NoGradGuard no_grad;
  const auto n = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  const bool l2 = ball.norm == Norm::kL2;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(mix_seed(options.seed(), kSquareStream));
  const auto random_sign = [&](torch::IntArrayRef sizes) {
    return torch::rand(sizes, generator, torch::kFloat32).ge(0.5).to(x.options()).mul_(2).sub_(1);
  };
  const auto all = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  // Broken as the sweep counts it: by the evaluator's prediction.
  const auto judge = [&](const torch::Tensor& images, const torch::Tensor& rows, torch::Tensor& broken) {
    const auto outputs = model->forward(images);
    const auto ids = aim.index_select(0, rows);
    const auto predicted = evaluator.predict(outputs);
    broken = options.targeted() ? predicted.eq(ids) : predicted.ne(ids);
    return decision_margin(evaluator, outputs, ids, options.targeted());
  };
  // L∞: the intersection of the ε-box around x and the valid box (both axis-aligned boxes).
  const auto lower = torch::maximum(x - ball.epsilon, ball.low), upper = torch::minimum(x + ball.epsilon, ball.high);
  const auto box = [&](const torch::Tensor& images, const torch::Tensor& rows) {
    return torch::minimum(torch::maximum(images, lower.index_select(0, rows)), upper.index_select(0, rows));
  };
  // L2: each image's Euclidean length; x + δ for δ in ε's unit scaled to the images' radii (a zero δ
  // stays zero), then clamped to the valid box (which only shortens it, see Ball::project).
  const auto length = [](const torch::Tensor& t) { return t.flatten(1).pow(2).sum(1).sqrt().view({-1, 1, 1, 1}); };
  const auto onto_sphere = [&](const torch::Tensor& origin, const torch::Tensor& delta, const torch::Tensor& radius) {
    const auto current = length(delta);
    const auto scaled = delta * (radius / torch::where(current > 0, current, torch::ones_like(current)));
    return torch::minimum(torch::maximum(origin + scaled / ball.scale, ball.low), ball.high);
  };
  // m copies of the L2 pattern of side `side`, each transposed with probability ½: [m, 1, side, side].
  const auto l2_patterns = [&](std::int64_t side, std::int64_t m) {
    const auto pattern = l2_square_pattern(side).to(x.options());
    const auto transpose = torch::rand({m}, generator, torch::kFloat32).lt(0.5).to(x.device()).view({m, 1, 1, 1});
    return torch::where(transpose, pattern.t().contiguous().view({1, 1, side, side}), pattern.view({1, 1, side, side}));
  };

  torch::Tensor best;
  if (!l2) {
    // The start: vertical stripes, one random sign per channel and column.
    best = box(x + ball.epsilon * random_sign({n, channels, 1, width}), all);
  } else {
    // The start: a grid of tiles of a fifth of the shorter side, centred, each the pattern with a random
    // sign per image and channel, the whole scaled onto the sphere.
    const auto tile = std::max<std::int64_t>(1, std::min(height, width) / 5);
    const auto rows = height / tile, cols = width / tile;
    const auto top0 = (height - rows * tile) / 2, left0 = (width - cols * tile) / 2;
    auto delta = torch::zeros_like(x);
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j)
        delta.slice(2, top0 + i * tile, top0 + (i + 1) * tile)
            .slice(3, left0 + j * tile, left0 + (j + 1) * tile)
            .add_(l2_patterns(tile, n) * random_sign({n, channels, 1, 1}));
    best = onto_sphere(x, delta, ball.radius);
  }
  torch::Tensor broken;
  auto margin = judge(best, all, broken);

  const auto row_index = torch::arange(height, all.options()).view({1, 1, height, 1});
  const auto column_index = torch::arange(width, all.options()).view({1, 1, 1, width});
  const auto shorter_side = std::min(height, width);
  for (std::int64_t query = 1; query < options.queries(); ++query) {
    const auto pending = broken.logical_not().nonzero().squeeze(1);
    const auto m = pending.numel();
    if (m == 0) break;
    // The schedule counts search rounds from 0 (the paper's iteration index), queries from 1.
    const double share = square_share(options.square_fraction(), query - 1, options.queries());
    auto side = static_cast<std::int64_t>(std::llround(std::sqrt(share * static_cast<double>(height * width))));
    // L∞: below the shorter side, so the window moves. L2: odd and at least 3 (as AutoAttack's), so the
    // pattern has a centre and two halves; at most the shorter side.
    side = l2 ? std::min<std::int64_t>(std::max<std::int64_t>(side, 3) | 1, shorter_side)
              : std::clamp<std::int64_t>(side, 1, std::max<std::int64_t>(1, shorter_side - 1));
    const auto corner = [&](std::int64_t extent) {
      return torch::rand({m}, generator, torch::kFloat32)
          .mul_(static_cast<double>(extent - side + 1))
          .floor_()
          .clamp_max_(static_cast<double>(extent - side))
          .to(all.options())
          .view({m, 1, 1, 1});
    };
    const auto window_at = [&](const torch::Tensor& top, const torch::Tensor& left) {
      return row_index.ge(top) & row_index.lt(top + side) & column_index.ge(left) & column_index.lt(left + side);
    };
    const auto top = corner(height), left = corner(width);
    const auto window = window_at(top, left);
    const auto origin = x.index_select(0, pending), current = best.index_select(0, pending);
    torch::Tensor candidate;
    if (!l2) {
      // ε of these images (one per image in a radius search).
      const auto window_epsilon = ball.epsilon.size(0) == 1 ? ball.epsilon : ball.epsilon.index_select(0, pending);
      auto change = window_epsilon * random_sign({m, channels, 1, 1});
      candidate = box(torch::where(window, origin + change, current), pending);
      // A window drawn with the signs it already has (or pinned by the box) changes nothing: draw again
      // (as the paper's code), a few times, so that queries are not spent on unchanged images.
      for (int redraw = 0; redraw < 8; ++redraw) {
        const auto unchanged = candidate.ne(current).flatten(1).any(1).logical_not().view({m, 1, 1, 1});
        if (!unchanged.any().item<bool>()) break;
        change = torch::where(unchanged, window_epsilon * random_sign({m, channels, 1, 1}), change);
        candidate = box(torch::where(window, origin + change, current), pending);
      }
    } else {
      const auto radius = ball.radius.size(0) == 1 ? ball.radius : ball.radius.index_select(0, pending);
      const auto delta = (current - origin) * ball.scale;  // in ε's unit
      const auto emptied = window_at(corner(height), corner(width));
      // The length the new window may take: what is left of the ball plus what both windows held.
      const auto budget =
          (radius.pow(2) - length(delta).pow(2)).clamp_min(0).add(length(delta * (window | emptied).to(x.options())).pow(2)).sqrt();
      // The pattern at the window, random sign per channel, plus the window's old content; each channel
      // of both parts of length 1, so neither drowns the other.
      const auto inside = delta * window.to(x.options());
      const auto old_length = inside.pow(2).sum({2, 3}, /*keepdim=*/true).sqrt();
      // Each image's pattern moved to its window: every pixel reads the pattern's value at its offset
      // from the window's corner (one gather, no per-image loop), and is zeroed outside the window.
      const auto patterns = (l2_patterns(side, m) * random_sign({m, channels, 1, 1})).flatten(2);
      const auto offset = (row_index - top).clamp(0, side - 1).mul(side) + (column_index - left).clamp(0, side - 1);
      const auto fresh =
          patterns.gather(2, offset.flatten(2).expand({m, channels, height * width})).view({m, channels, height, width}) * window.to(x.options());
      auto proposal = fresh + inside / (old_length + 1e-12);
      const auto proposal_length = length(proposal);
      proposal = proposal * (budget / torch::where(proposal_length > 0, proposal_length, torch::ones_like(proposal_length)));
      candidate = onto_sphere(origin, torch::where(window, proposal, torch::where(emptied, torch::zeros_like(delta), delta)), radius);
    }
    torch::Tensor candidate_broken;
    const auto candidate_margin = judge(candidate, pending, candidate_broken);
    const auto keep = candidate_margin.lt(margin.index_select(0, pending)) | candidate_broken;
    best.index_copy_(0, pending, torch::where(keep.view({m, 1, 1, 1}), candidate, current));
    margin.index_copy_(0, pending, torch::where(keep, candidate_margin, margin.index_select(0, pending)));
    broken.index_copy_(0, pending, candidate_broken & keep);
  }
  return best;
}

// APGD's checkpoints (Croce & Hein 2020): the first after 22% of the steps, each later interval
// 3% of the steps shorter than the one before, down to 6% (at least one step each).
struct ApgdSchedule {
  std::int64_t first, shrink, shortest;
  explicit ApgdSchedule(std::int64_t steps)
      : first(std::max<std::int64_t>(1, static_cast<std::int64_t>(0.22 * static_cast<double>(steps)))),
        shrink(std::max<std::int64_t>(1, static_cast<std::int64_t>(0.03 * static_cast<double>(steps)))),
        shortest(std::max<std::int64_t>(1, static_cast<std::int64_t>(0.06 * static_cast<double>(steps)))) {}
};

// Auto-PGD (Croce & Hein 2020) on checked inputs. From PGD's random start, each step goes to
// z = P(x + η·d(∇f(x))) and then with momentum to P(x + 0.75·(z − x) + 0.25·(x − x_previous))
// (the first step without momentum), with d the steepest direction of the norm (the sign under L∞,
// the gradient of length 1 under L2: the paper's APGD-L2) and P the projection onto the ball ∩ box.
// At each checkpoint an image whose objective rose in at most 75% of the steps since the last one, or
// whose best objective did not improve since the last checkpoint without a halving there, halves its
// η and goes back to its best point. An image leaves the search
// once broken (as the evaluator decides), keeping that point; the others end at their best point.
// With `truth` defined (APGD-T, a targeted search in an untargeted attack) an image is broken once it is
// not decoded as its true class `truth`, whichever class it is decoded as.
torch::Tensor apgd_attack(models::Model& model, const labels::LabelRepresentation& labels, const eval::NearestNeighborEvaluator& evaluator,
                          const torch::Tensor& x, const torch::Tensor& aim, const AttackOptions& options, const Ball& ball,
                          const torch::Tensor& truth = {}) {
  const double direction = options.targeted() ? -1.0 : 1.0;  // the search raises direction × objective
  // One forward and backward pass: each image's value (to be raised), its steepest direction, and
  // whether it is broken.
  struct Probe {
    torch::Tensor value, sign, broken;
  };
  const auto probe = [&](const torch::Tensor& point, const torch::Tensor& ids, const torch::Tensor& true_ids) {
    const auto input = point.detach().requires_grad_(true);
    const auto outputs = model->forward(input);
    const auto value = objective_values(model, outputs, ids, labels, options.objective(), options.targeted(), options.loss(), &evaluator) * direction;
    const auto sign = steepest_direction(torch::autograd::grad({value.sum()}, {input})[0], ball.norm, ball.scale);
    torch::NoGradGuard no_grad;
    const auto predicted = evaluator.predict(outputs.detach());
    if (true_ids.defined()) return Probe{value.detach(), sign, predicted.ne(true_ids)};
    return Probe{value.detach(), sign, options.targeted() ? predicted.eq(ids) : predicted.ne(ids)};
  };
  torch::NoGradGuard no_grad;
  const auto n = x.size(0);
  auto result = torch::empty_like(x);
  // The state of the images still searched; `rows` are their places in `x`, `origin` their clean images,
  // `active` their ball.
  auto rows = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  auto ids = aim, origin = x, true_ids = truth;
  Ball active = ball;
  const auto project = [&](const torch::Tensor& t) { return active.project(t, origin); };
  auto current = ball.project(x + ball.epsilon * random_direction(x.sizes(), options.seed(), ball.norm, x.options()), x);
  auto previous = current;
  Probe at;
  {
    torch::AutoGradMode enable_grad(true);
    at = probe(current, ids, true_ids);
  }
  auto best = current, best_value = at.value, best_sign = at.sign, sign = at.sign, value = at.value;
  auto eta = torch::full({n, 1, 1, 1}, step_fraction(options), x.options());
  auto rises = torch::zeros({n}, rows.options());
  auto halved_last = torch::zeros({n}, torch::TensorOptions().dtype(torch::kBool).device(x.device()));
  auto best_at_checkpoint = best_value;
  const auto leave = [&](const torch::Tensor& broken) {
    // Broken images keep this point and leave; the state keeps only the others.
    if (!broken.any().item<bool>()) return;
    result.index_copy_(0, rows.masked_select(broken), current.index_select(0, broken.nonzero().squeeze(1)));
    const auto keep = broken.logical_not().nonzero().squeeze(1);
    for (torch::Tensor* t : {&rows, &ids, &origin, &current, &previous, &best, &best_value, &best_sign, &sign, &value,
                             &eta, &rises, &halved_last, &best_at_checkpoint})
      *t = t->index_select(0, keep);
    if (true_ids.defined()) true_ids = true_ids.index_select(0, keep);
    active = active.rows(keep);
  };
  leave(at.broken);

  const ApgdSchedule schedule(options.steps());
  std::int64_t interval = schedule.first, checkpoint = schedule.first;
  for (std::int64_t step = 1; step <= options.steps() && rows.numel() > 0; ++step) {
    const auto z = project(current + eta * active.epsilon * sign);
    const auto next = step == 1 ? z : project(current + 0.75 * (z - current) + 0.25 * (current - previous));
    previous = current;
    current = next;
    {
      torch::AutoGradMode enable_grad(true);
      at = probe(current, ids, true_ids);
    }
    rises.add_(at.value.gt(value).to(torch::kLong));
    const auto improved = at.value.gt(best_value);
    const auto improved_image = improved.view({-1, 1, 1, 1});
    best = torch::where(improved_image, current, best);
    best_sign = torch::where(improved_image, at.sign, best_sign);
    best_value = torch::where(improved, at.value, best_value);
    value = at.value;
    sign = at.sign;
    // Before the checkpoint, which may send an image back to its best point: a broken image keeps the
    // point that broke it.
    leave(at.broken);
    if (step == checkpoint) {
      const auto oscillating = rises.to(torch::kDouble).le(0.75 * static_cast<double>(interval));
      const auto stalled = halved_last.logical_not() & best_value.le(best_at_checkpoint);
      const auto halve = oscillating | stalled;
      const auto halve_image = halve.view({-1, 1, 1, 1});
      eta = torch::where(halve_image, eta * 0.5, eta);
      current = torch::where(halve_image, best, current);
      sign = torch::where(halve_image, best_sign, sign);
      halved_last = halve;
      best_at_checkpoint = best_value;
      rises.zero_();
      interval = std::max(interval - schedule.shrink, schedule.shortest);
      checkpoint += interval;
    }
  }
  if (rows.numel() > 0) result.index_copy_(0, rows, best);
  return result;
}

// AutoAttack's APGD-T on checked inputs, with target_classes k: targeted
// APGD searches aimed in turn at each image's most likely other classes (by its clean scores, the
// evaluator's), the j-th search on the images no earlier one broke, from its own random start (the
// seed's stream j). An image is broken once misclassified as any class. Broken images keep the point
// that broke them; the others end at the last search's point.
torch::Tensor apgd_over_targets(models::Model& model, const labels::LabelRepresentation& labels, const eval::NearestNeighborEvaluator& evaluator,
                                const torch::Tensor& x, const torch::Tensor& truth, const AttackOptions& options, const Ball& ball) {
  torch::Tensor ranked;
  {
    torch::NoGradGuard no_grad;
    // The true class last, so that the first C − 1 columns are the other classes by falling score.
    const auto scores = detail::class_scores(evaluator, model->forward(x));
    ranked = scores.scatter(1, truth.unsqueeze(1), -std::numeric_limits<double>::infinity()).argsort(1, /*descending=*/true);
  }
  const auto searches = std::min<std::int64_t>(target_classes_of(options.target_classes()), ranked.size(1) - 1);
  auto result = x.clone();
  auto pending = torch::arange(x.size(0), truth.options());
  for (std::int64_t j = 0; j < searches && pending.numel() > 0; ++j) {
    const auto search =
        AttackOptions(options).method(Method::kApgd).targeted(true).seed(mix_seed(options.seed(), kTargetSearchStream + static_cast<std::uint64_t>(j)));
    const auto true_ids = truth.index_select(0, pending);
    const auto adversarial = apgd_attack(model, labels, evaluator, x.index_select(0, pending), ranked.index_select(0, pending).select(1, j),
                                         search, ball.rows(pending), true_ids);
    result.index_copy_(0, pending, adversarial);
    torch::NoGradGuard no_grad;
    const auto still_correct = evaluator.predict(model->forward(adversarial)).eq(true_ids);
    pending = pending.index_select(0, still_correct.nonzero().squeeze(1));
  }
  return result;
}

// The attack proper, on checked inputs: `x` on the model's device in its dtype, the model in eval
// mode. `first_gradient`, if defined, is the objective's input gradient at x for these ids (the sweep
// computes it once for every ε and norm); PGD and APGD never use it (they start elsewhere).
// `evaluator` (needed by Square, APGD and the margin objective) decides what counts as broken.
torch::Tensor attack_checked(models::Model& model, const labels::LabelRepresentation& labels, const eval::NearestNeighborEvaluator* evaluator,
                             const torch::Tensor& x, const torch::Tensor& ids, const AttackOptions& options, const torch::Tensor& first_gradient,
                             const torch::Tensor& per_image_epsilon = {}) {
  if ((!per_image_epsilon.defined() && options.epsilon() == 0) || x.size(0) == 0) return x.clone();
  torch::AutoGradMode enable_grad(true);
  const auto ball = make_ball(options, x.options(), per_image_epsilon);
  const auto step = ball.epsilon * (options.targeted() ? -step_fraction(options) : step_fraction(options));

  if (options.method() == Method::kNoise) {
    // Its own stream of the seed, so that the noise is not PGD's start with the same seed.
    const auto noise = random_direction(x.sizes(), mix_seed(options.seed(), kNoiseStream), options.norm(), x.options());
    // L∞: a random sign per value (a corner of the ball); L2: a random point of the sphere.
    return ball.project(x + step * (options.norm() == Norm::kLinf ? noise.ge(0).to(x.options()).mul_(2).sub_(1) : noise), x);
  }
  if (options.method() == Method::kSquare) {
    if (!evaluator) throw Error("attack: Square needs an evaluator (internal error)");
    return square_attack(model, *evaluator, x, ids, options, ball);
  }
  if (is_apgd(options.method())) {
    if (!evaluator) throw Error("attack: APGD needs an evaluator (internal error)");
    if (options.method() == Method::kApgdTargets) return apgd_over_targets(model, labels, *evaluator, x, ids, options, ball);
    return apgd_attack(model, labels, *evaluator, x, ids, options, ball);
  }
  torch::Tensor adversarial = x;
  if (options.method() == Method::kPgd) {
    adversarial = ball.project(x + ball.epsilon * random_direction(x.sizes(), options.seed(), options.norm(), x.options()), x);
  }
  const std::int64_t steps = options.method() == Method::kFgsm ? 1 : options.steps();
  for (std::int64_t s = 0; s < steps; ++s) {
    torch::Tensor gradient;
    if (s == 0 && first_gradient.defined() && options.method() != Method::kPgd) {
      gradient = first_gradient;
    } else {
      // A fresh leaf each step: its gradient is this step's alone (nothing accumulates in .grad).
      const auto input = adversarial.detach().requires_grad_(true);
      gradient = input_gradient(model, model->forward(input), input, ids, labels, options.objective(), options.targeted(), options.loss(),
                                evaluator, false);
    }
    adversarial = ball.project(adversarial.detach() + step * steepest_direction(gradient, options.norm(), ball.scale), x);
  }
  return adversarial.detach();
}

}  // namespace

namespace {

// The DLR loss divides by the gap between an image's best and third best (targeted, as in each of
// APGD-T's searches: the mean of the third and fourth) score, so it needs that many classes. `what`
// names the caller.
void check_classes_for_objective(const AttackKind& kind, std::int64_t classes, const std::string& what) {
  if (kind.objective != Objective::kDlr) return;
  const bool targeted_loss = kind.targeted || kind.method == Method::kApgdTargets;
  const std::int64_t needed = targeted_loss ? 4 : 3;
  if (classes < needed)
    throw InvalidArgument(fmt::format("{}: {} needs at least {} classes (the DLR loss divides by the gap between the best and the {} "
                                      "score), but the labels have {}",
                                      what, attack_name(kind), needed, targeted_loss ? "third and fourth best" : "third best", classes));
}

// perturb's and minimal_epsilon's checks of their batch: the images on the model's device in its dtype,
// and the class ids there as int64.
std::pair<torch::Tensor, torch::Tensor> checked_batch(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& images,
                                                      const torch::Tensor& class_ids, const AttackOptions& options) {
  if (model.is_empty()) throw InvalidArgument("attack: the model is empty");
  if (!images.defined() || images.dim() != 4 || !images.is_floating_point())
    throw InvalidArgument(fmt::format("attack: images must be floating-point [N, C, H, W], got {}",
                                      images.defined() ? c10::str(images.sizes(), " ", images.scalar_type()) : "an undefined tensor"));
  const auto channels = static_cast<std::int64_t>(options.statistics().mean.size());
  if (images.size(1) != channels)
    throw InvalidArgument(fmt::format("attack: images have {} channels but the statistics {}", images.size(1), channels));
  if (!class_ids.defined() || class_ids.dim() != 1 || class_ids.is_floating_point() || class_ids.scalar_type() == torch::kBool)
    throw InvalidArgument("attack: class_ids must be a 1-D integer tensor [N]");
  if (class_ids.size(0) != images.size(0))
    throw InvalidArgument(fmt::format("attack: class_ids has {} entries but images has {}", class_ids.size(0), images.size(0)));

  check_classes_for_objective({options.method(), options.targeted(), options.objective()}, labels.num_classes(), "attack");
  const auto tensor_options = model_options(model);
  auto x = images.detach().to(tensor_options);
  auto ids = class_ids.to(tensor_options.device(), torch::kLong);
  if (ids.numel() > 0) {
    const auto low = ids.min().item<std::int64_t>(), high = ids.max().item<std::int64_t>();
    if (low < 0 || high >= labels.num_classes())
      throw InvalidArgument(fmt::format("attack: class id {} is out of range [0, {})", low < 0 ? low : high, labels.num_classes()));
  }
  return {x, ids};
}

// An evaluator that borrows the labels for one call (an owner-less pointer).
eval::NearestNeighborEvaluator borrowing_evaluator(const labels::LabelRepresentation& labels) {
  return eval::NearestNeighborEvaluator(std::shared_ptr<const labels::LabelRepresentation>(std::shared_ptr<void>(), &labels));
}

// perturb's work on checked inputs, with one ε for all images or, if defined, one per image.
torch::Tensor perturb_batch(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& images,
                            const torch::Tensor& class_ids, const AttackOptions& options, const torch::Tensor& per_image_epsilon) {
  const auto [x, ids] = checked_batch(model, labels, images, class_ids, options);
  detail::EvalModeGuard eval_mode(*model);
  std::optional<eval::NearestNeighborEvaluator> evaluator;
  // Square, APGD and the margin decide by the evaluator.
  if (options.method() == Method::kSquare || is_apgd(options.method()) || options.objective() != Objective::kLoss)
    evaluator.emplace(borrowing_evaluator(labels));
  return attack_checked(model, labels, evaluator ? &*evaluator : nullptr, x, ids, options, torch::Tensor(), per_image_epsilon);
}

}  // namespace

torch::Tensor perturb(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& images,
                      const torch::Tensor& class_ids, const AttackOptions& options) try {
  options.validate();
  return perturb_batch(model, labels, images, class_ids, options, torch::Tensor());
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("perturb");
}

torch::Tensor perturb(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& images,
                      const torch::Tensor& class_ids, const AttackOptions& options, const torch::Tensor& epsilons) try {
  options.validate();
  if (!epsilons.defined() || epsilons.dim() != 1 || !epsilons.is_floating_point())
    throw InvalidArgument("attack: epsilons must be a 1-D floating-point tensor [N]");
  if (images.defined() && images.dim() > 0 && epsilons.size(0) != images.size(0))
    throw InvalidArgument(fmt::format("attack: epsilons has {} entries but images has {}", epsilons.size(0), images.size(0)));
  const auto per_image = epsilons.detach().to(torch::kCPU, torch::kDouble);
  if (!(per_image.ge(0) & torch::isfinite(per_image)).all().item<bool>())
    throw InvalidArgument("attack: each of epsilons must be a finite number >= 0");
  return perturb_batch(model, labels, images, class_ids, options, per_image);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("perturb");
}

void RadiusOptions::validate() const {
  attack_.validate();
  if (!(max_epsilon_ > 0) || !std::isfinite(max_epsilon_))
    throw InvalidArgument(fmt::format("minimal_epsilon: max_epsilon must be a finite number > 0, got {}", max_epsilon_));
  if (bisections_ < 1 || bisections_ > 50)
    throw InvalidArgument(fmt::format("minimal_epsilon: bisections must be in [1, 50], got {}", bisections_));
}

torch::Tensor minimal_epsilon(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& images,
                              const torch::Tensor& class_ids, const RadiusOptions& options) try {
  options.validate();
  const auto& attack = options.attack();
  // Not a structured binding: the lambda below captures the two (C++17 cannot capture bindings).
  const auto batch = checked_batch(model, labels, images, class_ids, attack);
  const auto& x = batch.first;
  const auto& ids = batch.second;
  detail::EvalModeGuard eval_mode(*model);
  const auto evaluator = borrowing_evaluator(labels);
  const auto n = x.size(0);
  auto radius = torch::full({n}, std::numeric_limits<double>::infinity(), torch::kDouble);
  // Whether the images at `rows` (CPU) are broken: clean (no ε), or attacked with ε `epsilon` (CPU, one per row).
  const auto broken = [&](const torch::Tensor& rows, const torch::Tensor& epsilon) {
    const auto on_device = rows.to(x.device());
    const auto images_at = x.index_select(0, on_device), aim = ids.index_select(0, on_device);
    const auto input = epsilon.defined() ? attack_checked(model, labels, &evaluator, images_at, aim, attack, torch::Tensor(), epsilon) : images_at;
    torch::NoGradGuard no_grad;
    const auto predicted = evaluator.predict(model->forward(input));
    return (attack.targeted() ? predicted.eq(aim) : predicted.ne(aim)).to(torch::kCPU);
  };
  if (n == 0) return radius;
  auto rows = torch::arange(n, torch::kLong);
  const auto already = broken(rows, torch::Tensor());
  radius.masked_fill_(already, 0.0);
  rows = rows.masked_select(already.logical_not());
  if (rows.numel() == 0) return radius;
  // The bracket (low, high] of each image the attack breaks at max_epsilon: broken at high, not at low
  // (low = 0 stands for the clean image, which is not broken).
  auto high = torch::full({rows.numel()}, options.max_epsilon(), torch::kDouble);
  const auto at_most = broken(rows, high);
  rows = rows.masked_select(at_most);
  high = high.masked_select(at_most);
  auto low = torch::zeros_like(high);
  for (std::int64_t b = 0; b < options.bisections() && rows.numel() > 0; ++b) {
    const auto middle = (low + high) / 2;
    const auto at_middle = broken(rows, middle);
    high = torch::where(at_middle, middle, high);
    low = torch::where(at_middle, low, middle);
  }
  radius.index_put_({rows}, high);
  return radius;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("minimal_epsilon");
}

torch::Tensor random_targets(const torch::Tensor& true_ids, std::int64_t num_classes, std::uint64_t seed) try {
  if (num_classes < 2) throw InvalidArgument(fmt::format("random_targets: num_classes must be at least 2, got {}", num_classes));
  if (seed > 0xffffffffULL) throw InvalidArgument(fmt::format("random_targets: seed must be below 2^32, got {}", seed));
  if (!true_ids.defined() || true_ids.dim() != 1 || true_ids.is_floating_point() || true_ids.scalar_type() == torch::kBool)
    throw InvalidArgument("random_targets: true_ids must be a 1-D integer tensor");
  const auto ids = true_ids.to(torch::kCPU, torch::kLong).contiguous();
  const auto n = ids.size(0);
  auto targets = torch::empty({n}, torch::kLong);
  const auto* in = ids.data_ptr<std::int64_t>();
  auto* out = targets.data_ptr<std::int64_t>();
  NumpyRandom random(static_cast<std::uint32_t>(seed));
  for (std::int64_t i = 0; i < n; ++i) {
    if (in[i] < 0 || in[i] >= num_classes)
      throw InvalidArgument(fmt::format("random_targets: class id {} at position {} is out of range [0, {})", in[i], i, num_classes));
    const auto offset = static_cast<std::int64_t>(random.next_interval(static_cast<std::uint64_t>(num_classes - 2)));
    out[i] = (in[i] + 1 + offset) % num_classes;
  }
  return targets;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("random_targets");
}

void SweepOptions::validate() const {
  check_statistics(statistics_, "attack sweep");
  if (attacks_.empty()) throw InvalidArgument("attack sweep: no attacks given");
  for (const auto& name : attacks_) parse_attack(name);
  if (epsilons_.empty()) throw InvalidArgument("attack sweep: no epsilon values given");
  for (double e : epsilons_) check_epsilon(e, "attack sweep");
  if (steps_ < 1) throw InvalidArgument(fmt::format("attack sweep: steps must be >= 1, got {}", steps_));
  if (apgd_steps_ < 0) throw InvalidArgument(fmt::format("attack sweep: apgd_steps must be >= 0 (0: steps), got {}", apgd_steps_));
  if (!(step_fraction_ >= 0) || !std::isfinite(step_fraction_))
    throw InvalidArgument(fmt::format("attack sweep: step_fraction must be a finite number >= 0, got {}", step_fraction_));
  if (batch_size_ < 1) throw InvalidArgument(fmt::format("attack sweep: batch_size must be >= 1, got {}", batch_size_));
  if (queries_ < 1) throw InvalidArgument(fmt::format("attack sweep: queries must be >= 1, got {}", queries_));
  if (restarts_ < 1) throw InvalidArgument(fmt::format("attack sweep: restarts must be >= 1, got {}", restarts_));
  if (target_classes_ < 0)
    throw InvalidArgument(
        fmt::format("attack sweep: target_classes must be >= 0 (0: AutoAttack's {}), got {}", kAutoAttackTargetClasses, target_classes_));
  if (target_classes_ > 0 &&
      std::none_of(attacks_.begin(), attacks_.end(), [](const std::string& name) { return parse_attack(name).method == Method::kApgdTargets; }))
    throw InvalidArgument(fmt::format("attack sweep: target_classes {} is for APGD-T (apgd-t, apgd-t-margin, apgd-t-dlr), which the attacks do "
                                      "not hold; it no longer turns the untargeted APGD into APGD-T",
                                      target_classes_));
  if (seed_ > 0xffffffffULL) throw InvalidArgument(fmt::format("attack sweep: seed must be below 2^32, got {}", seed_));
  if (!(threshold_ > 0) || !std::isfinite(threshold_))
    throw InvalidArgument(fmt::format("attack sweep: threshold must be a finite number > 0, got {}", threshold_));
}

std::string SweepResult::to_json() const {
  nlohmann::json j;
  j["images"] = images;
  j["initially_correct"] = initially_correct;
  j["clean_accuracy"] = clean_accuracy;
  if (has_threshold) {
    j["threshold"] = threshold;
    j["clean_threshold_accuracy"] = number_or_null(clean_threshold_accuracy);
  }
  j["epsilon_unit"] = epsilon_unit_name(unit);
  j["norm"] = norm_name(norm);
  j["steps"] = steps;
  j["step_fraction"] = step_fraction;
  j["restarts"] = restarts;
  j["queries"] = queries;
  j["seed"] = seed;
  j["labels"] = labels;
  j["seconds"] = seconds;
  nlohmann::json attacks = nlohmann::json::array();
  for (const auto& curve : curves) {
    nlohmann::json c;
    c["attack"] = curve.attack;
    c["method"] = method_name(curve.kind.method);
    c["targeted"] = curve.kind.targeted;
    if (follows_gradient(curve.kind.method)) {
      c["objective"] = objective_name(curve.kind.objective);
      c["steps"] = curve.steps;
    }
    // Per attack, not per sweep: a sweep file that gives target_classes for the whole sweep is an older
    // one, in which it turned every untargeted APGD into APGD-T (the report still reads it so).
    if (curve.kind.method == Method::kApgdTargets) c["target_classes"] = curve.target_classes;
    nlohmann::json points = nlohmann::json::array();
    for (const auto& p : curve.points) {
      nlohmann::json q;
      q["epsilon"] = p.epsilon;
      q["accuracy"] = number_or_null(p.accuracy);
      q["accuracy_ci95"] = {number_or_null(p.accuracy_low), number_or_null(p.accuracy_high)};
      q["subset_accuracy"] = number_or_null(p.subset_accuracy);
      q["correct"] = p.correct;
      if (has_threshold) {
        q["threshold_accuracy"] = number_or_null(p.threshold_accuracy);
        q["threshold_correct"] = p.threshold_correct;
      }
      if (curve.kind.targeted) {
        q["target_hit_rate"] = number_or_null(p.target_hit_rate);
        q["target_hits"] = p.target_hits;
      }
      q["seconds"] = p.seconds;
      points.push_back(std::move(q));
    }
    c["points"] = std::move(points);
    attacks.push_back(std::move(c));
  }
  j["attacks"] = std::move(attacks);
  nlohmann::json worst = nlohmann::json::array();
  for (const auto& p : worst_case)
    worst.push_back({{"epsilon", p.epsilon},
                     {"correct", p.correct},
                     {"accuracy", number_or_null(p.accuracy)},
                     {"accuracy_ci95", {number_or_null(p.accuracy_low), number_or_null(p.accuracy_high)}},
                     {"subset_accuracy", number_or_null(p.subset_accuracy)}});
  j["worst_case"] = std::move(worst);
  if (zero_gradient_images) j["zero_gradient_images"] = *zero_gradient_images;
  if (unbounded_correct) j["unbounded_correct"] = *unbounded_correct;
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : masking_checks)
    checks.push_back({{"check", c.check}, {"attack", c.attack}, {"passed", c.passed}, {"detail", c.detail}});
  j["masking_checks"] = std::move(checks);
  return labelrep::detail::dump_json_document(j, 2, "the attack sweep's result");
}

namespace {

// The point of `curve` at ε, if it has one.
const SweepPoint* point_at(const SweepCurve& curve, double epsilon) {
  for (const auto& p : curve.points)
    if (p.epsilon == epsilon) return &p;
  return nullptr;
}

const SweepCurve* curve_of(const SweepResult& result, Method method, bool targeted, Objective objective = Objective::kLoss) {
  for (const auto& c : result.curves)
    if (c.kind.method == method && c.kind.targeted == targeted && c.kind.objective == objective) return &c;
  return nullptr;
}

}  // namespace

std::vector<MaskingCheck> check_gradient_masking(const SweepResult& result) try {
  std::vector<MaskingCheck> checks;
  const std::int64_t base = result.initially_correct;
  // Counts of a few hundred images move by an image or two from rounding and from PGD's and the
  // noise's draws: a check fails only beyond 1% of the initially correct images (at least one).
  const std::int64_t tolerance = std::max<std::int64_t>(1, (base + 99) / 100);
  const std::string beyond = fmt::format("by more than {} of {} initially correct images", tolerance, base);

  if (result.zero_gradient_images) {
    MaskingCheck c{"zero-gradient", "", *result.zero_gradient_images == 0, ""};
    c.detail = fmt::format("{} of {} initially correct images have a loss gradient of exactly zero at the clean image{}",
                           *result.zero_gradient_images, base, c.passed ? "" : ": FGSM and BIM cannot move them");
    checks.push_back(std::move(c));
  }
  if (result.unbounded_correct) {
    MaskingCheck c{"unbounded-attack", "", *result.unbounded_correct <= tolerance, ""};
    const std::string verdict =
        c.passed ? "" : fmt::format(", more than {}: the loss gradient does not lead to another class (try apgd-margin and square)", tolerance);
    c.detail = fmt::format("an untargeted BIM allowed the whole pixel box (eps 1 in pixel units) leaves {} of {} initially correct images correct{}",
                           *result.unbounded_correct, base, verdict);
    checks.push_back(std::move(c));
  }
  // The gradient-free attacks a gradient attack should beat: random noise (untargeted) and Square.
  struct Baseline {
    const char* check;
    const char* what;
    Method method;
  };
  constexpr Baseline kBaselines[] = {{"noise-beats-attack", "random noise", Method::kNoise}, {"square-beats-attack", "Square", Method::kSquare}};
  for (const auto& curve : result.curves) {
    if (!follows_gradient(curve.kind.method)) continue;
    for (const auto& baseline : kBaselines) {
      const SweepCurve* other = curve_of(result, baseline.method, curve.kind.targeted);
      // One FGSM step is weaker than Square's search by design: only iterative attacks must beat it.
      if (!other || (baseline.method == Method::kSquare && curve.kind.method == Method::kFgsm)) continue;
      MaskingCheck c{baseline.check, curve.attack, true, ""};
      for (const auto& p : curve.points) {
        const auto* q = point_at(*other, p.epsilon);
        if (!q || p.epsilon == 0) continue;
        if (curve.kind.targeted ? p.target_hits + tolerance < q->target_hits : p.correct > q->correct + tolerance) {
          c.passed = false;
          c.detail = curve.kind.targeted
                         ? fmt::format("at eps {:g} {} reaches {} targets, {} reaches {}", p.epsilon, other->attack, q->target_hits, curve.attack, p.target_hits)
                         : fmt::format("at eps {:g} {} leaves {} images correct, {} leaves {}", p.epsilon, baseline.what, q->correct, curve.attack, p.correct);
          if (baseline.method == Method::kSquare)
            c.detail += curve.kind.objective == Objective::kLoss
                            ? fmt::format(" (try the margin objective: {})", curve.kind.method == Method::kApgdTargets ? "apgd-t-margin" : "apgd-margin")
                        : is_apgd(curve.kind.method) ? " (try more steps, or restarts)"
                                                     : " (try apgd-margin, more steps, or restarts)";
          break;
        }
      }
      if (c.passed)
        c.detail = curve.kind.targeted
                       ? fmt::format("{} never reaches fewer targets than {} at the same eps {}", curve.attack, other->attack, beyond)
                       : fmt::format("{} never leaves more images correct than {} at the same eps {}", curve.attack, baseline.what, beyond);
      checks.push_back(std::move(c));
    }
    const SweepCurve* fgsm = curve_of(result, Method::kFgsm, curve.kind.targeted, curve.kind.objective);
    if (fgsm && curve.kind.method != Method::kFgsm) {
      MaskingCheck c{"iterative-weaker-than-fgsm", curve.attack, true, ""};
      for (const auto& p : curve.points) {
        const auto* q = point_at(*fgsm, p.epsilon);
        if (!q || p.epsilon == 0) continue;
        const bool weaker = curve.kind.targeted ? p.target_hits + tolerance < q->target_hits : p.correct > q->correct + tolerance;
        if (weaker) {
          c.passed = false;
          c.detail = curve.kind.targeted
                         ? fmt::format("at eps {:g} {} reaches {} targets, {} reaches {}", p.epsilon, curve.attack, p.target_hits, fgsm->attack, q->target_hits)
                         : fmt::format("at eps {:g} {} leaves {} images correct, {} leaves {}", p.epsilon, curve.attack, p.correct, fgsm->attack, q->correct);
          break;
        }
      }
      if (c.passed) c.detail = fmt::format("{} is never weaker than {} at the same eps {}", curve.attack, fgsm->attack, beyond);
      checks.push_back(std::move(c));
    }
    if (curve.kind.targeted && curve.kind.method == Method::kFgsm) continue;
    MaskingCheck c{"not-monotone", curve.attack, true, ""};
    for (const auto& small : curve.points) {
      for (const auto& large : curve.points) {
        if (!c.passed || !(large.epsilon > small.epsilon)) continue;
        if (curve.kind.targeted ? large.target_hits + tolerance < small.target_hits : large.correct > small.correct + tolerance) {
          c.passed = false;
          c.detail = curve.kind.targeted
                         ? fmt::format("{} reaches {} targets at eps {:g} but only {} at eps {:g}", curve.attack, small.target_hits,
                                       small.epsilon, large.target_hits, large.epsilon)
                         : fmt::format("{} leaves {} images correct at eps {:g} but {} at eps {:g}", curve.attack, small.correct,
                                       small.epsilon, large.correct, large.epsilon);
        }
      }
    }
    if (c.passed)
      c.detail = fmt::format("a larger eps never {} {}", curve.kind.targeted ? "reaches fewer targets" : "leaves more images correct", beyond);
    checks.push_back(std::move(c));
  }
  return checks;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("check_gradient_masking");
}

SweepResult run_sweep(models::Model& model, std::shared_ptr<const labels::LabelRepresentation> labels,
                      const data::ImageDataset& dataset, const torch::Tensor& indices, const SweepOptions& options) try {
  options.validate();
  if (!labels) throw InvalidArgument("attack sweep: labels are null");
  if (model.is_empty()) throw InvalidArgument("attack sweep: the model is empty");
  if (dataset.num_classes() != labels->num_classes())
    throw InvalidArgument(fmt::format("attack sweep: the dataset '{}' has {} classes but the {} labels {}", dataset.name(),
                                      dataset.num_classes(), labels->name(), labels->num_classes()));
  if (dataset.channels() != static_cast<std::int64_t>(options.statistics().mean.size()))
    throw InvalidArgument(fmt::format("attack sweep: the dataset '{}' has {} channels but the statistics {}", dataset.name(),
                                      dataset.channels(), options.statistics().mean.size()));
  if (!indices.defined() || indices.dim() != 1 || !c10::isIntegralType(indices.scalar_type(), /*includeBool=*/false) || indices.numel() == 0)
    throw InvalidArgument("attack sweep: indices must be a non-empty 1-D integer tensor (not a bool mask)");
  std::vector<AttackKind> kinds;
  for (const auto& name : options.attacks()) {
    kinds.push_back(parse_attack(name));
    check_classes_for_objective(kinds.back(), labels->num_classes(), "attack sweep");
  }
  // Each attack's gradient steps.
  const auto steps_of = [&](const AttackKind& kind) -> std::int64_t {
    if (!follows_gradient(kind.method)) return 0;
    if (kind.method == Method::kFgsm) return 1;
    return is_apgd(kind.method) && options.apgd_steps() > 0 ? options.apgd_steps() : options.steps();
  };

  const auto start = std::chrono::steady_clock::now();
  const eval::NearestNeighborEvaluator evaluator(labels, eval::NearestNeighborOptions().threshold(options.threshold()));
  const bool has_threshold = !labels->is_categorical();
  const auto tensor_options = model_options(model);
  auto batches = train::evaluation_batches(dataset, indices, options.statistics(), options.batch_size());
  // Targets for every image, in the order of `indices` (the batches keep that order).
  const auto true_ids = dataset.targets().to(torch::kCPU).index_select(0, indices.to(torch::kCPU, torch::kLong));
  // Drawn only for targeted attacks: with one class there is no other class to aim at, and untargeted
  // attacks need none.
  const bool any_targeted = std::any_of(kinds.begin(), kinds.end(), [](const AttackKind& kind) { return kind.targeted; });
  const auto targets = any_targeted ? random_targets(true_ids, labels->num_classes(), options.seed()) : true_ids;

  const auto& epsilons = options.epsilons();
  const std::size_t n_eps = epsilons.size();
  std::vector<std::int64_t> correct(kinds.size() * n_eps, 0), hits(kinds.size() * n_eps, 0), within(kinds.size() * n_eps, 0);
  std::vector<std::int64_t> worst_correct(n_eps, 0);
  std::int64_t clean_within = 0;
  std::vector<double> seconds(kinds.size() * n_eps, 0.0);
  const auto total = indices.numel();
  const auto flags = torch::TensorOptions().dtype(torch::kBool);
  torch::Tensor per_image_correct, per_image_hit;
  if (options.per_image()) {
    per_image_correct = torch::zeros({static_cast<std::int64_t>(kinds.size()), static_cast<std::int64_t>(n_eps), total}, flags);
    per_image_hit = torch::zeros_like(per_image_correct);
  }
  std::int64_t images = 0, initially_correct = 0, batch_number = 0;

  bool any_attack = false, need_true_gradient = false, need_target_gradient = false;
  for (double e : epsilons) any_attack = any_attack || e > 0;
  for (const auto& kind : kinds)
    if (any_attack && kind.objective == Objective::kLoss && (kind.method == Method::kFgsm || kind.method == Method::kIterative))
      (kind.targeted ? need_target_gradient : need_true_gradient) = true;
  std::int64_t zero_gradient = 0, unbounded_correct = 0;
  const bool unbounded = options.unbounded_check() && need_true_gradient;

  detail::EvalModeGuard eval_mode(*model);
  std::optional<ProgressLine> progress;
  if (options.progress()) progress.emplace("attack", indices.numel(), "images");
  batches.start_epoch(0);
  data::Batch batch;
  while (batches.next(batch)) {
    const auto n = batch.images.size(0);
    const auto x = batch.images.to(tensor_options);
    const auto y = batch.targets.to(tensor_options.device());
    const auto t = targets.slice(0, images, images + n).to(tensor_options.device());
    // The clean pass. When FGSM or BIM will run, it is also their first step's gradient at x (the same
    // for every ε): one forward and one backward per loss target instead of one per attack and ε.
    torch::Tensor clean, clean_outputs, gradient_true, gradient_target;
    if (need_true_gradient || need_target_gradient) {
      torch::AutoGradMode enable_grad(true);
      const auto input = x.detach().requires_grad_(true);
      const auto outputs = model->forward(input);
      clean_outputs = outputs.detach();
      clean = evaluator.predict(clean_outputs);
      if (need_true_gradient)
        gradient_true =
            input_gradient(model, outputs, input, y, *labels, Objective::kLoss, false, train::LossKind::kAuto, nullptr, need_target_gradient);
      if (need_target_gradient)
        gradient_target = input_gradient(model, outputs, input, t, *labels, Objective::kLoss, true, train::LossKind::kAuto, nullptr, false);
    } else {
      torch::NoGradGuard no_grad;
      clean_outputs = model->forward(x);
      clean = evaluator.predict(clean_outputs);
    }
    // Within the threshold without attack: all images (Table 1), and those also correct (the ε = 0 points).
    std::int64_t kept_within = 0;
    if (has_threshold) {
      torch::NoGradGuard no_grad;
      const auto hit = evaluator.within_threshold(clean_outputs, y);
      clean_within += hit.sum().item<std::int64_t>();
      kept_within = (hit & clean.eq(y)).sum().item<std::int64_t>();
    }
    const auto keep = clean.eq(y).nonzero().squeeze(1);
    const auto k = keep.numel();
    const auto kept_positions = keep.to(torch::kCPU) + images;  // in the order of `indices`
    initially_correct += k;
    const auto xs = x.index_select(0, keep), ys = y.index_select(0, keep), ts = t.index_select(0, keep);
    if (gradient_true.defined()) {
      gradient_true = gradient_true.index_select(0, keep);
      if (k > 0) zero_gradient += gradient_true.flatten(1).ne(0).any(1).logical_not().sum().item<std::int64_t>();
    }
    if (gradient_target.defined()) gradient_target = gradient_target.index_select(0, keep);
    if (unbounded && k > 0) {
      // ε = 1 pixel under L∞ (whatever the sweep's norm): the ball holds the whole box, so the attack
      // may turn the image into any image.
      const auto whole_box = AttackOptions(options.statistics())
                                 .method(Method::kIterative)
                                 .epsilon(1.0)
                                 .unit(EpsilonUnit::kPixel)
                                 .norm(Norm::kLinf)
                                 .steps(options.steps())
                                 .step_fraction(options.step_fraction());
      const auto adversarial = attack_checked(model, *labels, &evaluator, xs, ys, whole_box, gradient_true);
      torch::NoGradGuard no_grad;
      unbounded_correct += evaluator.predict(model->forward(adversarial)).eq(ys).sum().item<std::int64_t>();
    }
    // Per ε, whether each initially correct image has survived every attack so far.
    std::vector<torch::Tensor> survived(n_eps);
    for (auto& s : survived) s = torch::ones({k}, torch::TensorOptions().dtype(torch::kBool).device(ys.device()));
    for (std::size_t a = 0; a < kinds.size(); ++a) {
      for (std::size_t e = 0; e < n_eps; ++e) {
        const std::size_t slot = a * n_eps + e;
        if (epsilons[e] == 0 || k == 0) {  // unattacked: the clean predictions
          correct[slot] += k;
          within[slot] += kept_within;
          if (options.per_image()) per_image_correct[static_cast<std::int64_t>(a)][static_cast<std::int64_t>(e)].index_fill_(0, kept_positions, true);
          continue;
        }
        const auto tick = std::chrono::steady_clock::now();
        const auto attack_options = AttackOptions(options.statistics())
                                        .method(kinds[a].method)
                                        .targeted(kinds[a].targeted)
                                        .objective(kinds[a].objective)
                                        .epsilon(epsilons[e])
                                        .unit(options.unit())
                                        .norm(options.norm())
                                        .steps(std::max<std::int64_t>(1, steps_of(kinds[a])))
                                        .step_fraction(options.step_fraction())
                                        .queries(options.queries())
                                        .target_classes(kinds[a].method == Method::kApgdTargets ? options.target_classes() : 0)
                                        .seed(mix_seed(options.seed(), static_cast<std::uint64_t>(batch_number)));
        attack_options.validate();
        const auto& aim = kinds[a].targeted ? ts : ys;
        torch::Tensor outputs;
        // Restarts (PGD and APGD): each attacks the images no earlier restart broke, from its own start.
        torch::Tensor pending = torch::arange(k, torch::TensorOptions().dtype(torch::kLong).device(xs.device()));
        const bool restartable = kinds[a].method == Method::kPgd || is_apgd(kinds[a].method);
        const std::int64_t restarts = restartable ? options.restarts() : 1;
        for (std::int64_t r = 0; r < restarts && pending.numel() > 0; ++r) {
          auto restart_options = attack_options;
          if (r > 0) restart_options.seed(mix_seed(attack_options.seed(), static_cast<std::uint64_t>(r)));
          const bool all = r == 0;
          const auto adversarial = attack_checked(model, *labels, &evaluator, all ? xs : xs.index_select(0, pending), all ? aim : aim.index_select(0, pending),
                                                  restart_options,
                                                  kinds[a].objective != Objective::kLoss ? torch::Tensor()
                                                  : kinds[a].targeted                    ? gradient_target
                                                                                         : gradient_true);
          torch::NoGradGuard no_grad;
          const auto restart_outputs = model->forward(adversarial);
          if (restarts == 1) {
            outputs = restart_outputs;
            break;
          }
          const auto guess = evaluator.predict(restart_outputs);
          const auto broken = kinds[a].targeted ? guess.eq(aim.index_select(0, pending)) : guess.ne(aim.index_select(0, pending));
          // A later restart replaces the outputs of only the images it broke: an image keeps the first
          // restart's outputs unless some restart broke it, so no count gets worse with more restarts.
          if (all) outputs = restart_outputs;
          else outputs.index_copy_(0, pending.masked_select(broken), restart_outputs.index_select(0, broken.nonzero().squeeze(1)));
          pending = pending.masked_select(broken.logical_not());
        }
        torch::NoGradGuard no_grad;
        const auto predicted = evaluator.predict(outputs);
        correct[slot] += predicted.eq(ys).sum().item<std::int64_t>();
        survived[e].logical_and_(predicted.eq(ys));
        if (has_threshold) within[slot] += evaluator.within_threshold(outputs, ys).sum().item<std::int64_t>();
        if (kinds[a].targeted) hits[slot] += predicted.eq(ts).sum().item<std::int64_t>();
        if (options.per_image()) {
          const auto a_index = static_cast<std::int64_t>(a), e_index = static_cast<std::int64_t>(e);
          per_image_correct[a_index][e_index].index_put_({kept_positions}, predicted.eq(ys).to(torch::kCPU));
          if (kinds[a].targeted) per_image_hit[a_index][e_index].index_put_({kept_positions}, predicted.eq(ts).to(torch::kCPU));
        }
        seconds[slot] += std::chrono::duration<double>(std::chrono::steady_clock::now() - tick).count();
      }
    }
    for (std::size_t e = 0; e < n_eps; ++e) worst_correct[e] += survived[e].sum().item<std::int64_t>();
    images += n;
    ++batch_number;
    if (progress) progress->advance(n, fmt::format("{} of {} initially correct", initially_correct, images));
  }
  if (progress) progress->finish();

  SweepResult result;
  result.images = images;
  result.initially_correct = initially_correct;
  result.clean_accuracy = ratio(initially_correct, images);
  result.has_threshold = has_threshold;
  result.threshold = options.threshold();
  result.clean_threshold_accuracy = has_threshold ? ratio(clean_within, images) : std::nan("");
  result.unit = options.unit();
  result.norm = options.norm();
  result.steps = options.steps();
  result.step_fraction = options.step_fraction();
  result.restarts = options.restarts();
  result.queries = options.queries();
  result.seed = options.seed();
  result.labels = labels->name();
  for (std::size_t a = 0; a < kinds.size(); ++a) {
    SweepCurve curve;
    curve.attack = attack_name(kinds[a]);
    curve.kind = kinds[a];
    curve.steps = steps_of(kinds[a]);
    if (kinds[a].method == Method::kApgdTargets) curve.target_classes = target_classes_of(options.target_classes());
    for (std::size_t e = 0; e < n_eps; ++e) {
      const std::size_t slot = a * n_eps + e;
      SweepPoint p;
      p.epsilon = epsilons[e];
      p.correct = correct[slot];
      p.target_hits = hits[slot];
      p.accuracy = ratio(correct[slot], images);
      std::tie(p.accuracy_low, p.accuracy_high) = accuracy_interval(correct[slot], images);
      p.threshold_correct = within[slot];
      p.threshold_accuracy = has_threshold ? ratio(within[slot], images) : std::nan("");
      p.subset_accuracy = ratio(correct[slot], initially_correct);
      p.target_hit_rate = kinds[a].targeted ? ratio(hits[slot], initially_correct) : 0.0;
      p.seconds = seconds[slot];
      curve.points.push_back(p);
    }
    result.curves.push_back(std::move(curve));
  }
  for (std::size_t e = 0; e < n_eps; ++e) {
    SweepPoint p;
    p.epsilon = epsilons[e];
    p.correct = worst_correct[e];
    p.accuracy = ratio(worst_correct[e], images);
    std::tie(p.accuracy_low, p.accuracy_high) = accuracy_interval(worst_correct[e], images);
    p.subset_accuracy = ratio(worst_correct[e], initially_correct);
    p.target_hit_rate = 0.0;
    p.threshold_accuracy = std::nan("");
    result.worst_case.push_back(p);
  }
  if (need_true_gradient) result.zero_gradient_images = zero_gradient;
  if (unbounded) result.unbounded_correct = unbounded_correct;
  result.per_image_correct = per_image_correct;
  result.per_image_target_hit = per_image_hit;
  result.masking_checks = check_gradient_masking(result);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("run_sweep");
}

}  // namespace labelrep::attack
