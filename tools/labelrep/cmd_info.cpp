// `labelrep info`: what the model for an encoder and a label kind looks like (parameters, shapes).
// It needs only the label's shape, so no label set is built (speech labels would need text-to-speech,
// bert and glove their data files): each kind maps to the shape of its labels.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/models/model.hpp"

namespace labelrep::cli {
namespace {

struct LabelShape {
  std::vector<std::int64_t> shape;  // of one label
  bool categorical = false;
  std::int64_t classes = 0;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The shapes of the authors' label files: matrices 64×64 (or --size), BERT 48×48 (cifar10_bert.npy;
// the paper's text says 64×64), low-dim 10, GloVe 50 (glove.6B.50d).
LabelShape label_shape_of(const std::string& label, std::int64_t classes, std::int64_t size) {
  if (label == "category") return {{classes}, true, classes};
  if (label == "speech" || label == "composite" || label == "uniform" || label == "constant" || label == "shuffle")
    return {{size, size}, false, classes};
  if (label == "bert") return {{48, 48}, false, classes};
  if (label == "lowdim") return {{10}, false, classes};
  if (label == "glove") return {{50}, false, classes};
  if (ends_with(label, ".npy")) {
    const auto matrix = read_npy(label);  // [C, ...label shape]
    if (matrix.dim() < 2)
      throw InvalidArgument(fmt::format("label file {}: expected [classes, ...label shape], got {} dimensions", label, matrix.dim()));
    auto sizes = matrix.sizes().vec();
    const std::int64_t file_classes = sizes.front();
    sizes.erase(sizes.begin());
    return {sizes, false, file_classes};
  }
  throw InvalidArgument(fmt::format(
      "unknown label '{}' (known: category, speech, composite, uniform, constant, shuffle, lowdim, bert, glove, or a FILE.npy)", label));
}

std::int64_t parameters_of(const torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace

void add_info_command(CLI::App& app) {
  struct Args {
    std::string encoder = "resnet32", label = "category", classes = "10";
    std::int64_t in_channels = 3, size = 64;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("info", "Describe the model for an encoder and a label kind (parameter count, shapes)");
  cmd->add_option("--encoder", args->encoder, "resnet<6n+2> (resnet20, resnet32, resnet56, resnet110, ...), vgg19 or small-cnn")
      ->capture_default_str();
  cmd->add_option("--label", args->label,
                  "category, speech, composite, uniform, constant, shuffle (SxS matrices), lowdim (10), bert (48x48), glove (50), "
                  "or a FILE.npy of labels [C, ...]")
      ->capture_default_str();
  auto* classes = cmd->add_option("--classes", args->classes, "A count N, cifar10, cifar100, cifar100-coarse, fashion-mnist, or a list of names")
                      ->capture_default_str();
  cmd->add_option("--in-channels", args->in_channels, "Image channels (1 for Fashion-MNIST)")->capture_default_str();
  cmd->add_option("--size", args->size, "Side of square matrix labels (speech, composite, uniform, constant, shuffle)")
      ->capture_default_str()
      ->check(CLI::Range(3, 1024));
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, classes] {
    const auto class_count = static_cast<std::int64_t>(resolve_class_names(args->classes).size());
    const auto label = label_shape_of(args->label, class_count, args->size);
    if (ends_with(args->label, ".npy") && classes->count() > 0 && label.classes != class_count)
      throw InvalidArgument(fmt::format("label file {} has {} classes but --classes gives {}", args->label, label.classes, class_count));
    auto model = models::make_model(args->encoder, args->in_channels, label.shape, label.categorical);
    const auto output = model->decoder().output_shape();
    const nlohmann::json j = {{"parameters", model->parameter_count()},
                              {"encoder", args->encoder},
                              {"encoder_parameters", parameters_of(model->encoder())},
                              {"decoder", model->decoder().name()},
                              {"decoder_parameters", parameters_of(model->decoder())},
                              {"label", args->label},
                              {"classes", label.classes},
                              {"in_channels", args->in_channels},
                              {"feature_dim", model->encoder().feature_dim()},
                              {"output_shape", output}};
    if (args->json) {
      std::cout << j.dump() << "\n";
    } else {
      std::cout << fmt::format("{} + {} for {} labels of {} classes: {} parameters ({} encoder, {} decoder), features {}, output [N, {}]\n",
                               args->encoder, model->decoder().name(), args->label, label.classes, model->parameter_count(),
                               parameters_of(model->encoder()), parameters_of(model->decoder()), model->encoder().feature_dim(),
                               fmt::join(output, ", "));
    }
  });
}

}  // namespace labelrep::cli
