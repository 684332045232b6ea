#pragma once
// Whether a class matrix's rows are probability vectors (internal): what cross-entropy needs of its
// targets. One definition for the category label files (at load) and for label_loss (labels that were
// not made for cross-entropy).
#include <torch/types.h>

#include <cstdint>
#include <optional>

namespace labelrep::labels::detail {

// The first class whose row (the label flattened) has a negative value or does not sum to 1 within
// 1e-4, or none. `matrix`: `[C, ...]` on the CPU, any real dtype.
inline std::optional<std::int64_t> first_non_probability_row(const torch::Tensor& matrix) {
  const auto rows = matrix.reshape({matrix.size(0), -1}).to(torch::kFloat64);
  const auto bad = ((rows < 0).any(1) | ((rows.sum(1) - 1.0).abs() > 1e-4)).nonzero();
  if (bad.numel() == 0) return std::nullopt;
  return bad[0][0].item<std::int64_t>();
}

}  // namespace labelrep::labels::detail
