// `labelrep data info NAME [--dir D]`: what a dataset holds (counts, classes, pixel statistics).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "labelrep/data/loaders.hpp"

namespace labelrep::cli {

void add_data_command(CLI::App& app) {
  struct Args {
    std::string name, dir;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* data = app.add_subcommand("data", "Datasets");
  data->require_subcommand(1);
  auto* info = data->add_subcommand("info", "Counts, classes and per-channel mean/std of a dataset's training and test sets");
  info->add_option("name", args->name, "fashion-mnist, cifar10, cifar100 or cifar100-coarse")->required();
  info->add_option("--dir", args->dir, "Directory with the dataset's files (default for fashion-mnist: " +
                                           std::string(data::kFashionMnistDir) + ")");
  info->add_flag("--json", args->json, "Print one JSON object");
  info->callback([args] {
    const auto train = data::load_dataset(args->name, args->dir, data::Split::kTrain);
    const auto test = data::load_dataset(args->name, args->dir, data::Split::kTest);
    const auto [mean, std] = data::channel_mean_std(train.images());
    const auto counts = train.class_counts(), test_counts = test.class_counts();
    std::vector<double> m(mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel());
    std::vector<double> s(std.data_ptr<double>(), std.data_ptr<double>() + std.numel());
    if (args->json) {
      nlohmann::json classes = nlohmann::json::array();
      for (std::int64_t c = 0; c < train.num_classes(); ++c)
        classes.push_back({{"name", train.class_names()[static_cast<std::size_t>(c)]},
                           {"train", counts[c].item<std::int64_t>()},
                           {"test", test_counts[c].item<std::int64_t>()}});
      nlohmann::json j = {{"dataset", train.name()},
                          {"train", train.size()},
                          {"test", test.size()},
                          {"image_shape", {train.channels(), train.height(), train.width()}},
                          {"mean", m},
                          {"std", s},
                          {"classes", classes}};
      std::cout << j.dump() << "\n";
      return;
    }
    std::cout << fmt::format("{}: {} training and {} test images of {}x{}x{}\n", train.name(), train.size(), test.size(),
                             train.channels(), train.height(), train.width());
    std::cout << fmt::format("per-channel mean {:.4f}  std {:.4f} (training set, pixels in [0, 1])\n", fmt::join(m, " "),
                             fmt::join(s, " "));
    std::cout << fmt::format("{:>4}  {:<24} {:>7} {:>6}\n", "id", "class", "train", "test");
    for (std::int64_t c = 0; c < train.num_classes(); ++c)
      std::cout << fmt::format("{:>4}  {:<24} {:>7} {:>6}\n", c, train.class_names()[static_cast<std::size_t>(c)],
                               counts[c].item<std::int64_t>(), test_counts[c].item<std::int64_t>());
  });
}

}  // namespace labelrep::cli
