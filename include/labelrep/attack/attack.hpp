#pragma once
/// \file attack.hpp  Adversarial attacks (FGSM, the iterative method, PGD, APGD, APGD-T, Square; L∞ or L2) and the paper's robustness sweep.
///
/// One attack core serves every label representation: the gradient attacks follow the training loss of
/// the labels (train::label_loss: cross-entropy for categorical labels, smooth L1 to the class label
/// otherwise; the paper's attacks), the decision margin (Objective::kMargin) or AutoAttack's DLR loss
/// (Objective::kDlr), and success is judged
/// by the evaluator that evaluation uses (eval::NearestNeighborEvaluator::predict: argmax or the nearest
/// label). A whole batch is attacked at once, on the model's device.
///
///  - FGSM: x' = x ± ε·sign(∇ₓJ), one step (+ untargeted: raise the loss to the true class;
///    − targeted: lower the loss to the target class).
///  - The iterative method (BIM, Kurakin et al.): x⁰ = x, then `steps` FGSM steps of size α (default
///    ε/steps), each from a fresh input gradient, each followed by the projection onto the ε-ball around
///    x and the clamp to the valid pixel box.
///  - PGD (Madry et al.): BIM from a random start x + ε·U(−1, 1) (clamped to the box), default
///    α = 2.5·ε/steps.
///  - Noise: x + ε·s with s a seeded random sign per pixel (clamped to the box). Not an attack but its
///    baseline: a gradient attack that does worse than it is a sign of gradient masking
///    (check_gradient_masking).
///  - Square (Andriushchenko et al. 2020): a black-box attack that needs only the model's outputs,
///    no gradient. Under L∞ it starts from vertical stripes of ±ε, then for `queries` − 1 rounds
///    changes one random square window of each image to a random ±ε per channel and keeps the change
///    when the decision margin falls; an image stops once broken. Under L2 it starts from a grid of
///    centre-weighted tiles on the sphere of radius ε; each round one window gets a new
///    centre-weighted pattern (added to its old content) and takes over the length of a second
///    random window, which is zeroed, so the perturbation stays on the sphere (before the box clamp).
///    The margin is the one evaluation decides by: for untargeted attacks the true class's score minus the best other class's, for targeted
///    ones the best other class's minus the target's, with the score the logit (categorical) or
///    minus the mean squared error to the class label (nearest-label decoding). A gradient attack
///    that Square beats is a sign of gradient masking (AutoAttack's check).
///
/// ε is given in normalised-input units (the paper's protocol: ε ∈ {0, 0.05, …, 0.3} added to the
/// mean/std-normalised image) or in [0, 1] pixel units, which become ε/std_c in channel c. Adversarial
/// images always stay in the box of valid pixels: [(0 − mean_c)/std_c, (1 − mean_c)/std_c] per channel.
///
/// The threat model is the L∞ ball (the paper's; every pixel moves by at most ε) or the L2 ball
/// (Norm::kL2: the perturbation's Euclidean length is at most ε, measured in the unit of ε, so in
/// pixel units on the pixel values, RobustBench's L2 threat model). Under L2 the gradient attacks step
/// along the gradient scaled to unit length (in the unit's space) instead of its sign, project onto
/// the ball by shrinking the perturbation and then clamp to the box (which only shortens it); PGD and
/// APGD start from a random point on the sphere of radius ε, the noise is a random direction of length
/// ε, and Square searches with its L2 windows.
///
/// Example (the paper's untargeted iterative attack with ε = 0.1 on a batch):
/// \code
///   auto run = labelrep::train::load_trained_run("runs/speech-seed0");
///   using labelrep::attack::AttackOptions;
///   auto options = AttackOptions(run.statistics).method(labelrep::attack::Method::kIterative).epsilon(0.1);
///   torch::Tensor adversarial = labelrep::attack::perturb(run.model, *run.labels, batch.images, batch.targets, options);
///   torch::Tensor predicted = labelrep::eval::NearestNeighborEvaluator(run.labels).predict(run.model(adversarial));
///
///   // The whole protocol: attacks × ε over the test set.
///   auto sweep = labelrep::attack::run_sweep(run.model, run.labels, test, torch::arange(test.size()),
///                                            labelrep::attack::SweepOptions(run.statistics));
///   std::cout << sweep.to_json();
/// \endcode
///
/// The model is put in eval mode for the attack and restored afterwards; gradients are enabled inside
/// the calls even when the caller holds a torch::NoGradGuard; the input gradient is taken with
/// torch::autograd::grad, so the parameters' `.grad` are left untouched.
/// Thread-safety: don't attack one model from two threads (its mode is switched); otherwise reentrant.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <torch/arg.h>
#include <torch/types.h>

#include "labelrep/data/dataset.hpp"
#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/loss.hpp"

namespace labelrep::attack {

enum class Method {
  kFgsm,       ///< one step of size ε
  kIterative,  ///< the iterative method / BIM: `steps` steps of size α from x, projected after each
  kPgd,        ///< BIM from a uniformly random start in the ε-ball
  /// Auto-PGD (Croce & Hein 2020, AutoAttack's white-box attack): `steps` steps from PGD's random start
  /// with momentum and a step size per image that starts at 2ε and halves where the objective stops
  /// rising; returns each image's first point that is broken, else its point of highest objective
  kApgd,
  /// AutoAttack's APGD-T (`apgd-t`, untargeted only): the untargeted question asked as
  /// AttackOptions::target_classes targeted APGD searches, aimed in turn at each image's most likely
  /// other classes; an image is broken once misclassified as any class
  kApgdTargets,
  kNoise,      ///< no gradient: a random sign of size ε per pixel (the baseline of check_gradient_masking); untargeted only
  kSquare,     ///< no gradient: the Square attack's random search over square windows, `queries` model calls per image at most
};

/// The unit ε is given in.
enum class EpsilonUnit {
  kNormalized,  ///< the normalised input (x − mean)/std: the paper's protocol
  kPixel,       ///< [0, 1] pixel values: ε/std_c on the normalised input of channel c
};

/// "normalized" or "pixel".
LABELREP_API const char* epsilon_unit_name(EpsilonUnit unit);
/// Parses epsilon_unit_name()'s strings. Throws InvalidArgument naming the value otherwise.
LABELREP_API EpsilonUnit parse_epsilon_unit(const std::string& name);

/// The norm of the ε-ball: the threat model.
enum class Norm {
  kLinf,  ///< every value moves by at most ε (the paper's attacks; AutoAttack's and RobustBench's Linf)
  kL2,    ///< the perturbation's Euclidean length is at most ε (RobustBench's L2: ε = 0.5 in pixel units on CIFAR-10)
};

/// "linf" or "l2".
LABELREP_API const char* norm_name(Norm norm);
/// Parses norm_name()'s strings. Throws InvalidArgument naming the value otherwise.
LABELREP_API Norm parse_norm(const std::string& name);

/// What a gradient attack (FGSM, BIM, PGD, APGD) follows the gradient of.
enum class Objective {
  kLoss,    ///< the labels' training loss to the class (the paper's attacks; AttackOptions::loss)
  /// The decision margin to the class: the best other class's score minus the class's, with the scores
  /// the evaluator decides by (Carlini–Wagner's margin on logits; on nearest-label decoding the
  /// difference of mean squared errors to the labels). It aims at the decision itself, so it still
  /// works where the training loss's gradient leads nowhere (docs/robustness.md).
  kMargin,
  /// AutoAttack's DLR loss (Croce & Hein 2020): the margin divided by the spread of the image's own top
  /// scores (the best minus the third best; targeted: minus the mean of the third and fourth), so
  /// that it does not change when an image's scores are scaled or shifted. AutoAttack's APGD-T runs on it
  /// (`apgd-t-dlr`). Needs at least 3 classes (targeted and APGD-T: 4).
  kDlr,
};

/// An attack by name: a method, untargeted or targeted, and what a gradient attack follows.
struct LABELREP_API AttackKind {
  Method method = Method::kFgsm;
  bool targeted = false;
  Objective objective = Objective::kLoss;  ///< kMargin and kDlr only for FGSM, BIM, PGD, APGD and APGD-T
};
/// "fgsm", "bim", "pgd", "apgd", each also with "-margin" (the margin objective) or "-dlr" (the DLR
/// loss), each of these also with "-targeted" ("bim-margin-targeted"); "apgd-t", "apgd-t-margin",
/// "apgd-t-dlr" (APGD-T: untargeted only); "noise"; "square", "square-targeted".
LABELREP_API std::string attack_name(const AttackKind& kind);
/// Parses attack_name()'s strings. Throws InvalidArgument naming the value and the known names.
LABELREP_API AttackKind parse_attack(const std::string& name);

/// APGD-T's target classes when AttackOptions::target_classes is 0: AutoAttack's.
constexpr std::int64_t kAutoAttackTargetClasses = 9;

/// The paper's ε values: 0, 0.05, …, 0.3 (normalised units).
LABELREP_API std::vector<double> paper_epsilons();

/// Options of one attack. The statistics are the normalisation the model was trained with (they give
/// the valid pixel box and the pixel unit). Example:
/// `AttackOptions(stats).method(Method::kPgd).targeted(true).epsilon(8.0 / 255).unit(EpsilonUnit::kPixel).steps(10)`.
struct LABELREP_API AttackOptions {
  explicit AttackOptions(data::ChannelStatistics statistics) : statistics_(std::move(statistics)) {}
  /// Throws InvalidArgument for a negative or non-finite ε, steps < 1, a negative or non-finite step
  /// size, queries < 1, a square fraction outside (0, 1], statistics whose mean and std differ in
  /// length or are empty, a std that is not positive, targeted noise (noise aims at nothing), the
  /// margin or DLR objective with noise or Square, a negative target_classes, target_classes > 0 with
  /// another attack than APGD-T, or a targeted APGD-T (APGD-T answers the untargeted question).
  void validate() const;

  TORCH_ARG(data::ChannelStatistics, statistics);
  TORCH_ARG(Method, method) = Method::kFgsm;
  /// false: raise the loss to `class_ids` (the true classes); true: lower the loss to `class_ids`
  /// (the target classes).
  TORCH_ARG(bool, targeted) = false;
  TORCH_ARG(double, epsilon) = 0.0;
  TORCH_ARG(EpsilonUnit, unit) = EpsilonUnit::kNormalized;
  /// The ball ε bounds (in `unit`): L∞ (the paper's) or L2.
  TORCH_ARG(Norm, norm) = Norm::kLinf;
  /// Steps of the iterative method, PGD and APGD (FGSM takes one; APGD-T this many per search).
  /// AutoAttack runs APGD with 100.
  TORCH_ARG(std::int64_t, steps) = 5;
  /// The step size α as a fraction of ε; 0: the default (1/steps for BIM, the paper's α = ε/5;
  /// 2.5/steps for PGD; 2 for APGD's first step, which it then adapts; FGSM always steps by ε).
  TORCH_ARG(double, step_fraction) = 0.0;
  /// Seed of PGD's and APGD's random start (pgd_random_start), of the noise's signs and of Square's draws.
  TORCH_ARG(std::uint64_t, seed) = 0;
  /// Square: model calls per image at most (the first one scores the start). AutoAttack
  /// runs 5000; 1000 breaks most of what 5000 does on small images at a fifth of the cost.
  TORCH_ARG(std::int64_t, queries) = 1000;
  /// Square: the first windows' share of the image area (the paper's p_init; AutoAttack's 0.8). It is
  /// halved on the paper's schedule (after 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of 10,000
  /// queries, scaled to `queries`); a window's side is round(√(p·H·W)). Under L∞ it is at least 1 and
  /// at most min(H, W) − 1 (1 for an image one pixel high or wide). Under L2 it is odd and at least 3
  /// (as AutoAttack's), so the centre-weighted pattern has a centre, and at most min(H, W).
  TORCH_ARG(double, square_fraction) = 0.8;
  /// APGD-T (Method::kApgdTargets) only: k targeted APGD searches aimed in turn at each image's k most
  /// likely other classes (by its clean scores: logits, or minus the distances to the labels; k above
  /// C − 1 means C − 1); 0, the default, means AutoAttack's 9 (kAutoAttackTargetClasses). Each search
  /// takes `steps` steps, from its own random start, on the images no earlier search broke. An image
  /// counts as broken when it is misclassified as any class, as for the untargeted attack. Other
  /// attacks refuse k > 0: before APGD-T had its own method, k > 0 turned the untargeted kApgd into
  /// APGD-T, and such code should now fail, not quietly run plain APGD.
  TORCH_ARG(std::int64_t, target_classes) = 0;
  /// What FGSM, BIM, PGD and APGD follow (kMargin or kDlr with noise or Square is refused: noise follows
  /// nothing, Square always searches on the margin).
  TORCH_ARG(Objective, objective) = Objective::kLoss;
  /// The loss of Objective::kLoss; kAuto: the labels' training loss (train::default_loss).
  TORCH_ARG(train::LossKind, loss) = train::LossKind::kAuto;
};

/// Adversarial images for a batch.
///
/// Requires: `images` floating-point `[N, C, H, W]`, normalised with options.statistics() (C values
/// each); `class_ids` integer `[N]` in [0, labels.num_classes()): the true classes (untargeted) or the
/// target classes (targeted); a model whose outputs fit `labels`. Inputs may be on any device; the
/// work runs on the model's device in its parameters' dtype.
/// Ensures: `[N, C, H, W]` on the model's device with ‖x_adv − x‖ ≤ ε in the norm and unit given (per
/// image, up to float rounding) and every value in the valid box of its channel; ε = 0 returns the images unchanged. The
/// model's mode, parameters, buffers and `.grad` are as before the call.
/// Throws: InvalidArgument for invalid options (AttackOptions::validate), images that are not 4-D
/// floating point, a channel count other than the statistics', class ids of another length or out of
/// range, the DLR objective on labels of fewer than 3 classes (targeted and APGD-T: 4), and what label_loss throws
/// for outputs that do not fit the labels.
LABELREP_API torch::Tensor perturb(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& images,
                                   const torch::Tensor& class_ids, const AttackOptions& options);

/// The same with one ε per image: `epsilons` floating-point `[N]` (any device), each finite and ≥ 0, in
/// options.unit() (options.epsilon() is not used). Image i is attacked as perturb would attack it with
/// ε = epsilons[i]; PGD's, APGD's, the noise's and Square's draws are those of perturb on the whole
/// batch, so equal ε give exactly perturb's result.
/// Throws: as perturb, and InvalidArgument for epsilons that are undefined, of another length, or hold a
/// negative or non-finite value.
LABELREP_API torch::Tensor perturb(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& images,
                                   const torch::Tensor& class_ids, const AttackOptions& options, const torch::Tensor& epsilons);

/// Options of minimal_epsilon: the attack (its method, objective, targeted or not, unit, norm, steps,
/// step fraction, seed, queries; its `epsilon` is not used, the search sets ε per image) and the search.
/// Example: `RadiusOptions(AttackOptions(stats).method(Method::kApgd).objective(Objective::kMargin)).max_epsilon(0.3)`.
struct LABELREP_API RadiusOptions {
  explicit RadiusOptions(AttackOptions attack) : attack_(std::move(attack)) {}
  /// Throws InvalidArgument for invalid attack options (AttackOptions::validate), a max_epsilon that is
  /// not a finite number > 0, or bisections outside [1, 50].
  void validate() const;

  TORCH_ARG(AttackOptions, attack);
  /// The largest ε tried, in the attack's unit: an image the attack does not break there gets +∞.
  TORCH_ARG(double, max_epsilon) = 0.3;
  /// Halvings of each image's bracket [0, max_epsilon]: the radius is found to max_epsilon / 2^bisections.
  /// Each costs one attack of the images (so 1 + bisections attacks in all).
  TORCH_ARG(std::int64_t, bisections) = 10;
};

/// Each image's robust radius under an attack: the smallest ε, to max_epsilon / 2^bisections, at which
/// the attack breaks the image (untargeted: it is no longer classified as `class_ids`; targeted: it is
/// classified as `class_ids`), found by bisection per image on [0, max_epsilon]. The attack runs at
/// max_epsilon, then at the middle of each image's bracket, keeping the half where it breaks the image.
/// Every returned ε is one at which the attack did break the image, so it is an upper bound of the
/// image's true minimal perturbation in this threat model (a stronger attack can only lower it); an
/// attack that is not monotone in ε may break an image below its bracket too.
/// Requires: as perturb (the same images, ids and model).
/// Ensures: float64 `[N]` on the CPU: 0 where the clean image is already broken (untargeted:
/// misclassified; targeted: already its target), +∞ where the attack at max_epsilon does not break it,
/// else a value in (0, max_epsilon]. The fraction of images whose radius exceeds ε is the attack's
/// accuracy at ε (up to the resolution). The model's mode, parameters and `.grad` are as before the call.
/// Throws: as perturb, and InvalidArgument for invalid search options (RadiusOptions::validate).
LABELREP_API torch::Tensor minimal_epsilon(models::Model& model, const labels::LabelRepresentation& labels, const torch::Tensor& images,
                                           const torch::Tensor& class_ids, const RadiusOptions& options);

/// PGD's random start for images of `sizes` and a seed: uniform on [−1, 1), float32 on the CPU, drawn
/// from a local generator (the global one is untouched). PGD starts from x + ε_c·start, clamped to the
/// box (L∞; under L2 it starts on the sphere of radius ε, in a direction drawn from the same seed).
LABELREP_API torch::Tensor pgd_random_start(torch::IntArrayRef sizes, std::uint64_t seed);

/// Random target classes for targeted attacks: for image i, one class other than `true_ids[i]`, uniform
/// over the other C − 1, drawn in order from NumpyRandom(seed). They depend only on the seed, the true
/// classes and C, so every model attacked with the same seed gets the same targets; the targets of the
/// first k images do not depend on how many follow. Returns int64 `[N]` on the CPU.
/// Throws InvalidArgument for C < 2, a seed ≥ 2^32, or ids that are not 1-D integers in [0, C).
LABELREP_API torch::Tensor random_targets(const torch::Tensor& true_ids, std::int64_t num_classes, std::uint64_t seed);

/// Options of a robustness sweep. Example: `SweepOptions(stats).attacks({"fgsm", "bim"}).epsilons({0, 0.1})`.
struct LABELREP_API SweepOptions {
  explicit SweepOptions(data::ChannelStatistics statistics) : statistics_(std::move(statistics)) {}
  /// Throws InvalidArgument for no attacks, an unknown attack name, no ε, a negative or non-finite ε,
  /// steps < 1, apgd_steps < 0, queries < 1, a negative target_classes or one > 0 without an APGD-T
  /// among the attacks, a batch size < 1, restarts < 1, a seed ≥ 2^32, a threshold that is not
  /// positive, or invalid statistics.
  void validate() const;

  TORCH_ARG(data::ChannelStatistics, statistics);
  /// Attack names (parse_attack). "noise" is the baseline check_gradient_masking compares the others
  /// with; "square" (black-box, `queries` model calls per image) the stronger one it also uses when given.
  TORCH_ARG(std::vector<std::string>, attacks) = {"fgsm", "fgsm-targeted", "bim", "bim-targeted", "noise"};
  TORCH_ARG(std::vector<double>, epsilons) = paper_epsilons();
  TORCH_ARG(EpsilonUnit, unit) = EpsilonUnit::kNormalized;
  /// The threat model of every attack of the sweep (AttackOptions::norm). The default ε are the
  /// paper's L∞ ones: give L2 sweeps their own (an L2 ε of 0.3 moves a 32×32×3 image by much less).
  TORCH_ARG(Norm, norm) = Norm::kLinf;
  TORCH_ARG(std::int64_t, steps) = 5;
  /// APGD's and APGD-T's steps (per search); 0: `steps`. So that one sweep, and its worst case, can hold the paper's 5-step BIM
  /// and AutoAttack's 100-step APGD.
  TORCH_ARG(std::int64_t, apgd_steps) = 0;
  /// α as a fraction of ε (AttackOptions::step_fraction; 0: the defaults).
  TORCH_ARG(double, step_fraction) = 0.0;
  /// Seeds the targets (random_targets), PGD's and APGD's random starts, the noise and Square's draws
  /// (with the batch number).
  TORCH_ARG(std::uint64_t, seed) = 0;
  /// Images attacked at once.
  TORCH_ARG(std::int64_t, batch_size) = 256;
  /// PGD's, APGD's and APGD-T's random restarts (≥ 1): an image counts as broken when any restart breaks it
  /// (misclassified; targeted: classified as its target), its outputs those of the first restart that
  /// did, or of the first restart if none did. Each restart after the first attacks only the images not
  /// broken yet (as AutoAttack), from its own random start. The first restart is the attack of
  /// restarts = 1, so more restarts never leave more images correct nor reach fewer targets. FGSM, BIM,
  /// noise and Square run once.
  TORCH_ARG(std::int64_t, restarts) = 1;
  /// Square's model calls per image at most (AttackOptions::queries).
  TORCH_ARG(std::int64_t, queries) = 1000;
  /// APGD-T's (apgd-t, apgd-t-margin, apgd-t-dlr) target classes (AttackOptions::target_classes, within
  /// each restart); 0, the default, means AutoAttack's 9. A count > 0 needs an APGD-T among the attacks.
  TORCH_ARG(std::int64_t, target_classes) = 0;
  /// Also run an untargeted L∞ BIM (with `steps`, whatever the sweep's norm) at ε = 1 in pixel units,
  /// whose ball holds the whole pixel box, when the sweep has an untargeted FGSM or BIM on the loss: an attack allowed to change the image into any
  /// image must break nearly every image (Athalye et al. 2018), so one that does not is a sign that the
  /// gradient misleads (SweepResult::unbounded_correct, the unbounded-attack check). Costs one BIM point.
  TORCH_ARG(bool, unbounded_check) = true;
  /// Also keep each image's outcome (SweepResult::per_image_correct, per_image_target_hit): to pair
  /// images across models, or to find the smallest ε that breaks each image.
  TORCH_ARG(bool, per_image) = false;
  /// A progress line on a terminal (quiet otherwise).
  TORCH_ARG(bool, progress) = true;
  /// The threshold of the threshold accuracy (label regression only; NearestNeighborOptions): use the
  /// run's (ExperimentConfig::threshold) to compare with its Table 1 numbers.
  TORCH_ARG(double, threshold) = 3.5;
};

/// One attack at one ε.
struct LABELREP_API SweepPoint {
  double epsilon = 0.0;
  std::int64_t correct = 0;          ///< images still classified as their true class (0 for the initially wrong)
  std::int64_t target_hits = 0;      ///< targeted: images classified as their target class
  std::int64_t threshold_correct = 0;  ///< label regression: attacked images whose output stays within the threshold of the true label
  double accuracy = 0.0;             ///< correct / images: initially misclassified images count as failures (the paper)
  /// The 95% Wilson interval of `accuracy` (eval::wilson_interval(correct, images)): how far the
  /// sample of images lets it be trusted.
  double accuracy_low = 0.0, accuracy_high = 0.0;
  /// threshold_correct / images (the paper's Figure 3, solid lines): only the initially correct images
  /// (nearest label) are attacked, the others count as failures, as for `accuracy`; NaN for
  /// categorical labels, which have no threshold rule.
  double threshold_accuracy = 0.0;
  double subset_accuracy = 0.0;      ///< correct / initially correct images (the paper's appendix); NaN if none
  double target_hit_rate = 0.0;      ///< targeted: target_hits / initially correct images; NaN if none
  double seconds = 0.0;              ///< time spent attacking and classifying at this ε
};

/// One attack over the ε list.
struct LABELREP_API SweepCurve {
  std::string attack;  ///< its name
  AttackKind kind;
  std::int64_t steps = 0;  ///< the gradient steps it took per image (per search for APGD-T): 1 for FGSM, 0 for noise and Square
  std::int64_t target_classes = 0;  ///< APGD-T's target classes as searched (9 for SweepOptions::target_classes 0); 0 for the other attacks
  std::vector<SweepPoint> points;  ///< in the order of SweepOptions::epsilons
};

/// One check for gradient masking (docs/robustness.md, "Is it gradient masking?").
struct LABELREP_API MaskingCheck {
  /// "zero-gradient", "unbounded-attack", "noise-beats-attack", "square-beats-attack",
  /// "iterative-weaker-than-fgsm" or "not-monotone"
  std::string check;
  std::string attack;  ///< the attack checked (empty for zero-gradient)
  bool passed = true;
  std::string detail;  ///< what was compared, with the numbers (the first failing ε when not passed)
};

struct LABELREP_API SweepResult {
  std::int64_t images = 0;             ///< images evaluated
  std::int64_t initially_correct = 0;  ///< correctly classified without attack (only these are attacked)
  double clean_accuracy = 0.0;
  bool has_threshold = false;          ///< label regression (not categorical): threshold accuracies are filled in
  double threshold = 0.0;              ///< the threshold used
  /// Images within the threshold of their true label without attack, over all images (the Table 1
  /// definition; the ε = 0 points count only the initially correct ones). NaN without threshold.
  double clean_threshold_accuracy = 0.0;
  EpsilonUnit unit = EpsilonUnit::kNormalized;
  Norm norm = Norm::kLinf;
  std::int64_t steps = 0;
  double step_fraction = 0.0;
  std::int64_t restarts = 1;           ///< PGD's and APGD's random restarts (SweepOptions::restarts)
  std::int64_t queries = 0;            ///< Square's model calls per image at most (SweepOptions::queries)
  std::uint64_t seed = 0;
  std::string labels;                  ///< the label kind
  double seconds = 0.0;                ///< the whole sweep
  std::vector<SweepCurve> curves;      ///< in the order of SweepOptions::attacks
  /// Per ε (in the order of SweepOptions::epsilons): the images classified as their true class after
  /// *every* attack of the sweep (targeted ones too), AutoAttack's robust accuracy: an image counts as
  /// robust only if no attack broke it. `correct`, `accuracy` (over all images) and `subset_accuracy`
  /// are filled in, `threshold_accuracy` is NaN and the other fields 0. This, not the best single
  /// curve, is the number a robustness claim rests on.
  std::vector<SweepPoint> worst_case;
  /// Initially correct images whose untargeted loss gradient at the clean image is exactly zero
  /// everywhere (FGSM and BIM cannot move them); measured when an untargeted FGSM or BIM on the loss
  /// runs at some ε > 0.
  std::optional<std::int64_t> zero_gradient_images;
  /// Initially correct images an untargeted BIM at ε = 1 pixel (the whole box) leaves correct; measured
  /// with SweepOptions::unbounded_check when an untargeted FGSM or BIM on the loss runs at some ε > 0.
  std::optional<std::int64_t> unbounded_correct;
  std::vector<MaskingCheck> masking_checks;  ///< check_gradient_masking(*this), filled in by run_sweep
  /// With SweepOptions::per_image: bool `[attacks, epsilons, N]` on the CPU, in the order of the
  /// curves, their points and `indices`: true where the image is classified as its true class after
  /// that attack at that ε (false for the initially misclassified, which are not attacked). Undefined
  /// otherwise. per_image_correct[a][e].sum() is curves[a].points[e].correct.
  torch::Tensor per_image_correct;
  /// With SweepOptions::per_image: bool `[attacks, epsilons, N]`, true where a targeted attack made the
  /// image classified as its target (always false for untargeted attacks). Undefined otherwise.
  torch::Tensor per_image_target_hit;

  /// The result as a JSON object (NaN written as null); see docs/robustness.md for the fields.
  /// Throws InvalidArgument if a text in it (label or attack name) is not valid UTF-8.
  std::string to_json() const;
};

/// Looks for the signs of gradient masking (Athalye et al. 2018; AutoAttack's checks) in a sweep's
/// counts. An image count "exceeds" another when it is larger by more than the tolerance: 1% of the
/// initially correct images rounded up to a whole image (so at least one). The checks, each present only when the sweep has
/// what it compares:
///  - zero-gradient: no initially correct image has an all-zero loss gradient (needs zero_gradient_images);
///  - unbounded-attack: the unbounded BIM leaves no more images correct than the tolerance (needs
///    unbounded_correct);
///  - noise-beats-attack, per untargeted gradient attack: at no ε does it leave more images correct
///    than the noise at that ε (needs a "noise" curve);
///  - square-beats-attack, per iterative gradient attack (BIM, PGD, APGD, APGD-T; one FGSM step is weaker than a
///    search by design): at no ε does it leave more images correct than the untargeted Square
///    (untargeted) or reach fewer targets than the targeted Square (targeted) at that ε (needs the
///    Square curve of the same kind);
///  - iterative-weaker-than-fgsm, per BIM/PGD/APGD/APGD-T curve: at no ε does it leave more images correct
///    (untargeted) or reach fewer targets (targeted) than FGSM of the same kind and objective;
///  - not-monotone, per gradient attack: no larger ε leaves more images correct than a smaller one
///    (untargeted), and no larger ε reaches fewer targets (targeted BIM, PGD and APGD; one-step targeted
///    FGSM overshoots at large ε by design, so it is left out).
/// A failed check is a reason to distrust the robustness numbers, not a proof of masking. Points are
/// matched by ε; the result depends only on the counts. Throws nothing (but Error on memory exhaustion).
LABELREP_API std::vector<MaskingCheck> check_gradient_masking(const SweepResult& result);

/// The paper's robustness protocol: classifies the images of `dataset` at `indices` (in batches, as
/// evaluation does: train::evaluation_batches with the options' statistics), attacks the correctly
/// classified ones with every attack at every ε (ε = 0 is the clean result, not recomputed), and
/// counts how many keep their true class and, for targeted attacks, how many reach their target
/// (random_targets(true classes of `indices`, C, seed)). The clean pass runs with gradients and also
/// gives FGSM's and BIM's first step, whose gradient at x is the same for every ε; the results are
/// those of perturb on the initially correct images (up to float rounding). It also counts the images
/// whose gradient there is zero and runs check_gradient_masking on the result.
/// Requires: the model and labels of one run; dataset classes == labels classes; uint8 images with the
/// statistics' channel count. The model's mode is restored afterwards.
/// Throws: InvalidArgument for null labels, an empty model, invalid options, class or channel counts
/// that do not fit, bad indices (as the Batcher: a non-empty 1-D integer tensor, not a bool mask, in
/// range), targeted attacks on labels of one class (there is no other class to aim at), and the DLR
/// objective on labels of fewer than 3 classes (targeted and APGD-T: 4).
LABELREP_API SweepResult run_sweep(models::Model& model, std::shared_ptr<const labels::LabelRepresentation> labels,
                                   const data::ImageDataset& dataset, const torch::Tensor& indices, const SweepOptions& options);

}  // namespace labelrep::attack
