#pragma once
// Small models trained inside the attack tests (include after catch.hpp and torch): the same seeded
// recipe for every test file, so that a model's behaviour measured in one holds in the others.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "labelrep/attack/attack.hpp"
#include "labelrep/data/batcher.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/trainer.hpp"

namespace labelrep_test {

/// The normalisation the tiny models train with (one channel).
inline const labelrep::data::ChannelStatistics kTinyStats{{0.3}, {0.3}};

struct TinyModel {
  std::shared_ptr<const labelrep::labels::LabelRepresentation> labels;
  labelrep::models::Model model{nullptr};
};

/// A small CNN trained for 60 SGD steps on the quadrants (float32, in eval mode): categorical labels,
/// or 8×8 composite labels.
inline TinyModel train_tiny(bool categorical) {
  using namespace labelrep;
  TinyModel t;
  if (categorical) t.labels = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(4));
  else t.labels = std::make_shared<const labels::CompositeLabels>(labels::CompositeLabelsOptions(4).size(8).seed(2));
  torch::manual_seed(11);
  t.model = models::Model(models::SmallCnn(models::SmallCnnOptions().in_channels(1).width(8)).ptr(), models::make_decoder(32, *t.labels));
  torch::optim::SGD optimizer(t.model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  const auto set = quadrants(256, 1);
  data::Batcher batches(set, torch::arange(set.size()),
                        data::BatcherOptions(kTinyStats.mean, kTinyStats.std).batch_size(32).seed(1).crop_padding(0).horizontal_flip(false));
  t.model->train();
  data::Batch batch;
  for (std::int64_t epoch = 0, steps = 0; steps < 60; ++epoch) {
    batches.start_epoch(epoch);
    while (steps < 60 && batches.next(batch)) {
      train::train_step(t.model, optimizer, batch, *t.labels);
      ++steps;
    }
  }
  t.model->eval();
  return t;
}

/// The first n quadrant test images (seed 99), normalised with kTinyStats, as one batch: the images the
/// attack tests attack.
inline labelrep::data::Batch quadrant_batch(std::int64_t n) {
  auto batches = labelrep::train::evaluation_batches(quadrants(n, 99), torch::arange(n), kTinyStats, n);
  labelrep::data::Batch batch;
  batches.start_epoch(0);
  batches.next(batch);
  return batch;
}

/// Attack options for the attack named `name` (attack::parse_attack: method, targeted, objective) with
/// `statistics`; everything else at its default.
inline labelrep::attack::AttackOptions options_named(const labelrep::data::ChannelStatistics& statistics, const std::string& name) {
  const auto kind = labelrep::attack::parse_attack(name);
  return labelrep::attack::AttackOptions(statistics).method(kind.method).targeted(kind.targeted).objective(kind.objective);
}

/// One image's objective to class `cls` from its output `out` [1, ...], written out for the reference
/// attacks: the training loss (cross-entropy, or the mean smooth L1 with β = 1 to the class's label), or
/// with `margin` the best other class's score minus the class's, the scores logits or minus the mean
/// squared error to each label.
inline torch::Tensor reference_objective(const labelrep::labels::LabelRepresentation& labels, const torch::Tensor& out, std::int64_t cls,
                                         bool margin) {
  if (margin) {
    std::vector<torch::Tensor> scores;
    for (std::int64_t c = 0; c < labels.num_classes(); ++c)
      scores.push_back(labels.is_categorical() ? out[0][c] : -(out[0] - labels.matrix()[c].to(out.dtype())).pow(2).mean());
    torch::Tensor best_other;
    for (std::int64_t c = 0; c < labels.num_classes(); ++c)
      if (c != cls) best_other = best_other.defined() ? torch::maximum(best_other, scores[c]) : scores[c];
    return best_other - scores[cls];
  }
  if (labels.is_categorical()) return -torch::log_softmax(out, 1)[0][cls];
  return torch::smooth_l1_loss(out, labels.matrix()[cls].to(out.dtype()).unsqueeze(0));
}

/// One image's DLR loss to class `cls` from its output `out` [1, ...], written out for the reference
/// attacks: the margin objective above divided by z₁ − z₃ (targeted: z₁ − (z₃ + z₄)/2), with z the
/// image's scores sorted from the highest.
inline torch::Tensor reference_dlr(const labelrep::labels::LabelRepresentation& labels, const torch::Tensor& out, std::int64_t cls,
                                   bool targeted) {
  std::vector<torch::Tensor> scores;
  for (std::int64_t c = 0; c < labels.num_classes(); ++c)
    scores.push_back(labels.is_categorical() ? out[0][c] : -(out[0] - labels.matrix()[c].to(out.dtype())).pow(2).mean());
  const auto sorted = std::get<0>(torch::stack(scores).sort(0, /*descending=*/true));
  const auto spread = targeted ? sorted[0] - (sorted[2] + sorted[3]) / 2 : sorted[0] - sorted[2];
  return reference_objective(labels, out, cls, /*margin=*/true) / (spread + 1e-12);
}

}  // namespace labelrep_test
