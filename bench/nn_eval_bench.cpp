// Nearest-label evaluation throughput: NearestNeighborEvaluator::predict on label-shaped outputs, the
// counterpart of `pytorch_reference.py nn` (the paper's repeat_interleave method) with the same
// sizes: 100 classes of 64×64 labels, 10,000 outputs.
// Prints one JSON line {"outputs_per_s": ..., "correct": ...}.
// Usage: nn_eval_bench [--classes 100] [--outputs 10000] [--chunk 10000] [--repeats 5] [--device cpu|cuda] [--threads 0]
#include <labelrep/eval/nearest_neighbor.hpp>
#include <labelrep/labels/kinds.hpp>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

int main(int argc, char** argv) try {
  std::map<std::string, std::string> args = {{"--classes", "100"}, {"--outputs", "10000"}, {"--chunk", "10000"},
                                             {"--repeats", "5"},   {"--device", "cpu"},     {"--threads", "0"}};
  for (int i = 1; i < argc; i += 2) {
    if (!args.count(argv[i]) || i + 1 >= argc) throw std::invalid_argument(std::string("unknown or incomplete option ") + argv[i]);
    args[argv[i]] = argv[i + 1];
  }
  const std::int64_t classes = std::stoll(args["--classes"]), n = std::stoll(args["--outputs"]), chunk = std::stoll(args["--chunk"]),
                     repeats = std::stoll(args["--repeats"]);
  if (const int threads = std::stoi(args["--threads"]); threads > 0) torch::set_num_threads(threads);
  const torch::Device device(args["--device"]);
  namespace labels = labelrep::labels;
  const auto label_set = std::make_shared<labels::UniformLabels>(labels::UniformLabelsOptions(classes).height(64).width(64).seed(1));
  const labelrep::eval::NearestNeighborEvaluator evaluator(label_set);
  torch::manual_seed(0);
  const auto ids = torch::randint(0, classes, {n}, torch::kLong);
  // Outputs near their class label (as a trained model's), so the count of correct ones is meaningful.
  const auto outputs = (label_set->targets(ids) + 0.2 * torch::randn({n, 64, 64})).to(device);
  const auto ids_on_device = ids.to(device);
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  std::int64_t correct = 0;
  (void)evaluator.predict(outputs.slice(0, 0, std::min(chunk, n)));  // warm-up: moves the label set to the device
  sync();
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t r = 0; r < repeats; ++r) {
    correct = 0;
    for (std::int64_t s = 0; s < n; s += chunk) {
      const auto predicted = evaluator.predict(outputs.slice(0, s, std::min(n, s + chunk)));
      correct += predicted.eq(ids_on_device.slice(0, s, std::min(n, s + chunk))).sum().item<std::int64_t>();
    }
  }
  sync();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"outputs_per_s\": %.2f, \"correct\": %lld, \"outputs\": %lld, \"classes\": %lld, \"chunk\": %lld, \"device\": \"%s\", "
              "\"threads\": %d, \"torch\": \"%s\"}\n",
              static_cast<double>(n * repeats) / seconds, static_cast<long long>(correct), static_cast<long long>(n),
              static_cast<long long>(classes), static_cast<long long>(chunk), args["--device"].c_str(), at::get_num_threads(), TORCH_VERSION);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "nn_eval_bench: %s\n", e.what());
  return 1;
}
