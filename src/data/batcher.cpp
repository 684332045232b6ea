#include "labelrep/data/batcher.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numeric>

#include "labelrep/core/error.hpp"
#include "labelrep/core/random.hpp"
#include "core/boundary.hpp"

namespace labelrep::data {
namespace {
// Mixes (seed, epoch) into one 32-bit NumPy seed (splitmix64 finaliser), so neighbouring seeds and
// epochs give unrelated streams.
std::uint32_t epoch_seed(std::uint64_t seed, std::int64_t epoch) {
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(epoch) + 0x632be59bd9b4e019ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<std::uint32_t>((z ^ (z >> 31)) & 0xffffffffULL);
}
}  // namespace

Batcher::Batcher(ImageDataset dataset, const torch::Tensor& indices, BatcherOptions options) try
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  const auto channels = dataset_.channels();
  if (static_cast<std::int64_t>(options_.mean().size()) != channels || static_cast<std::int64_t>(options_.std().size()) != channels)
    throw InvalidArgument(fmt::format("Batcher: mean and std need {} values (one per channel), got {} and {}", channels,
                                      options_.mean().size(), options_.std().size()));
  for (double s : options_.std())
    if (!(s > 0) || !std::isfinite(s)) throw InvalidArgument(fmt::format("Batcher: std values must be positive and finite, got {}", s));
  for (double m : options_.mean())
    if (!std::isfinite(m)) throw InvalidArgument(fmt::format("Batcher: mean values must be finite, got {}", m));
  // Bounded so that the batch count (n + b − 1) / b cannot overflow.
  if (options_.batch_size() < 1 || options_.batch_size() > (std::int64_t{1} << 31))
    throw InvalidArgument(fmt::format("Batcher: batch_size must be in [1, 2^31], got {}", options_.batch_size()));
  if (options_.crop_padding() < 0 || options_.crop_padding() > 64)
    throw InvalidArgument(fmt::format("Batcher: crop_padding must be in [0, 64], got {}", options_.crop_padding()));
  if (options_.seed() > 0xffffffffffffULL) throw InvalidArgument("Batcher: seed must be below 2^48");
  if (!torch::isFloatingType(options_.dtype())) throw InvalidArgument("Batcher: dtype must be a floating-point type");
  if (options_.shard_count() < 1 || options_.shard_index() < 0 || options_.shard_index() >= options_.shard_count())
    throw InvalidArgument(fmt::format("Batcher: shard {} of {} is not in [0, shard_count)", options_.shard_index(), options_.shard_count()));
  // A bool mask is refused: read as integers it would select images 0 and 1.
  if (!indices.defined() || indices.dim() != 1 || !c10::isIntegralType(indices.scalar_type(), /*includeBool=*/false) || indices.numel() == 0)
    throw InvalidArgument("Batcher: indices must be a non-empty 1-D integer tensor (not a bool mask)");
  indices_ = indices.to(dataset_.images().device(), torch::kLong);
  const auto low = indices_.min().item<std::int64_t>(), high = indices_.max().item<std::int64_t>();
  if (low < 0 || high >= dataset_.size())
    throw InvalidArgument(fmt::format("Batcher: index {} is out of range [0, {})", low < 0 ? low : high, dataset_.size()));
  std::vector<double> scale, shift;
  for (std::int64_t c = 0; c < channels; ++c) {
    const double m = options_.mean()[static_cast<std::size_t>(c)], s = options_.std()[static_cast<std::size_t>(c)];
    scale.push_back(1.0 / (255.0 * s));
    shift.push_back(-m / s);
  }
  const auto float_options = torch::TensorOptions().dtype(torch::kFloat32).device(dataset_.images().device());
  scale_ = torch::tensor(scale, torch::kDouble).to(float_options).view({1, channels, 1, 1});
  shift_ = torch::tensor(shift, torch::kDouble).to(float_options).view({1, channels, 1, 1});
  const auto long_options = torch::TensorOptions().dtype(torch::kLong).device(dataset_.images().device());
  rows_ = torch::arange(dataset_.height(), long_options).unsqueeze(0);
  columns_ = torch::arange(dataset_.width(), long_options).unsqueeze(0);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Batcher");
}

std::int64_t Batcher::batches_per_epoch() const {
  const std::int64_t n = size(), b = options_.batch_size(), rest = n % b;
  if (options_.drop_last() || rest == 0) return n / b;
  // A partial batch of fewer than two images per shard leaves some shard a single image.
  if (options_.skip_one_image_shards() && rest < 2 * options_.shard_count()) return n / b;
  return n / b + 1;
}

void Batcher::start_epoch(std::int64_t epoch) try {
  if (epoch < 0) throw InvalidArgument(fmt::format("Batcher: epoch must be >= 0, got {}", epoch));
  NumpyRandom random(epoch_seed(options_.seed(), epoch));
  const std::int64_t n = size();
  const auto span = static_cast<std::uint64_t>(2 * options_.crop_padding());
  std::vector<std::int64_t> order;
  if (options_.shuffle()) {
    order = random.permutation(n);
  } else {
    order.resize(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), std::int64_t{0});
  }
  // Drawn in the same sequence as always (offsets y, x, then the flip, per position), so an epoch's
  // batches are the same whatever the device.
  auto plan = torch::empty({n, 4}, torch::kLong);
  auto* row = plan.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i, row += 4) {
    row[0] = order[i];
    row[1] = row[2] = options_.crop_padding();
    row[3] = 0;
    if (span > 0) {
      row[1] = static_cast<std::int64_t>(random.next_interval(span));
      row[2] = static_cast<std::int64_t>(random.next_interval(span));
    }
    if (options_.horizontal_flip()) row[3] = static_cast<std::int64_t>(random.next_uint32() & 1u);
  }
  plan_ = plan.to(dataset_.images().device());
  epoch_ = epoch;
  position_ = 0;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Batcher::start_epoch");
}

void Batcher::seek(std::int64_t epoch, std::int64_t batch) try {
  if (batch < 0 || batch > batches_per_epoch())
    throw InvalidArgument(fmt::format("Batcher: batch {} is outside the epoch's {} batches", batch, batches_per_epoch()));
  start_epoch(epoch);
  position_ = batch;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Batcher::seek");
}

torch::Tensor Batcher::normalize(const torch::Tensor& images) const try {
  if (!images.defined() || images.dim() != 4 || images.scalar_type() != torch::kUInt8)
    throw InvalidArgument(fmt::format("Batcher::normalize: images must be uint8 [B, C, H, W], got {} {}",
                                      images.defined() ? c10::toString(images.scalar_type()) : "undefined",
                                      images.defined() ? c10::str(images.sizes()) : std::string()));
  if (images.size(1) != dataset_.channels())
    throw InvalidArgument(fmt::format("Batcher::normalize: images have {} channels but the dataset '{}' has {}", images.size(1),
                                      dataset_.name(), dataset_.channels()));
  // The result is on the images' device (the statistics follow them; a no-op when they already match).
  return images.to(torch::kFloat32).mul_(scale_.to(images.device())).add_(shift_.to(images.device())).to(options_.dtype());
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Batcher::normalize");
}

bool Batcher::next(Batch& batch) try {
  if (epoch_ < 0) throw InvalidArgument("Batcher: call start_epoch() before next()");
  const std::int64_t b = options_.batch_size(), n = size();
  const std::int64_t global_begin = position_ * b;
  if (global_begin >= n || position_ >= batches_per_epoch()) return false;
  const std::int64_t global_count = std::min(n, global_begin + b) - global_begin;
  const std::int64_t shards = options_.shard_count(), shard = options_.shard_index();
  const std::int64_t begin = global_begin + global_count * shard / shards;
  const std::int64_t count = global_begin + global_count * (shard + 1) / shards - begin;
  const auto device = dataset_.images().device();
  batch.global_size = global_count;
  ++position_;
  if (count == 0) {  // a batch smaller than the number of shards leaves this shard empty
    const auto long_device = torch::TensorOptions().dtype(torch::kLong).device(device);
    batch.images = torch::empty({0, dataset_.channels(), dataset_.height(), dataset_.width()},
                                torch::TensorOptions().dtype(options_.dtype()).device(device));
    batch.targets = torch::empty({0}, long_device);
    batch.indices = torch::empty({0}, long_device);
    return true;
  }
  const auto plan = plan_.slice(0, begin, begin + count);  // [B, 4], already on the device
  const auto positions = indices_.index_select(0, plan.select(1, 0));
  const auto images = dataset_.images().index_select(0, positions);  // uint8 [B, C, H, W]
  const std::int64_t c = dataset_.channels(), h = dataset_.height(), w = dataset_.width(), p = options_.crop_padding();
  torch::Tensor augmented = images;
  if (p > 0 || options_.horizontal_flip()) {
    const auto padded = p > 0 ? torch::constant_pad_nd(images, {p, p, p, p}, 0) : images;
    const std::int64_t pw = w + 2 * p;
    const auto oy = plan.slice(1, 1, 2), ox = plan.slice(1, 2, 3), flip = plan.slice(1, 3, 4).to(torch::kBool);  // [B, 1]
    const auto rows = oy + rows_;                                                      // [B, H]
    const auto cols = ox + torch::where(flip, (w - 1) - columns_, columns_);           // [B, W]
    const auto linear = (rows.unsqueeze(2) * pw + cols.unsqueeze(1)).view({count, 1, h * w}).expand({count, c, h * w});
    augmented = padded.reshape({count, c, -1}).gather(2, linear).view({count, c, h, w});
  }
  batch.images = normalize(augmented);
  batch.targets = dataset_.targets().index_select(0, positions);
  batch.indices = positions;
  return true;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("Batcher::next");
}

}  // namespace labelrep::data
