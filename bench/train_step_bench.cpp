// Training throughput: optimizer steps of a model on one fixed batch, timed exactly like
// `pytorch_reference.py train` (same model, loss, SGD settings, batch, warm-up and step counts), so the
// ratio measures what the C++ side adds or removes around the same kernels.
// Prints one JSON line {"images_per_s": ..., ...}.
// Usage: train_step_bench [--model resnet32] [--label speech|category] [--batch 128] [--steps 40]
//                         [--warmup 5] [--threads 0] [--device cpu|cuda] [--format channels-last|contiguous]
//                         [--precision fp32|bf16] [--cuda-graphs 0|1] [--read-loss every-step|end]
//                         [--decoder-upsampling auto|phases|transposed]
// With --precision bf16 the forward pass runs under bf16 autocast (train::Precision), as
// `bench/reference_fast_train.py` does for PyTorch's best-practice eager loop. With --cuda-graphs 1
// every step replays one captured CUDA graph (train::GraphedTrainStep, captured during warm-up); without
// it a GPU runs the same step uncaptured, as the Trainer does ("step": "device"), the CPU train_step.
// --read-loss every-step reads the loss after each step (loss.item(), which waits for the GPU), as
// `pytorch_reference.py train` does; `end` reads it once after the timed steps, as
// `reference_fast_train.py` does. --decoder-upsampling picks models::DecoderUpsampling (auto: the phase form on
// the CPU, ConvTranspose2d on CUDA); the JSON names the form that ran.
#include <labelrep/labelrep.hpp>
#include <labelrep/labels/kinds.hpp>
#include <labelrep/models/model.hpp>
#include <labelrep/train/trainer.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

int main(int argc, char** argv) try {
  std::map<std::string, std::string> args = {{"--model", "resnet32"}, {"--label", "speech"}, {"--batch", "128"}, {"--steps", "40"},
                                             {"--warmup", "5"},       {"--threads", "0"},      {"--device", "cpu"},
                                             {"--format", "channels-last"}, {"--precision", "fp32"},
                                             {"--cuda-graphs", "0"}, {"--read-loss", "every-step"},
                                             {"--decoder-upsampling", "auto"}};
  for (int i = 1; i < argc; i += 2) {
    if (!args.count(argv[i]) || i + 1 >= argc) throw std::invalid_argument(std::string("unknown or incomplete option ") + argv[i]);
    args[argv[i]] = argv[i + 1];
  }
  const std::int64_t batch_size = std::stoll(args["--batch"]), steps = std::stoll(args["--steps"]), warmup = std::stoll(args["--warmup"]);
  if (const int threads = std::stoi(args["--threads"]); threads > 0) torch::set_num_threads(threads);
  const torch::Device device(args["--device"]);
  const bool categorical = args["--label"] == "category";
  const auto precision = labelrep::train::parse_precision(args["--precision"]);
  if (args["--cuda-graphs"] != "0" && args["--cuda-graphs"] != "1") throw std::invalid_argument("--cuda-graphs must be 0 or 1");
  const bool cuda_graphs = args["--cuda-graphs"] == "1";
  if (args["--read-loss"] != "every-step" && args["--read-loss"] != "end") throw std::invalid_argument("--read-loss must be every-step or end");
  const bool read_loss_every_step = args["--read-loss"] == "every-step";
  labelrep::models::set_decoder_upsampling(labelrep::models::parse_decoder_upsampling(args["--decoder-upsampling"]));
  namespace labels = labelrep::labels;
  std::shared_ptr<const labels::LabelRepresentation> label_set;
  if (categorical) label_set = std::make_shared<labels::CategoryLabels>(labels::CategoryLabelsOptions(10));
  else label_set = std::make_shared<labels::UniformLabels>(labels::UniformLabelsOptions(10).height(64).width(64));  // speech-shaped

  torch::manual_seed(0);
  auto model = labelrep::models::make_model(args["--model"], 3, *label_set);
  model->to(device);
  model->train();
  // The Trainer's default memory format (TrainerOptions::channels_last); --format contiguous measures without it.
  if (args["--format"] == "channels-last") labelrep::models::set_memory_format(*model, c10::MemoryFormat::ChannelsLast);
  else if (args["--format"] != "contiguous") throw std::invalid_argument("--format must be channels-last or contiguous");
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  labelrep::data::Batch batch;
  batch.images = torch::randn({batch_size, 3, 32, 32}, torch::TensorOptions(device));
  batch.targets = torch::randint(0, 10, {batch_size}, torch::TensorOptions(device).dtype(torch::kLong));
  batch.indices = torch::arange(batch_size);
  // The step the Trainer runs: on a GPU GraphedTrainStep (a captured graph with --cuda-graphs 1, else
  // the same step eagerly, never waiting for the device); on the CPU train_step.
  std::unique_ptr<labelrep::train::GraphedTrainStep> graphed;
  if (cuda_graphs || device.is_cuda())
    graphed = std::make_unique<labelrep::train::GraphedTrainStep>(
        model, optimizer, label_set,
        labelrep::train::GraphedStepOptions().precision(precision).capture(cuda_graphs).batch_size(batch_size));
  const char* step_kind = cuda_graphs ? "graph" : graphed ? "device" : "train_step";
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  std::chrono::steady_clock::time_point start;
  double loss = 0;
  torch::Tensor step_loss;
  for (std::int64_t i = 0; i < warmup + steps; ++i) {
    if (i == warmup) {
      sync();
      start = std::chrono::steady_clock::now();
    }
    step_loss = graphed ? graphed->step(batch)
                        : labelrep::train::train_step(model, optimizer, batch, *label_set, labelrep::train::LossKind::kAuto, precision);
    if (read_loss_every_step) loss = step_loss.item<double>();  // as the reference's loss.item()
  }
  if (!read_loss_every_step) loss = step_loss.item<double>();
  sync();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"images_per_s\": %.2f, \"model\": \"%s\", \"label\": \"%s\", \"device\": \"%s\", \"batch\": %lld, \"steps\": %lld, "
              "\"threads\": %d, \"format\": \"%s\", \"precision\": \"%s\", \"cuda_graphs\": %s, \"step\": \"%s\", \"read_loss\": \"%s\", "
              "\"decoder_upsampling\": \"%s\", \"last_loss\": %.4f, \"torch\": \"%s\"}\n",
              static_cast<double>(steps * batch_size) / seconds, args["--model"].c_str(), args["--label"].c_str(), args["--device"].c_str(),
              static_cast<long long>(batch_size), static_cast<long long>(steps), at::get_num_threads(), args["--format"].c_str(), args["--precision"].c_str(),
              cuda_graphs ? "true" : "false", step_kind, args["--read-loss"].c_str(), labelrep::models::decoder_upsampling_name(labelrep::models::decoder_upsampling_on(device)), loss,
              TORCH_VERSION);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_step_bench: %s\n", e.what());
  return 1;
}
