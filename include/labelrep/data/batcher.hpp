#pragma once
/// \file batcher.hpp  Epochs of shuffled, augmented, normalised batches cut from an in-memory dataset.
///
/// The whole batch is made with tensor operations on the dataset's device: one gather picks every
/// image's random 32×32 crop of the zero-padded image (padding 4) with its random horizontal flip, then
/// one fused conversion normalises with the dataset's mean and std. On a GPU the uint8 dataset lives on
/// the device and nothing crosses the bus but a few index tensors.
///
/// Randomness: the order of epoch e and every crop offset and flip come from a NumPy-compatible
/// generator seeded with (seed, e), drawn on the CPU, so batches are identical on CPU and CUDA and a run
/// resumed at (epoch, batch) continues exactly (seek()).
///
/// Example:
/// \code
///   labelrep::data::Batcher batches(train, split.train, labelrep::data::BatcherOptions(mean, std).seed(1));
///   for (std::int64_t epoch = 0; epoch < epochs; ++epoch) {
///     batches.start_epoch(epoch);
///     labelrep::data::Batch batch;
///     while (batches.next(batch)) { auto y = labels->targets(batch.targets); ... }
///   }
/// \endcode
/// Thread-safety: one Batcher per thread.

#include <cstdint>
#include <vector>
#include <torch/arg.h>
#include <torch/types.h>

#include "labelrep/data/dataset.hpp"
#include "labelrep/export.hpp"

namespace labelrep::data {

struct LABELREP_API BatcherOptions {
  /// Per-channel mean and std of the [0, 1]-scaled images (see channel_mean_std and docs/data.md).
  BatcherOptions(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {}
  TORCH_ARG(std::vector<double>, mean);
  TORCH_ARG(std::vector<double>, std);
  TORCH_ARG(std::int64_t, batch_size) = 128;
  TORCH_ARG(bool, shuffle) = true;
  TORCH_ARG(bool, drop_last) = false;
  /// Leave out an epoch's last, partial batch when it would give some shard exactly one image (fewer
  /// than 2 × shard_count images; one image without sharding): batch normalisation cannot train on a
  /// batch of one (the speech and dense decoders' BatchNorm1d refuses it). The Trainer sets it.
  TORCH_ARG(bool, skip_one_image_shards) = false;
  /// Random crops from the image zero-padded by this many pixels on each side (0 = no crops).
  TORCH_ARG(std::int64_t, crop_padding) = 4;
  TORCH_ARG(bool, horizontal_flip) = true;
  TORCH_ARG(std::uint64_t, seed) = 0;
  /// Output dtype of the images (float32; bfloat16/float16 for mixed-precision training on a GPU).
  TORCH_ARG(torch::ScalarType, dtype) = torch::kFloat32;
  /// Data-parallel training: every batch is the shard `shard_index` of `shard_count` contiguous,
  /// nearly equal parts of the global batch (sizes differ by at most one; a part may be empty when a
  /// batch has fewer images than shards). Order, crops and flips are the global batch's, so the
  /// shards of all ranks together are exactly what one process would draw.
  TORCH_ARG(std::int64_t, shard_index) = 0;
  TORCH_ARG(std::int64_t, shard_count) = 1;
};

struct LABELREP_API Batch {
  torch::Tensor images;   ///< [B, C, H, W] normalised, options().dtype(), on the dataset's device
  torch::Tensor targets;  ///< [B] int64 class ids, on the dataset's device
  torch::Tensor indices;  ///< [B] int64 positions in the dataset
  std::int64_t global_size = 0;  ///< images in the global batch this batch is a shard of (B without sharding)
};

class LABELREP_API Batcher {
 public:
  /// `indices`: the dataset positions this batcher draws from (a split's train or validation part).
  /// Throws InvalidArgument for empty or out-of-range indices, indices that are not integers (a bool
  /// mask included), a mean/std of the wrong length, not
  /// finite or (std) not positive, a batch size outside [1, 2^31], a padding outside [0, 64], a seed of
  /// 2^48 or more, a non-floating-point dtype, or a shard index outside [0, shard_count).
  Batcher(ImageDataset dataset, const torch::Tensor& indices, BatcherOptions options);

  /// Batches in one epoch.
  std::int64_t batches_per_epoch() const;
  /// Begins epoch `epoch` (any order of calls; the order depends only on seed and epoch). Throws
  /// InvalidArgument for a negative epoch.
  void start_epoch(std::int64_t epoch);
  /// Moves to batch `batch` of epoch `epoch` (resuming). Throws InvalidArgument if out of range.
  void seek(std::int64_t epoch, std::int64_t batch);
  /// Fills `batch` with the next batch and returns true, or returns false at the end of the epoch.
  /// Throws InvalidArgument if no epoch was started.
  bool next(Batch& batch);
  std::int64_t epoch() const noexcept { return epoch_; }
  /// Batches already returned in this epoch.
  std::int64_t position() const noexcept { return position_; }
  std::int64_t size() const { return indices_.size(0); }
  const ImageDataset& dataset() const noexcept { return dataset_; }

  /// Normalises uint8 images `[B, C, H, W]` the way batches are (no augmentation): for evaluation.
  /// Requires: uint8, 4-D, the dataset's channel count; any device. Ensures: the options' dtype, on the
  /// images' device. Throws InvalidArgument otherwise.
  torch::Tensor normalize(const torch::Tensor& images) const;

 private:
  ImageDataset dataset_;
  torch::Tensor indices_;  // on the dataset's device
  BatcherOptions options_;
  torch::Tensor scale_, shift_;  // [1, C, 1, 1]: x/255 − mean)/std = x·scale + shift
  std::int64_t epoch_ = -1, position_ = 0;
  // This epoch's plan on the dataset's device, one row per position in the order: [size, 4] of
  // (position in [0, size), crop offset y, crop offset x, flip 0/1). Drawn on the host (NumPy's
  // stream) and copied once per epoch: a copy per batch from pageable memory would make the host wait
  // for the GPU before every batch, and the GPU then wait for the host.
  torch::Tensor plan_;
  torch::Tensor rows_, columns_;  // arange(H), arange(W) on the device, [1, H] and [1, W]
};

}  // namespace labelrep::data
