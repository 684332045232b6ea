// The fast path in a training loop of your own: the dataset and its augmentation on the GPU, bf16
// autocast, channels-last, batch 512 with the one-cycle schedule, standardized label regression
// (models::standardize), and every full batch one replayed CUDA graph (train::GraphedTrainStep). Without CUDA the same loop runs on the CPU, in fp32 and
// without capture (the graphed step's eager mode does the same arithmetic).
// Usage: fast_training_loop_example [epochs=15] [percent of the training pool=100] [encoder=resnet32]
//        (on a CPU try: fast_training_loop_example 1 5 small-cnn)
#include <labelrep/labelrep.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) try {
  namespace lr = labelrep;
  const std::int64_t epochs = argc > 1 ? std::stoll(argv[1]) : 15;
  const double percent = argc > 2 ? std::stod(argv[2]) : 100;
  const std::string encoder = argc > 3 ? argv[3] : "resnet32";
  const torch::Device device = torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  const auto precision = lr::train::default_precision(device);  // bf16 on CUDA, fp32 on the CPU

  // The whole dataset on the device: batches are gathered, cropped and flipped there (data::Batcher).
  const auto train_set = lr::data::load_fashion_mnist(lr::data::kFashionMnistDir, lr::data::Split::kTrain).pad_to(32).to(device);
  const auto split = lr::data::make_split(train_set.size(), /*validation=*/5000, /*seed=*/0);
  const auto pool = lr::data::data_level(split.train, percent);
  const auto statistics = lr::data::dataset_statistics("fashion-mnist");
  const auto labels = std::make_shared<const lr::labels::CompositeLabels>(
      lr::labels::CompositeLabelsOptions(train_set.num_classes()).size(32).class_names(train_set.class_names()));
  auto model = lr::models::make_model(encoder, train_set.channels(), *labels, /*seed=*/0);
  // Regress the labels standardized (mean 0, std 1); outputs and nearest-label decisions stay in label units.
  model = lr::models::Model(model->encoder_ptr(), lr::models::standardize(model->decoder_ptr(), *labels));
  model->to(device);
  lr::models::set_memory_format(*model, c10::MemoryFormat::ChannelsLast);

  // Large batches want a schedule made for them: one-cycle with Nesterov momentum. (For speech labels
  // a short schedule learned faster at lr 0.8 and weight decay 1.25e-4: docs/training.md#short-schedules.)
  const auto recipe = lr::train::TrainingRecipe().epochs(epochs).batch_size(512).learning_rate(0.2).weight_decay(5e-4).nesterov(true)
                          .schedule(lr::train::Schedule::kOneCycle);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(recipe.learning_rate())
                                                       .momentum(recipe.momentum())
                                                       .weight_decay(recipe.weight_decay())
                                                       .nesterov(recipe.nesterov()));
  const bool capture = device.is_cuda() && lr::train::cuda_graphs_available();
  lr::train::GraphedTrainStep step(model, optimizer, labels,
                                   lr::train::GraphedStepOptions().precision(precision).capture(capture).batch_size(recipe.batch_size()));
  lr::data::Batcher batches(train_set, pool, lr::data::BatcherOptions(statistics.mean, statistics.std).batch_size(recipe.batch_size()).seed(0));
  auto validation = lr::train::evaluation_batches(train_set, split.validation, statistics);
  const lr::eval::NearestNeighborEvaluator evaluator(labels);
  std::printf("device %s, %s, CUDA graphs %s\n", device.str().c_str(), lr::train::precision_name(precision), capture ? "on" : "off");

  for (std::int64_t epoch = 0; epoch < recipe.epochs(); ++epoch) {
    model->train();
    batches.start_epoch(epoch);
    lr::data::Batch batch;
    auto loss_sum = torch::zeros({}, torch::TensorOptions().device(device));
    for (std::int64_t i = 0; batches.next(batch); ++i) {
      // The schedule moves every step; the graphed step reads the learning rate and momentum each time.
      lr::train::apply_schedule(optimizer, recipe, static_cast<double>(epoch) + static_cast<double>(i) / static_cast<double>(batches.batches_per_epoch()));
      loss_sum += step.step(batch);  // no .item() per step: the GPU runs ahead of the host
    }
    step.check_targets();  // throws if a class id was out of range (it cannot be checked inside the graph)
    const auto result = lr::train::evaluate(model, evaluator, validation, precision);
    std::printf("epoch %lld: loss %.4f, validation accuracy %.2f%% (%lld graph replays, %lld eager steps)\n", static_cast<long long>(epoch + 1),
                loss_sum.item<double>() / static_cast<double>(batches.batches_per_epoch()), 100 * result.accuracy,
                static_cast<long long>(step.replayed_steps()), static_cast<long long>(step.eager_steps()));
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "fast_training_loop_example: %s\n", e.what());
  return 1;
}
