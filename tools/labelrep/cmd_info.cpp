// `labelrep info`: what a model for an encoder and a label kind looks like (parameters, shapes).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/models/model.hpp"

namespace labelrep::cli {

void add_info_command(CLI::App& app) {
  struct Args {
    std::string encoder = "resnet32", label = "category", classes = "10";
    std::int64_t in_channels = 3, size = 64;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("info", "Describe the model for an encoder and a label kind (parameter count, shapes)");
  cmd->add_option("--encoder", args->encoder, "resnet<6n+2> (resnet32, resnet110, ...), vgg19 or small-cnn")->capture_default_str();
  cmd->add_option("--label", args->label, "A label kind or a .npy label file")->capture_default_str();
  cmd->add_option("--classes", args->classes, "cifar10, cifar100, fashion-mnist, a count, or a list of names")->capture_default_str();
  cmd->add_option("--in-channels", args->in_channels, "Image channels")->capture_default_str();
  cmd->add_option("--size", args->size, "Side of square labels")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    labels::LabelSpec spec;
    spec.kind = args->label;
    spec.class_names = resolve_class_names(args->classes);
    spec.size = args->size;
    const auto labels = labels::make_labels(spec);
    auto model = models::make_model(args->encoder, args->in_channels, *labels);
    const auto output = model->decoder().output_shape();
    nlohmann::json j = {{"parameters", model->parameter_count()},
                        {"encoder", args->encoder},
                        {"encoder_parameters", [&] {
                           std::int64_t n = 0;
                           for (const auto& p : model->encoder().parameters()) n += p.numel();
                           return n;
                         }()},
                        {"decoder", model->decoder().name()},
                        {"label", labels->name()},
                        {"classes", labels->num_classes()},
                        {"in_channels", args->in_channels},
                        {"feature_dim", model->encoder().feature_dim()},
                        {"output_shape", output}};
    if (args->json) {
      std::cout << j.dump() << "\n";
    } else {
      std::cout << fmt::format("{} + {} for {} labels of {} classes: {} parameters, features {}, output [N, {}]\n", args->encoder,
                               model->decoder().name(), labels->name(), labels->num_classes(), model->parameter_count(),
                               model->encoder().feature_dim(), fmt::join(output, ", "));
    }
  });
}

}  // namespace labelrep::cli
