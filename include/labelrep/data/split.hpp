#pragma once
/// \file split.hpp  Seeded train/validation splits and nested data levels.
///
/// One seeded permutation of the training set decides everything: its first V images are the
/// validation set, the rest the training pool, and data level p % is the first ⌊p/100 · base⌋ images
/// of the pool in the same order. Levels are therefore nested (1 % ⊂ 2 % ⊂ … ⊂ 100 %) and identical
/// across label kinds and models for the same seed — the paper's apples-to-apples comparison.
/// The test set is never part of a split.

#include <cstdint>
#include <torch/types.h>

#include "labelrep/export.hpp"

namespace labelrep::data {

struct LABELREP_API DataSplit {
  torch::Tensor train;       ///< int64 indices into the training set: the pool
  torch::Tensor validation;  ///< int64 indices into the training set
};

/// Splits `n` training images: a NumPy-compatible permutation of `seed` (labelrep::NumpyRandom), first
/// `validation` indices for validation. Throws InvalidArgument unless 0 ≤ validation < n and seed < 2^32
/// (NumPy's legacy seeding takes 32 bits).
LABELREP_API DataSplit make_split(std::int64_t n, std::int64_t validation, std::uint64_t seed);

/// What a data level's percentage is of.
enum class LevelBase {
  kPool,          ///< p % of the training pool (labelrep's default)
  kTrainingSet,   ///< p % of the whole training set, taken from the pool (the authors' code: p % of 50,000)
};

/// The first ⌊p/100 · base⌋ indices of the pool (at least 1). `training_set_size` is needed for
/// LevelBase::kTrainingSet, and at least the pool's size. Throws InvalidArgument for p outside (0, 100],
/// a level larger than the pool, or (kTrainingSet) a training_set_size smaller than the pool.
LABELREP_API torch::Tensor data_level(const torch::Tensor& pool, double percent, LevelBase base = LevelBase::kPool,
                                      std::int64_t training_set_size = 0);

}  // namespace labelrep::data
