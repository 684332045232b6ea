#include "labelrep/data/dataset.hpp"

#include <cmath>
#include <fmt/format.h>

#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep::data {

ImageDataset::ImageDataset(torch::Tensor images, torch::Tensor targets, std::vector<std::string> class_names, std::string name) try
    : class_names_(std::move(class_names)), name_(std::move(name)) {
  if (!images.defined() || images.dim() != 4 || images.scalar_type() != torch::kUInt8)
    throw InvalidArgument(fmt::format("dataset '{}': images must be uint8 [N, C, H, W]", name_));
  if (images.size(1) < 1 || images.size(1) > 4 || images.size(2) < 1 || images.size(3) < 1)
    throw InvalidArgument(fmt::format("dataset '{}': images have {} channels of {}x{} (expected 1-4 channels, non-empty)", name_,
                                      images.size(1), images.size(2), images.size(3)));
  if (images.size(0) < 1) throw InvalidArgument(fmt::format("dataset '{}' is empty (0 images)", name_));
  if (!targets.defined() || targets.dim() != 1 || targets.is_floating_point() || targets.scalar_type() == torch::kBool)
    throw InvalidArgument(fmt::format("dataset '{}': targets must be integer [N]", name_));
  if (targets.size(0) != images.size(0))
    throw InvalidArgument(fmt::format("dataset '{}': {} images but {} targets", name_, images.size(0), targets.size(0)));
  if (class_names_.empty()) throw InvalidArgument(fmt::format("dataset '{}': no class names", name_));
  targets = targets.to(torch::kLong);
  if (targets.numel() > 0) {
    const auto low = targets.min().item<std::int64_t>(), high = targets.max().item<std::int64_t>();
    if (low < 0 || high >= static_cast<std::int64_t>(class_names_.size()))
      throw InvalidArgument(fmt::format("dataset '{}': target {} is out of range [0, {})", name_, low < 0 ? low : high,
                                        class_names_.size()));
  }
  if (targets.device() != images.device()) targets = targets.to(images.device());
  images_ = images.contiguous();
  targets_ = targets.contiguous();
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ImageDataset");
}

ImageDataset ImageDataset::subset(const torch::Tensor& indices) const try {
  // A bool mask is refused: read as integers it would select images 0 and 1.
  if (!indices.defined() || indices.dim() != 1 || !c10::isIntegralType(indices.scalar_type(), /*includeBool=*/false))
    throw InvalidArgument(fmt::format("dataset '{}': subset indices must be a 1-D integer tensor (not a bool mask)", name_));
  const auto idx = indices.to(images_.device(), torch::kLong);
  if (idx.numel() > 0) {
    const auto low = idx.min().item<std::int64_t>(), high = idx.max().item<std::int64_t>();
    if (low < 0 || high >= size())
      throw InvalidArgument(fmt::format("dataset '{}': subset index {} is out of range [0, {})", name_, low < 0 ? low : high, size()));
  }
  return ImageDataset(images_.index_select(0, idx), targets_.index_select(0, idx), class_names_, name_);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ImageDataset::subset");
}

ImageDataset ImageDataset::to(const torch::Device& device) const try {
  return ImageDataset(images_.to(device), targets_.to(device), class_names_, name_);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ImageDataset::to");
}

ImageDataset ImageDataset::pad_to(std::int64_t side) const try {
  const std::int64_t dh = side - height(), dw = side - width();
  if (dh < 0 || dw < 0 || dh % 2 != 0 || dw % 2 != 0)
    throw InvalidArgument(fmt::format("dataset '{}': cannot pad {}x{} images symmetrically to {}x{}", name_, height(), width(), side, side));
  if (dh == 0 && dw == 0) return *this;
  auto padded = torch::zeros({size(), channels(), side, side}, images_.options());
  padded.slice(2, dh / 2, dh / 2 + height()).slice(3, dw / 2, dw / 2 + width()).copy_(images_);
  return ImageDataset(padded, targets_, class_names_, name_);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ImageDataset::pad_to");
}

torch::Tensor ImageDataset::class_counts() const try {
  return torch::bincount(targets_.cpu(), {}, num_classes());
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ImageDataset::class_counts");
}

std::pair<torch::Tensor, torch::Tensor> channel_mean_std(const torch::Tensor& images) try {
  if (!images.defined() || images.dim() != 4 || images.scalar_type() != torch::kUInt8 || images.numel() == 0)
    throw InvalidArgument("channel_mean_std: images must be non-empty uint8 [N, C, H, W]");
  const auto channels = images.size(1);
  std::vector<double> mean(static_cast<std::size_t>(channels)), std(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    // Exact sums over integers (a histogram), so the result does not depend on summation order.
    auto histogram = torch::zeros({256}, torch::kLong);
    const auto channel = images.select(1, c);
    for (std::int64_t start = 0; start < images.size(0); start += 4096)  // bounded temporary memory
      histogram += torch::bincount(channel.slice(0, start, start + 4096).flatten().cpu(), {}, 256);
    histogram = histogram.to(torch::kDouble);
    const auto values = torch::arange(256, torch::kDouble) / 255.0;
    const double n = histogram.sum().item<double>();
    const double m = (histogram * values).sum().item<double>() / n;
    const double var = (histogram * (values - m).pow(2)).sum().item<double>() / n;
    mean[static_cast<std::size_t>(c)] = m;
    std[static_cast<std::size_t>(c)] = std::sqrt(var);
  }
  return {torch::tensor(mean, torch::kDouble), torch::tensor(std, torch::kDouble)};
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("channel_mean_std");
}

ChannelStatistics dataset_statistics(const std::string& dataset) {
  if (dataset == "fashion-mnist") return {{0.28604059698879553}, {0.35302424451492237}};
  if (dataset == "cifar10") return {{0.4914, 0.4822, 0.4465}, {0.2023, 0.1994, 0.2010}};
  if (dataset == "cifar100") return {{0.5071, 0.4865, 0.4409}, {0.2673, 0.2564, 0.2762}};
  throw InvalidArgument(fmt::format("no channel statistics for dataset '{}' (known: fashion-mnist, cifar10, cifar100)", dataset));
}

}  // namespace labelrep::data
