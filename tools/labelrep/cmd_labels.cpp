// `labelrep labels KIND --classes ... --out FILE.npy`: make a label set, save it, optionally draw it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>

#include "commands.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/label_image.hpp"

namespace labelrep::cli {

void add_labels_command(CLI::App& app) {
  struct Args {
    std::string kind, classes, out, png_dir;
    std::uint64_t seed = 0;
    std::int64_t size = 64, dimension = 10;
    double range = 80.0, smoothing = 0.0;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("labels", "Make a label set (one label per class) and save it as .npy");
  cmd->add_option("kind", args->kind, fmt::format("Label kind: {}", fmt::join(labels::label_kinds(), ", ")))->required();
  cmd->add_option("--classes", args->classes, "cifar10, cifar100, fashion-mnist, a count N, or \"name,name,...\"")->required();
  cmd->add_option("--out", args->out, "Output .npy file (metadata goes to FILE.npy.json)")->required();
  auto* seed = cmd->add_option("--seed", args->seed, "Seed of random kinds (default: the kind's; 48 = the authors')");
  cmd->add_option("--size", args->size, "Side of square labels")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--dimension", args->dimension, "Length of lowdim vectors")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--range", args->range, "Value range [0, R] of matrix kinds")->capture_default_str();
  cmd->add_option("--smoothing", args->smoothing, "Label smoothing of category labels")->capture_default_str();
  cmd->add_option("--png", args->png_dir, "Also draw each label as a PNG into this directory");
  cmd->callback([args, seed] {
    labels::LabelSpec spec;
    spec.kind = args->kind;
    spec.class_names = resolve_class_names(args->classes);
    spec.size = args->size;
    spec.dimension = args->dimension;
    spec.value_range = args->range;
    spec.smoothing = args->smoothing;
    spec.has_seed = seed->count() > 0;
    spec.seed = args->seed;
    const auto labels = labels::make_labels(spec);
    labels->save(args->out);
    std::cout << fmt::format("wrote {}: {} labels of shape [{}] ({})\n", args->out, labels->num_classes(),
                             fmt::join(labels->label_shape(), ", "), labels->metadata().description);
    if (!args->png_dir.empty()) {
      const auto files = labels::write_label_images(*labels, args->png_dir);
      std::cout << fmt::format("wrote {} images to {}\n", files.size(), args->png_dir);
    }
  });
}

}  // namespace labelrep::cli
