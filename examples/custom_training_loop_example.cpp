// A training loop of your own, from labelrep's step-level pieces: Fashion-MNIST, composite-Gaussian
// labels regressed by a small CNN, the paper's schedule and the nearest-label evaluator.
// What the Trainer adds on top (checkpoints, resume, metrics, model selection) is left out on purpose.
// Usage: custom_training_loop_example [epochs] [percent of the training pool]
#include <labelrep/labelrep.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) try {
  namespace lr = labelrep;
  const std::int64_t epochs = argc > 1 ? std::stoll(argv[1]) : 2;
  const double percent = argc > 2 ? std::stod(argv[2]) : 10;

  // Data: the real Fashion-MNIST (Debian's dataset-fashion-mnist), padded to 32×32, seeded split.
  const auto train_set = lr::data::load_fashion_mnist(lr::data::kFashionMnistDir, lr::data::Split::kTrain).pad_to(32);
  const auto test_set = lr::data::load_fashion_mnist(lr::data::kFashionMnistDir, lr::data::Split::kTest).pad_to(32);
  const auto split = lr::data::make_split(train_set.size(), /*validation=*/5000, /*seed=*/0);
  const auto pool = lr::data::data_level(split.train, percent);
  const auto statistics = lr::data::dataset_statistics("fashion-mnist");

  // Labels and model: any LabelRepresentation works; the model's output has the label's shape.
  const auto labels = std::make_shared<const lr::labels::CompositeLabels>(
      lr::labels::CompositeLabelsOptions(train_set.num_classes()).size(32).class_names(train_set.class_names()));
  auto model = lr::models::make_model("small-cnn", train_set.channels(), *labels, /*seed=*/0);

  // The paper's recipe (SGD 0.1, momentum 0.9, decay 1e-4, ×0.1 at 50% and 75%), shortened.
  const auto recipe = lr::train::paper_recipe("small-cnn", labels->is_categorical()).epochs(epochs);
  torch::optim::SGD optimizer(model->parameters(),
                              torch::optim::SGDOptions(recipe.learning_rate()).momentum(recipe.momentum()).weight_decay(recipe.weight_decay()));
  lr::data::Batcher batches(train_set, pool, lr::data::BatcherOptions(statistics.mean, statistics.std).batch_size(recipe.batch_size()).seed(0));
  auto validation = lr::train::evaluation_batches(train_set, split.validation, statistics);
  const lr::eval::NearestNeighborEvaluator evaluator(labels);

  for (std::int64_t epoch = 0; epoch < recipe.epochs(); ++epoch) {
    lr::train::set_learning_rate(optimizer, lr::train::learning_rate_at(recipe, static_cast<double>(epoch)));
    model->train();
    batches.start_epoch(epoch);
    lr::data::Batch batch;
    double loss = 0;
    std::int64_t steps = 0;
    while (batches.next(batch)) {
      loss += lr::train::train_step(model, optimizer, batch, *labels).item<double>();  // smooth L1 for label matrices
      ++steps;
    }
    const auto result = lr::train::evaluate(model, evaluator, validation);
    std::printf("epoch %lld: loss %.4f, validation accuracy %.2f%%, threshold accuracy %.2f%%\n", static_cast<long long>(epoch + 1),
                loss / static_cast<double>(steps), 100 * result.accuracy, 100 * result.threshold_accuracy);
  }
  auto test = lr::train::evaluation_batches(test_set, torch::arange(test_set.size()), statistics);
  std::printf("test accuracy %.2f%%\n", 100 * lr::train::evaluate(model, evaluator, test).accuracy);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_training_loop_example: %s\n", e.what());
  return 1;
}
