// One epoch of Fashion-MNIST training batches, as a training loop consumes them: padded to 32×32,
// random crop (padding 4) and flip, normalised, float32 on the device, batch 128.
// Prints {"images_per_s": ..., "images": ..., "device": ...}. Usage: data_pipeline_bench [cpu|cuda] [epochs]
#include <labelrep/labelrep.hpp>
#include <labelrep/data/batcher.hpp>
#include <labelrep/data/loaders.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) try {
  const std::string device_name = argc > 1 ? argv[1] : "cpu";
  const int epochs = argc > 2 ? std::stoi(argv[2]) : 3;
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
  namespace data = labelrep::data;
  const auto loaded = data::load_fashion_mnist(data::kFashionMnistDir, data::Split::kTrain);
  const auto stats = data::dataset_statistics("fashion-mnist");
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  // Timed like the reference: everything after the raw data is in memory, including the padding.
  sync();
  const auto start = std::chrono::steady_clock::now();
  const auto train = loaded.to(device).pad_to(32);
  data::Batcher batches(train, torch::arange(train.size()), data::BatcherOptions(stats.mean, stats.std).batch_size(128).seed(1));
  std::int64_t images = 0;
  double checksum = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    batches.start_epoch(epoch);
    data::Batch batch;
    while (batches.next(batch)) images += batch.images.size(0);
    checksum += batch.images.sum().item<double>();  // the last batch is really computed
  }
  sync();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"images_per_s\": %.1f, \"images\": %lld, \"seconds\": %.3f, \"device\": \"%s\", \"threads\": %d, \"checksum\": %.3f}\n",
              static_cast<double>(images) / seconds, static_cast<long long>(images), seconds, device_name.c_str(),
              at::get_num_threads(), checksum);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
