// Models: parameter counts equal the PyTorch reference's, shapes, names, validation, gradients.
#include "catch.hpp"

#include <torch/torch.h>

#include "labelrep/core/error.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"

using namespace labelrep;

CATCH_TEST_CASE("parameter counts equal shared/reference/pytorch_reference.py", "[models]") {
  // Numbers printed by the reference's build(model, label) with 10 classes, 3 channels, 64x64 labels.
  struct Row { const char* encoder; bool categorical; std::int64_t parameters; };
  const Row rows[] = {{"resnet32", true, 466906},  {"resnet32", false, 579577},   {"resnet110", true, 1730714},
                      {"resnet110", false, 1843385}, {"vgg19", true, 20040522}, {"vgg19", false, 20178281}};
  for (const auto& row : rows) {
    const auto shape = row.categorical ? std::vector<std::int64_t>{10} : std::vector<std::int64_t>{64, 64};
    const auto model = models::make_model(row.encoder, 3, shape, row.categorical);
    CATCH_CHECK(model->parameter_count() == row.parameters);
  }
}

CATCH_TEST_CASE("output shapes for every encoder, decoder, channel count and image size", "[models]") {
  torch::NoGradGuard no_grad;
  for (const std::string encoder : {"resnet20", "small-cnn", "vgg19"}) {
    for (const std::int64_t channels : {1, 3}) {
      for (const std::int64_t side : {28, 32}) {
        if (encoder == "vgg19" && side < 32) continue;
        const auto images = torch::randn({2, channels, side, side});
        for (const auto& shape : {std::vector<std::int64_t>{10}, std::vector<std::int64_t>{64, 64}, std::vector<std::int64_t>{48, 48},
                                  std::vector<std::int64_t>{50}}) {
          auto model = models::make_model(encoder, channels, shape, shape.size() == 1 && shape[0] == 10);
          model->eval();
          auto expected = shape;
          expected.insert(expected.begin(), 2);
          CATCH_CHECK(model(images).sizes().vec() == expected);
          CATCH_CHECK(model->features(images).size(1) == model->encoder().feature_dim());
        }
      }
    }
  }
  CATCH_CHECK_THROWS_AS(models::make_model("vgg19", 1, {10}, true)(torch::randn({2, 1, 28, 28})), InvalidArgument);
}

CATCH_TEST_CASE("the label decoder builds the paper's Table 5 and other sizes", "[models]") {
  torch::NoGradGuard no_grad;
  models::LabelDecoder decoder(models::LabelDecoderOptions(64, 64));
  decoder.eval();
  CATCH_CHECK(decoder.forward(torch::randn({3, 64})).sizes() == torch::IntArrayRef({3, 64, 64}));
  // 1x1 -> 4 -> 8 -> 16 -> 32 -> 64: five transposed convolutions.
  int transposed = 0;
  for (const auto& m : decoder.modules(false))
    if (m->name() == "torch::nn::ConvTranspose2dImpl") ++transposed;
  CATCH_CHECK(transposed == 5);
  for (const std::int64_t side : {3, 7, 10, 32, 48, 96}) {
    models::LabelDecoder d(models::LabelDecoderOptions(16, side));
    d.eval();
    CATCH_CHECK(d.forward(torch::randn({2, 16})).sizes() == torch::IntArrayRef({2, side, side}));
  }
  CATCH_CHECK_THROWS_AS(models::LabelDecoder(models::LabelDecoderOptions(16, 2)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(decoder.forward(torch::randn({3, 63})), InvalidArgument);
}

CATCH_TEST_CASE("parameter names are stable: they are the checkpoint format", "[models]") {
  const auto model = models::make_model("resnet32", 3, {64, 64}, false);
  const auto named = model->named_parameters();
  CATCH_CHECK(named.size() == 121);  // 99 encoder + 22 decoder tensors
  CATCH_CHECK(named.contains("encoder.body.conv1.weight"));
  CATCH_CHECK(named.contains("encoder.body.layer1_0.conv1.weight"));
  CATCH_CHECK(named.contains("encoder.body.layer2_0.shortcut.0.weight"));
  CATCH_CHECK(named.contains("encoder.body.layer3_4.bn2.bias"));
  CATCH_CHECK(named.contains("decoder.dense.2.weight"));
  CATCH_CHECK(named.contains("decoder.up.12.weight"));
  CATCH_CHECK(model->named_buffers().contains("encoder.body.bn1.running_mean"));
}

CATCH_TEST_CASE("models from label sets pick the right decoder", "[models]") {
  const labels::CategoryLabels category(labels::CategoryLabelsOptions(7));
  const labels::LowDimLabels lowdim(labels::LowDimLabelsOptions(7).dimension(12));
  const labels::CompositeLabels composite(labels::CompositeLabelsOptions(7).size(32));
  const labels::UniformLabels rectangle(labels::UniformLabelsOptions(7).height(8).width(16));
  CATCH_CHECK(models::make_model("small-cnn", 1, category)->decoder().output_shape() == std::vector<std::int64_t>{7});
  CATCH_CHECK(models::make_model("small-cnn", 1, lowdim)->decoder().output_shape() == std::vector<std::int64_t>{12});
  CATCH_CHECK(models::make_model("small-cnn", 1, composite)->decoder().output_shape() == std::vector<std::int64_t>({32, 32}));
  CATCH_CHECK_THROWS_AS(models::make_model("small-cnn", 1, rectangle), InvalidArgument);
}

CATCH_TEST_CASE("invalid model options are refused", "[models]") {
  CATCH_CHECK_THROWS_AS(models::make_encoder("resnet33", 3), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_encoder("resnet2", 3), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_encoder("alexnet", 3), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_encoder("resnet32", 0), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::ResNetCifar(models::ResNetCifarOptions(7)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::SmallCnn(models::SmallCnnOptions().width(0)), InvalidArgument);
  auto encoder = models::make_encoder("resnet20", 3);
  CATCH_CHECK_THROWS_AS(encoder->forward(torch::randn({2, 1, 32, 32})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(encoder->forward(torch::randn({1, 32, 32})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(encoder->forward(torch::zeros({2, 3, 32, 32}, torch::kUInt8)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::CategoryDecoder(0, 10), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::Model(nullptr, nullptr), InvalidArgument);
}

CATCH_TEST_CASE("a tiny model trains: gradients reach the first layer and the loss falls", "[models]") {
  torch::manual_seed(0);
  auto model = models::make_model("small-cnn", 1, {16, 16}, false);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  const auto images = torch::randn({8, 1, 16, 16});
  const auto targets = torch::randn({8, 16, 16});
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    optimizer.zero_grad();
    const auto loss = torch::smooth_l1_loss(model(images), targets);
    loss.backward();
    optimizer.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  CATCH_CHECK(last < first);
  const auto& grad = model->named_parameters()["encoder.body.0.weight"].grad();
  CATCH_REQUIRE(grad.defined());
  CATCH_CHECK(grad.abs().sum().item<double>() > 0);
  // The feature map is what Grad-CAM hooks into: [N, F, h, w], and pool(map) == features.
  model->eval();
  torch::NoGradGuard no_grad;
  const auto map = model->encoder().feature_map(images);
  CATCH_CHECK(map.size(1) == model->encoder().feature_dim());
  CATCH_CHECK(torch::allclose(model->encoder().pool(map), model->features(images)));
}
