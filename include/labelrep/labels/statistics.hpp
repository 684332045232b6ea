#pragma once
/// \file statistics.hpp  The label statistics of the paper's Table 2: per-label entropy and pairwise
/// L1/L2 distances, with both conventions the paper mixed (see docs/labels.md and LABELS-SPEC §11).

#include <cstdint>
#include <string>
#include <vector>
#include <torch/types.h>

#include "labelrep/export.hpp"

namespace labelrep::labels {

enum class Normalization {
  kPerLabel,  ///< each label scaled to [0, 1] by its own min and max (the paper's Speech/Shuffle/Composite rows)
  kGlobal,    ///< the whole set scaled by one min and max (Constant/BERT/GloVe rows, the authors' script)
};
enum class L1Norm {
  kElementwise,  ///< Σ|Δ| over all elements
  kMatrix,       ///< induced matrix 1-norm, max over columns of Σ_rows |Δ| (numpy norm(ord=1)); Σ|Δ| for vectors
};
enum class L2Norm {
  kFrobenius,  ///< sqrt(ΣΔ²); the Euclidean norm for vectors
  kSpectral,   ///< largest singular value (numpy norm(ord=2)); the Euclidean norm for vectors
};

struct LABELREP_API StatisticsOptions {
  Normalization normalization = Normalization::kPerLabel;
  L1Norm l1 = L1Norm::kMatrix;
  L2Norm l2 = L2Norm::kFrobenius;
};

/// The convention the paper used for a label kind ("speech", "shuffle", "composite" → per-label,
/// matrix L1, Frobenius L2; every other kind → global, matrix L1, spectral L2, as the authors' script).
LABELREP_API StatisticsOptions paper_statistics_options(const std::string& kind);

struct LABELREP_API MeanStd {
  double mean = 0.0;
  double std = 0.0;  ///< population standard deviation (ddof = 0)
};

struct LABELREP_API LabelStatistics {
  std::int64_t classes = 0;
  std::vector<std::int64_t> label_shape;
  std::vector<double> entropy_per_label;  ///< bits, one per class
  MeanStd entropy, l1, l2;                ///< l1/l2 over the C·(C−1)/2 unordered pairs
};

/// Computes the statistics of a label matrix `[C, ...]` (C ≥ 2). Entropy: base 2 over the counts of
/// distinct float32 values of each label. Labels with more than two dimensions are treated as matrices
/// `[first dim, product of the rest]`. Distances are computed in double precision.
/// Throws InvalidArgument for fewer than 2 classes, empty labels or non-finite values.
LABELREP_API LabelStatistics label_statistics(const torch::Tensor& matrix, const StatisticsOptions& options = {});

/// Shannon entropy (bits) of the float32 values of one tensor, as skimage.measure.shannon_entropy.
/// Throws InvalidArgument for a tensor without values.
LABELREP_API double shannon_entropy(const torch::Tensor& values);

}  // namespace labelrep::labels
