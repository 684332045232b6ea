// Attack throughput: the paper's protocol (untargeted FGSM and the 5-step iterative method, ε = 0.1 in
// normalised units) on a ResNet with speech-shaped 64×64 labels, set up like `pytorch_reference.py
// attack` (random inputs, an untrained model in eval mode, every image attacked with its own
// prediction as the class to move away from, the result judged by the nearest label), but batched,
// through attack::run_sweep: per batch one clean classification (which also gives the first step's
// gradient), the attack, and one classification of the adversarial images.
// Prints one JSON line {"fgsm_images_per_s": ..., "iterative_images_per_s": ..., ...}.
// Usage: attack_bench [--model resnet32] [--images 512] [--batch 256] [--eps 0.1] [--steps 5] [--warmup 1]
//                     [--threads 0] [--device cpu|cuda] [--format channels-last|contiguous]
#include <labelrep/attack/attack.hpp>
#include <labelrep/eval/nearest_neighbor.hpp>
#include <labelrep/labels/kinds.hpp>
#include <labelrep/models/model.hpp>
#include <labelrep/train/trainer.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>

int main(int argc, char** argv) try {
  std::map<std::string, std::string> args = {{"--model", "resnet32"}, {"--images", "512"}, {"--batch", "256"},  {"--eps", "0.1"},
                                             {"--steps", "5"},        {"--warmup", "1"},   {"--threads", "0"}, {"--device", "cpu"},
                                             {"--format", "channels-last"}};
  for (int i = 1; i < argc; i += 2) {
    if (!args.count(argv[i]) || i + 1 >= argc) throw std::invalid_argument(std::string("unknown or incomplete option ") + argv[i]);
    args[argv[i]] = argv[i + 1];
  }
  const std::int64_t images = std::stoll(args["--images"]), batch_size = std::stoll(args["--batch"]), steps = std::stoll(args["--steps"]);
  const std::int64_t warmup = std::stoll(args["--warmup"]);
  const double eps = std::stod(args["--eps"]);
  if (images < 1 || batch_size < 1 || steps < 1 || warmup < 0) throw std::invalid_argument("--images, --batch, --steps must be >= 1");
  // Debian's libtorch starts with one intra-op thread; 0 means one per hardware thread, as the CLI.
  const int threads = std::stoi(args["--threads"]) > 0 ? std::stoi(args["--threads"])
                                                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  const torch::Device device(args["--device"]);
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);  // as the reference's cudnn.benchmark

  namespace labels = labelrep::labels;
  const auto label_set = std::make_shared<const labels::UniformLabels>(labels::UniformLabelsOptions(10).height(64).width(64));
  torch::manual_seed(0);
  auto model = labelrep::models::make_model(args["--model"], 3, *label_set);
  model->to(device);
  // Like the reference: an untrained model in eval mode.
  model->eval();
  if (args["--format"] == "channels-last") labelrep::models::set_memory_format(*model, c10::MemoryFormat::ChannelsLast);
  else if (args["--format"] != "contiguous") throw std::invalid_argument("--format must be channels-last or contiguous");
  const labelrep::eval::NearestNeighborEvaluator evaluator(label_set);
  // Random pixels, normalised with CIFAR-10's statistics; each image's "true" class is the model's own
  // clean prediction, so that every image is attacked, as in the reference (a few may change class
  // between the no-grad pass here and the sweep's clean pass: `attacked` says how many were attacked).
  const auto statistics = labelrep::data::dataset_statistics("cifar10");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
  const auto pixels = torch::randint(0, 256, {images, 3, 32, 32}, generator, torch::kLong).to(torch::kUInt8);
  std::vector<std::string> names;
  for (int c = 0; c < 10; ++c) names.push_back(std::to_string(c));
  auto predicted = torch::zeros({images}, torch::kLong);
  {
    auto batches = labelrep::train::evaluation_batches(
        labelrep::data::ImageDataset(pixels, predicted.clone(), names, "random").to(device), torch::arange(images), statistics, batch_size);
    batches.start_epoch(0);
    labelrep::data::Batch batch;
    torch::NoGradGuard no_grad;
    for (std::int64_t offset = 0; batches.next(batch); offset += batch.images.size(0))
      predicted.slice(0, offset, offset + batch.images.size(0)).copy_(evaluator.predict(model->forward(batch.images)).cpu());
  }
  const auto set = labelrep::data::ImageDataset(pixels, predicted, names, "random").to(device);

  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  // The paper's protocol through the library's sweep: batches, clean classification, attack of the
  // correctly classified images, classification of the adversarial ones.
  auto sweep = [&](const std::string& attack, std::int64_t count) {
    const auto options = labelrep::attack::SweepOptions(statistics).attacks({attack}).epsilons({eps}).steps(steps).batch_size(batch_size).progress(false);
    return labelrep::attack::run_sweep(model, label_set, set, torch::arange(count), options);
  };
  std::string json = "{";
  for (const auto& [name, attack] : {std::pair{"fgsm", "fgsm"}, std::pair{"iterative", "bim"}}) {
    for (std::int64_t i = 0; i < warmup; ++i) sweep(attack, std::min(images, batch_size));
    sync();
    const auto start = std::chrono::steady_clock::now();
    const auto result = sweep(attack, images);
    sync();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    json += "\"" + std::string(name) + "_images_per_s\": " + std::to_string(static_cast<double>(images) / seconds) + ", \"" + name +
            "_attacked\": " + std::to_string(result.initially_correct) + ", \"" + name +
            "_still_correct\": " + std::to_string(result.curves[0].points[0].correct) + ", ";
  }
  std::printf("%s\"model\": \"%s\", \"device\": \"%s\", \"images\": %lld, \"batch\": %lld, \"eps\": %g, \"steps\": %lld, \"threads\": %d, "
              "\"format\": \"%s\", \"torch\": \"%s\"}\n",
              json.c_str(), args["--model"].c_str(), args["--device"].c_str(), static_cast<long long>(images),
              static_cast<long long>(batch_size), eps, static_cast<long long>(steps), at::get_num_threads(), args["--format"].c_str(),
              TORCH_VERSION);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "attack_bench: %s\n", e.what());
  return 1;
}
