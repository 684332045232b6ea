#include "labelrep/core/class_names.hpp"

#include <fmt/format.h>

#include <set>

#include "labelrep/core/error.hpp"

namespace labelrep {

std::vector<std::string> dataset_class_names(const std::string& dataset) {
  if (dataset == "cifar10")
    return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  if (dataset == "fashion-mnist")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  if (dataset == "cifar100")
    return {"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
            "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
            "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
            "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
            "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
            "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
            "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
            "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
            "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
            "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};
  if (dataset == "cifar100-coarse")
    return {"aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
            "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
            "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
            "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
            "vehicles_1", "vehicles_2"};
  throw InvalidArgument(fmt::format("unknown dataset '{}' (known: cifar10, cifar100, cifar100-coarse, fashion-mnist)", dataset));
}

std::vector<std::string> resolve_class_names(const std::string& spec, const std::string& argument) {
  if (spec == "cifar10" || spec == "cifar100" || spec == "cifar100-coarse" || spec == "fashion-mnist")
    return dataset_class_names(spec);
  if (spec.empty()) throw InvalidArgument(fmt::format("{} is empty (expected a dataset name, a count or a list of names)", argument));
  if (spec.find_first_not_of("0123456789") == std::string::npos) {
    if (spec.size() > 7) throw InvalidArgument(fmt::format("{} {} is too many classes", argument, spec));
    const int n = std::stoi(spec);
    if (n < 1) throw InvalidArgument(fmt::format("{} must be at least 1, got {}", argument, spec));
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) names.push_back(fmt::format("class{}", i));
    return names;
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = spec.find(',', start);
    std::string name = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto first = name.find_first_not_of(' ');
    const auto last = name.find_last_not_of(' ');
    name = first == std::string::npos ? std::string() : name.substr(first, last - first + 1);
    if (name.empty()) throw InvalidArgument(fmt::format("{} '{}' has an empty class name", argument, spec));
    if (!seen.insert(name).second) throw InvalidArgument(fmt::format("{} '{}' names '{}' twice", argument, spec, name));
    names.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (names.size() == 1)
    throw InvalidArgument(fmt::format("{} '{}' is not a known dataset (cifar10, cifar100, cifar100-coarse, fashion-mnist), a count, or a list of at least two names",
                                      argument, spec));
  return names;
}

}  // namespace labelrep
