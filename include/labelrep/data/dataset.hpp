#pragma once
/// \file dataset.hpp  In-memory image classification datasets.
///
/// An ImageDataset holds all images once, as uint8 `[N, C, H, W]`, with int64 class ids `[N]` and the
/// class names; batches are cut from it with tensor operations (see batcher.hpp), never per-image
/// objects. It is the interface for users' own data too: build one from two tensors.
///
/// Example:
/// \code
///   auto train = labelrep::data::load_fashion_mnist(labelrep::data::kFashionMnistDir, labelrep::data::Split::kTrain);
///   auto mine = labelrep::data::ImageDataset(my_uint8_images, my_ids, {"cat", "dog"}, "pets");
///   auto on_gpu = train.to(torch::kCUDA);   // the whole dataset on the device, augmentation runs there
/// \endcode
/// A dataset is a copyable value; copies share the tensors, which labelrep never modifies.
/// Thread-safety: const methods may be called from several threads.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include <torch/types.h>

#include "labelrep/export.hpp"

namespace labelrep::data {

/// Which file set of a dataset to read; the validation set is cut from kTrain (split.hpp).
enum class Split { kTrain, kTest };

class LABELREP_API ImageDataset {
 public:
  /// Requires: images uint8 `[N, C, H, W]` with N ≥ 1, C in 1..4, H and W ≥ 1; targets integer `[N]` with
  /// values in [0, class_names.size()); at least one class name. Ensures: contiguous images, int64
  /// targets on the images' device. Throws InvalidArgument naming the dataset and what is wrong.
  ImageDataset(torch::Tensor images, torch::Tensor targets, std::vector<std::string> class_names, std::string name);

  const torch::Tensor& images() const noexcept { return images_; }
  const torch::Tensor& targets() const noexcept { return targets_; }
  const std::vector<std::string>& class_names() const noexcept { return class_names_; }
  const std::string& name() const noexcept { return name_; }
  std::int64_t size() const { return images_.size(0); }
  std::int64_t num_classes() const { return static_cast<std::int64_t>(class_names_.size()); }
  std::int64_t channels() const { return images_.size(1); }
  std::int64_t height() const { return images_.size(2); }
  std::int64_t width() const { return images_.size(3); }

  /// The images at `indices` (1-D integer, any order, repeats allowed). Throws InvalidArgument for
  /// indices out of range, a bool mask (it would select images 0 and 1), or an empty selection.
  ImageDataset subset(const torch::Tensor& indices) const;
  /// The same data on another device.
  ImageDataset to(const torch::Device& device) const;
  /// Zero-pads every image symmetrically to `side`×`side` (e.g. Fashion-MNIST 28 → 32 for CIFAR
  /// encoders). Throws InvalidArgument if the images are larger than `side` or the padding is odd.
  ImageDataset pad_to(std::int64_t side) const;
  /// Images per class, int64 `[C]` on the CPU.
  torch::Tensor class_counts() const;

 private:
  torch::Tensor images_, targets_;
  std::vector<std::string> class_names_;
  std::string name_;
};

/// Per-channel mean and standard deviation of uint8 images scaled to [0, 1], computed exactly from a
/// histogram (independent of summation order; population std). Returns {mean [C], std [C]} as float64
/// CPU tensors. Throws InvalidArgument for an empty or non-uint8 tensor.
LABELREP_API std::pair<torch::Tensor, torch::Tensor> channel_mean_std(const torch::Tensor& images);

/// Per-channel statistics of the standard datasets' training sets, for BatcherOptions.
/// CIFAR-10: the paper's values. Fashion-MNIST: measured by channel_mean_std on its 60,000 training
/// images (a test pins them). CIFAR-100: the values commonly used with it.
struct LABELREP_API ChannelStatistics {
  std::vector<double> mean, std;
};
/// "fashion-mnist", "cifar10", "cifar100"; throws InvalidArgument for other names.
LABELREP_API ChannelStatistics dataset_statistics(const std::string& dataset);

}  // namespace labelrep::data
