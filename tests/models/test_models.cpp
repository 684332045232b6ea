// Models: parameter counts equal the PyTorch reference's, Table 5's layers, shapes, checkpoint names,
// validation, deep copies, gradients.
#include "catch.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "labelrep/core/error.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/models/model.hpp"

#include "support.hpp"

using namespace labelrep;

namespace {
std::int64_t count_parameters(const torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}
}  // namespace

CATCH_TEST_CASE("parameter counts equal shared/reference/pytorch_reference.py", "[models]") {
  // Printed by the reference: sum(p.numel() for p in build(model, label, classes, in_channels).parameters()),
  // label "category" → Linear head, any other label → the 64×64 label decoder.
  struct Row {
    const char* encoder;
    bool categorical;
    std::int64_t in_channels;
    std::int64_t parameters;
  };
  const Row rows[] = {{"resnet32", true, 3, 466906},   {"resnet32", false, 3, 579577}, {"resnet110", true, 3, 1730714},
                      {"resnet110", false, 3, 1843385}, {"vgg19", true, 3, 20040522},  {"vgg19", false, 3, 20178281},
                      {"resnet32", false, 1, 579289}};
  for (const auto& row : rows) {
    CATCH_INFO(row.encoder << (row.categorical ? " category" : " 64x64 label decoder") << ", " << row.in_channels << " channels");
    const auto shape = row.categorical ? std::vector<std::int64_t>{10} : std::vector<std::int64_t>{64, 64};
    const auto model = models::make_model(row.encoder, row.in_channels, shape, row.categorical);
    CATCH_CHECK(model->parameter_count() == row.parameters);
    CATCH_CHECK(count_parameters(model->encoder()) + count_parameters(model->decoder()) == row.parameters);
  }
  // The small CNN is no reference model; its size is pinned so that a change is deliberate.
  CATCH_CHECK(count_parameters(*models::make_encoder("small-cnn", 1)) == 139168);
}

CATCH_TEST_CASE("parameter shapes, in order, equal the reference's", "[models]") {
  // ";".join("x".join(map(str, p.shape)) for p in build(model, label).parameters()) printed by the
  // reference: the same layers in the same order, so a reference state dict maps by position.
  const auto shapes = [](const models::Model& model) {
    std::string text;
    for (const auto& p : model->parameters()) {
      if (!text.empty()) text += ';';
      for (std::int64_t d = 0; d < p.dim(); ++d) text += (d ? "x" : "") + std::to_string(p.size(d));
    }
    return text;
  };
  const std::string resnet32_label =
      "16x3x3x3;16;16;16x16x3x3;16;16;16x16x3x3;16;16;16x16x3x3;16;16;16x16x3x3;16;16;16x16x3x3;16;16;16x16x3x3;16;16;"
      "16x16x3x3;16;16;16x16x3x3;16;16;16x16x3x3;16;16;16x16x3x3;16;16;32x16x3x3;32;32;32x32x3x3;32;32;32x16x1x1;32;32;"
      "32x32x3x3;32;32;32x32x3x3;32;32;32x32x3x3;32;32;32x32x3x3;32;32;32x32x3x3;32;32;32x32x3x3;32;32;32x32x3x3;32;32;"
      "32x32x3x3;32;32;64x32x3x3;64;64;64x64x3x3;64;64;64x32x1x1;64;64;64x64x3x3;64;64;64x64x3x3;64;64;64x64x3x3;64;64;"
      "64x64x3x3;64;64;64x64x3x3;64;64;64x64x3x3;64;64;64x64x3x3;64;64;64x64x3x3;64;64;64;64;64x64;64;64x64x4x4;64;64;64;"
      "64x32x4x4;32;32;32;32x16x4x4;16;16;16;16x8x4x4;8;8;8;8x1x4x4;1";
  const std::string vgg19_category =
      "64x3x3x3;64;64;64;64x64x3x3;64;64;64;128x64x3x3;128;128;128;128x128x3x3;128;128;128;256x128x3x3;256;256;256;"
      "256x256x3x3;256;256;256;256x256x3x3;256;256;256;256x256x3x3;256;256;256;512x256x3x3;512;512;512;512x512x3x3;512;"
      "512;512;512x512x3x3;512;512;512;512x512x3x3;512;512;512;512x512x3x3;512;512;512;512x512x3x3;512;512;512;"
      "512x512x3x3;512;512;512;512x512x3x3;512;512;512;10x512;10";
  CATCH_CHECK(shapes(models::make_model("resnet32", 3, {64, 64}, false)) == resnet32_label);
  CATCH_CHECK(shapes(models::make_model("vgg19", 3, {10}, true)) == vgg19_category);
}

CATCH_TEST_CASE("the label decoder is the paper's Table 5 at 64x64", "[models]") {
  models::LabelDecoder decoder(models::LabelDecoderOptions(64, 64));
  CATCH_CHECK(decoder->base_size() == 4);
  CATCH_CHECK(decoder->doublings() == 4);
  // Paddings are not read back (a variant type that differs between libtorch versions); they are pinned
  // by the output size: 1×1 → 4×4 with kernel 4, stride 1 needs padding 0, and each ×2 step with
  // kernel 4, stride 2 ends at 64×64 only with padding 1.
  struct Layer {
    std::int64_t in, out, kernel, stride;
  };
  const Layer expected[] = {{64, 64, 4, 1}, {64, 32, 4, 2}, {32, 16, 4, 2}, {16, 8, 4, 2}, {8, 1, 4, 2}};
  std::vector<Layer> found;
  int batch_norms_2d = 0, leaky = 0;
  for (const auto& m : decoder->modules(/*include_self=*/false)) {
    if (const auto* t = m->as<torch::nn::ConvTranspose2d>()) {
      const auto& o = t->options;
      found.push_back({o.in_channels(), o.out_channels(), (*o.kernel_size())[0], (*o.stride())[0]});
    }
    if (m->as<torch::nn::BatchNorm2d>()) ++batch_norms_2d;
    if (const auto* l = m->as<torch::nn::LeakyReLU>()) {
      CATCH_CHECK(l->options.negative_slope() == 0.01);
      ++leaky;
    }
  }
  CATCH_REQUIRE(found.size() == 5);
  for (std::size_t i = 0; i < found.size(); ++i) {
    CATCH_INFO("transposed convolution " << i);
    CATCH_CHECK(found[i].in == expected[i].in);
    CATCH_CHECK(found[i].out == expected[i].out);
    CATCH_CHECK(found[i].kernel == expected[i].kernel);
    CATCH_CHECK(found[i].stride == expected[i].stride);
  }
  CATCH_CHECK(batch_norms_2d == 4);  // between the transposed convolutions, none after the last
  CATCH_CHECK(leaky == 5);           // one after the BatchNorm1d, four in the upsampling
  CATCH_CHECK(count_parameters(*decoder) == 113321);
  decoder->eval();
  torch::NoGradGuard no_grad;
  CATCH_CHECK(decoder(torch::randn({3, 64})).sizes().vec() == (std::vector<std::int64_t>{3, 64, 64}));
}

CATCH_TEST_CASE("the label decoder builds other square sizes exactly", "[models]") {
  torch::NoGradGuard no_grad;
  struct Size {
    std::int64_t side, base, doublings;
  };
  for (const auto& s : {Size{48, 3, 4}, Size{32, 4, 3}, Size{96, 3, 5}, Size{10, 5, 1}, Size{7, 7, 0}, Size{3, 3, 0}}) {
    CATCH_INFO("side " << s.side);
    models::LabelDecoder d(models::LabelDecoderOptions(16, s.side));
    CATCH_CHECK(d->base_size() == s.base);
    CATCH_CHECK(d->doublings() == s.doublings);
    d->eval();
    CATCH_CHECK(d(torch::randn({2, 16})).sizes().vec() == (std::vector<std::int64_t>{2, s.side, s.side}));
  }
  CATCH_CHECK_THROWS_AS(models::LabelDecoder(models::LabelDecoderOptions(16, 2)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::LabelDecoder(models::LabelDecoderOptions(16, 1025)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::LabelDecoder(models::LabelDecoderOptions(0, 64)), InvalidArgument);
}

CATCH_TEST_CASE("the label decoder's fast transposed convolutions equal libtorch's, values and gradients", "[models]") {
  // LabelDecoder computes its transposed convolutions in equivalent forms (a matrix product, a 2×2
  // convolution of four phases); its own Sequential's forward is libtorch's ConvTranspose2d.
  for (const std::int64_t size : {64, 48, 32, 3}) {
    for (const bool channels_last : {false, true}) {
      torch::manual_seed(size);
      models::LabelDecoder decoder(models::LabelDecoderOptions(24, size));
      if (channels_last) models::set_memory_format(*decoder, c10::MemoryFormat::ChannelsLast);
      decoder->train();
      std::shared_ptr<torch::nn::Module> up;
      for (const auto& child : decoder->named_children())
        if (child.key() == "up") up = child.value();
      std::shared_ptr<torch::nn::Module> dense;
      for (const auto& child : decoder->named_children())
        if (child.key() == "dense") dense = child.value();
      CATCH_REQUIRE(up);
      const auto features = torch::randn({5, 24});
      const auto fast = decoder->forward(features);
      const auto fast_grads = torch::autograd::grad({fast.pow(2).sum()}, decoder->parameters());
      const auto x = dense->as<torch::nn::Sequential>()->forward(features).view({5, -1, 1, 1});
      const auto plain = up->as<torch::nn::Sequential>()->forward(x).squeeze(1);
      const auto plain_grads = torch::autograd::grad({plain.pow(2).sum()}, decoder->parameters());
      CATCH_CHECK(fast.sizes() == plain.sizes());
      CATCH_CHECK(torch::allclose(fast, plain, 1e-4, 1e-4));
      for (std::size_t i = 0; i < fast_grads.size(); ++i) CATCH_CHECK(torch::allclose(fast_grads[i], plain_grads[i], 1e-3, 1e-3));
    }
  }
}

CATCH_TEST_CASE("the label decoder's two upsampling forms give the same values and gradients", "[models]") {
  struct Restore {
    ~Restore() { models::set_decoder_upsampling(models::DecoderUpsampling::kAuto); }
  } restore;
  // The default picks by device: the phase form on the CPU, cuDNN's transposed convolution on CUDA.
  CATCH_CHECK(models::decoder_upsampling() == models::DecoderUpsampling::kAuto);
  CATCH_CHECK(models::decoder_upsampling_on(torch::Device("cpu")) == models::DecoderUpsampling::kPhaseConvolution);
  CATCH_CHECK(models::decoder_upsampling_on(torch::Device("cuda:0")) == models::DecoderUpsampling::kTransposedConvolution);
  CATCH_CHECK(models::parse_decoder_upsampling("transposed") == models::DecoderUpsampling::kTransposedConvolution);
  for (const auto form : {models::DecoderUpsampling::kPhaseConvolution, models::DecoderUpsampling::kTransposedConvolution, models::DecoderUpsampling::kAuto})
    CATCH_CHECK(models::parse_decoder_upsampling(models::decoder_upsampling_name(form)) == form);
  labelrep_test::check_throws_with<InvalidArgument>([] { models::parse_decoder_upsampling("cudnn"); }, "'cudnn'");
  torch::manual_seed(9);
  models::LabelDecoder decoder(models::LabelDecoderOptions(16, 64));
  models::set_memory_format(*decoder, c10::MemoryFormat::ChannelsLast);
  decoder->train();
  const auto features = torch::randn({3, 16});
  // Whether the autograd graph of an output holds an index_select (the phase form picks kernel taps).
  const auto picks_taps = [](const torch::Tensor& y) {
    std::vector<torch::autograd::Node*> todo{y.grad_fn().get()};
    std::set<torch::autograd::Node*> seen;
    while (!todo.empty()) {
      auto* node = todo.back();
      todo.pop_back();
      if (node == nullptr || !seen.insert(node).second) continue;
      if (node->name().find("IndexSelect") != std::string::npos) return true;
      for (const auto& edge : node->next_edges()) todo.push_back(edge.function.get());
    }
    return false;
  };
  std::vector<torch::Tensor> outputs, gradients;
  for (const auto form : {models::DecoderUpsampling::kPhaseConvolution, models::DecoderUpsampling::kTransposedConvolution, models::DecoderUpsampling::kAuto}) {
    models::set_decoder_upsampling(form);
    const auto y = decoder->forward(features);
    // kAuto on these CPU tensors runs the phase form.
    CATCH_CHECK(picks_taps(y) == (form != models::DecoderUpsampling::kTransposedConvolution));
    outputs.push_back(y);
    gradients.push_back(torch::autograd::grad({y.pow(2).sum()}, {decoder->parameters()[2]})[0]);  // the Linear's weight
  }
  CATCH_CHECK(torch::allclose(outputs[0], outputs[1], 1e-4, 1e-4));
  CATCH_CHECK(torch::allclose(gradients[0], gradients[1], 1e-3, 1e-3));
  CATCH_CHECK(torch::equal(outputs[2], outputs[0]));
}

CATCH_TEST_CASE("output shapes for every encoder, decoder, channel count and image size", "[models]") {
  torch::manual_seed(1);
  torch::NoGradGuard no_grad;
  const std::vector<std::vector<std::int64_t>> shapes = {{10}, {64, 64}, {48, 48}, {10}, {50}};
  for (const std::string encoder : {"resnet20", "small-cnn", "vgg19"}) {
    for (const std::int64_t channels : {1, 3}) {
      for (const std::int64_t side : {28, 32}) {
        const auto images = torch::randn({2, channels, side, side});
        for (std::size_t s = 0; s < shapes.size(); ++s) {
          const bool categorical = s == 0;  // {10} once as classes, once as a 10-vector (low-dim)
          CATCH_INFO(encoder << ", " << channels << " channels, " << side << " px, label " << s);
          auto model = models::make_model(encoder, channels, shapes[s], categorical);
          model->eval();
          if (encoder == "vgg19" && side < 32) {  // five poolings: 28 px images must be padded to 32
            CATCH_CHECK_THROWS_AS(model(images), InvalidArgument);
            continue;
          }
          auto expected = shapes[s];
          expected.insert(expected.begin(), 2);
          CATCH_CHECK(model(images).sizes().vec() == expected);
          CATCH_CHECK(model->decoder().output_shape() == shapes[s]);
          const auto features = model->features(images);
          CATCH_CHECK(features.sizes().vec() == (std::vector<std::int64_t>{2, model->encoder().feature_dim()}));
        }
      }
    }
  }
  CATCH_CHECK(models::make_encoder("resnet110", 3)->feature_dim() == 64);
  CATCH_CHECK(models::make_encoder("vgg19", 3)->feature_dim() == 512);
  CATCH_CHECK(models::make_encoder("small-cnn", 3)->feature_dim() == 128);
}

CATCH_TEST_CASE("the feature map: Grad-CAM's split of the forward pass", "[models]") {
  torch::manual_seed(2);
  auto model = models::make_model("resnet20", 3, {64, 64}, false);
  model->eval();
  const auto images = torch::randn({2, 3, 32, 32});
  const auto map = model->encoder().feature_map(images).detach().requires_grad_(true);
  CATCH_CHECK(map.sizes().vec() == (std::vector<std::int64_t>{2, 64, 8, 8}));
  const auto output = model->forward_from_feature_map(map);
  CATCH_CHECK(torch::allclose(output, model(images), 1e-5, 1e-5));
  CATCH_CHECK(torch::allclose(model->encoder().pool(map), model->features(images), 1e-5, 1e-5));
  const auto grad = torch::autograd::grad({output.sum()}, {map})[0];
  CATCH_CHECK(grad.sizes() == map.sizes());
  CATCH_CHECK(grad.abs().sum().item<double>() > 0);
  CATCH_CHECK(models::VGG19(models::VGG19Options())->feature_map(torch::randn({1, 3, 32, 32})).sizes().vec() ==
              (std::vector<std::int64_t>{1, 512, 1, 1}));
  CATCH_CHECK_THROWS_AS(model->encoder().pool(torch::randn({2, 63, 8, 8})), InvalidArgument);
}

CATCH_TEST_CASE("encoder taps: every layer listed by name and its output captured in the same forward", "[models]") {
  torch::manual_seed(4);
  // ResNet-20: the stem convolution, 9 blocks of two, and the two 1x1 shortcut convolutions.
  auto resnet = models::make_encoder("resnet20", 3);
  resnet->train();
  const auto convs = resnet->conv_layer_names();
  CATCH_CHECK(convs.size() == 21);
  CATCH_CHECK(convs.front() == "body.conv1");
  CATCH_CHECK(std::find(convs.begin(), convs.end(), "body.layer2_0.shortcut.0") != convs.end());
  CATCH_CHECK(convs.back() == "body.layer3_2.conv2");
  CATCH_CHECK(resnet->is_training());  // the probe ran in eval mode and put the modes back
  const auto layers = resnet->layers(32, 32);
  const auto block = std::find_if(layers.begin(), layers.end(), [](const auto& l) { return l.name == "body.layer2_0"; });
  CATCH_REQUIRE(block != layers.end());
  CATCH_CHECK(block->type == "BasicBlock");
  CATCH_CHECK(block->output_shape == (std::vector<std::int64_t>{32, 16, 16}));
  CATCH_CHECK(layers.back().name == "body.layer3_2");
  CATCH_CHECK_THROWS_AS(resnet->layers(-1, 32), InvalidArgument);
  CATCH_CHECK_THROWS_AS(resnet->layers(4, 4), InvalidArgument);  // below the encoder's smallest side
  CATCH_CHECK(resnet->is_training());
  CATCH_CHECK(models::make_encoder("vgg19", 3)->conv_layer_names().size() == 16);
  const auto small = models::make_encoder("small-cnn", 1)->conv_layer_names();
  CATCH_CHECK(small == (std::vector<std::string>{"body.0", "body.3", "body.7", "body.10", "body.14"}));

  resnet->eval();
  const auto images = torch::randn({2, 3, 32, 32});
  const auto tapped = resnet->feature_map_tapped(images, "body.layer1_1.conv2");
  CATCH_CHECK(tapped.layer_output.sizes().vec() == (std::vector<std::int64_t>{2, 16, 32, 32}));
  CATCH_CHECK(torch::allclose(tapped.feature_map, resnet->feature_map(images), 1e-5, 1e-5));
  const auto grad = torch::autograd::grad({tapped.feature_map.sum()}, {tapped.layer_output})[0];
  CATCH_CHECK(grad.abs().sum().item<double>() > 0);  // one graph: the map depends on the tapped layer
  try {
    resnet->feature_map_tapped(images, "body.layer9_0.conv1");
    CATCH_FAIL("an unknown layer name was accepted");
  } catch (const InvalidArgument& e) {
    const std::string message = e.what();
    CATCH_CHECK(message.find("body.layer9_0.conv1") != std::string::npos);
    CATCH_CHECK(message.find("body.layer3_2.conv2") != std::string::npos);  // lists the valid names
  }
  CATCH_CHECK_THROWS_AS(resnet->feature_map_tapped(images, ""), InvalidArgument);
}

CATCH_TEST_CASE("parameter names are stable: they are the checkpoint format", "[models]") {
  const auto model = models::make_model("resnet32", 3, {64, 64}, false);
  const auto named = model->named_parameters();
  CATCH_CHECK(named.size() == 121);  // the reference's ResNet-32 + label decoder has 121 tensors too
  const std::vector<std::string> first = {"encoder.body.conv1.weight",        "encoder.body.bn1.weight",
                                          "encoder.body.bn1.bias",            "encoder.body.layer1_0.conv1.weight",
                                          "encoder.body.layer1_0.bn1.weight", "encoder.body.layer1_0.bn1.bias"};
  for (std::size_t i = 0; i < first.size(); ++i) CATCH_CHECK(named.keys()[i] == first[i]);
  CATCH_CHECK(named.contains("encoder.body.layer2_0.shortcut.0.weight"));
  CATCH_CHECK(named.contains("encoder.body.layer3_4.bn2.bias"));
  CATCH_CHECK(!named.contains("encoder.body.layer1_0.shortcut.0.weight"));  // same shape: identity shortcut
  CATCH_CHECK(named.contains("decoder.dense.0.weight"));
  CATCH_CHECK(named.contains("decoder.dense.2.weight"));
  CATCH_CHECK(named.contains("decoder.up.0.weight"));
  CATCH_CHECK(named.keys().back() == "decoder.up.12.bias");
  CATCH_CHECK(model->named_buffers().contains("encoder.body.bn1.running_mean"));
  const auto category = models::make_model("small-cnn", 1, {10}, true)->named_parameters();
  CATCH_CHECK(category.keys().front() == "encoder.body.0.weight");
  CATCH_CHECK(category.keys().back() == "decoder.linear.bias");
  CATCH_CHECK(models::make_model("small-cnn", 1, {50}, false)->named_parameters().keys().back() == "decoder.body.2.bias");
}

CATCH_TEST_CASE("models from label sets pick the right decoder", "[models]") {
  const labels::CategoryLabels category(labels::CategoryLabelsOptions(7));
  const labels::LowDimLabels lowdim(labels::LowDimLabelsOptions(7).dimension(12));
  const labels::CompositeLabels composite(labels::CompositeLabelsOptions(7).size(32));
  const labels::UniformLabels rectangle(labels::UniformLabelsOptions(7).height(8).width(16));
  const auto a = models::make_model("small-cnn", 1, category);
  CATCH_CHECK(a->decoder().output_shape() == std::vector<std::int64_t>{7});
  CATCH_CHECK(a->decoder().name() == "CategoryDecoder");
  const auto b = models::make_model("small-cnn", 1, lowdim);
  CATCH_CHECK(b->decoder().output_shape() == std::vector<std::int64_t>{12});
  CATCH_CHECK(b->decoder().name() == "DenseDecoder");
  const auto c = models::make_model("small-cnn", 1, composite);
  CATCH_CHECK(c->decoder().output_shape() == std::vector<std::int64_t>({32, 32}));
  CATCH_CHECK(c->decoder().name() == "LabelDecoder");
  CATCH_CHECK_THROWS_AS(models::make_model("small-cnn", 1, rectangle), InvalidArgument);
  // The seeded overload: the same seed gives the same initial weights.
  const auto s1 = models::make_model("small-cnn", 1, category, 5), s2 = models::make_model("small-cnn", 1, category, 5);
  const auto s3 = models::make_model("small-cnn", 1, category, 6);
  CATCH_CHECK(torch::equal(s1->parameters()[0], s2->parameters()[0]));
  CATCH_CHECK(!torch::equal(s1->parameters()[0], s3->parameters()[0]));
}

CATCH_TEST_CASE("invalid model options are refused", "[models]") {
  CATCH_CHECK_THROWS_AS(models::make_encoder("resnet33", 3), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_encoder("resnet2", 3), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_encoder("resnet", 3), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_encoder("resnet-32", 3), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_encoder("alexnet", 3), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_encoder("resnet32", 0), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_encoder("vgg19", 65), InvalidArgument);
  for (const std::int64_t depth : {-4, 0, 2, 7, 9, 33, 1208})
    CATCH_CHECK_THROWS_AS(models::ResNetCifar(models::ResNetCifarOptions(depth)), InvalidArgument);
  CATCH_CHECK_NOTHROW(models::ResNetCifar(models::ResNetCifarOptions(8)));
  CATCH_CHECK_THROWS_AS(models::SmallCnn(models::SmallCnnOptions().width(0)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::VGG19(models::VGG19Options().in_channels(0)), InvalidArgument);
  auto encoder = models::make_encoder("resnet20", 3);
  CATCH_CHECK_THROWS_AS(encoder->forward(torch::randn({2, 1, 32, 32})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(encoder->forward(torch::randn({1, 32, 32})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(encoder->forward(torch::zeros({2, 3, 32, 32}, torch::kUInt8)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(encoder->forward(torch::randn({2, 3, 4, 4})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::CategoryDecoder(models::CategoryDecoderOptions(0, 10)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::DenseDecoder(models::DenseDecoderOptions(64, 0)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::CategoryDecoder(models::CategoryDecoderOptions(64, 10))(torch::randn({2, 63})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::Model(nullptr, nullptr), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_model("resnet20", 3, {8, 16}, false), InvalidArgument);
  CATCH_CHECK_THROWS_AS(models::make_model("resnet20", 3, {64, 64}, true), InvalidArgument);
  // A decoder built for other features than the encoder gives.
  CATCH_CHECK_THROWS_AS(models::Model(models::make_encoder("vgg19", 3), models::CategoryDecoder(models::CategoryDecoderOptions(64, 10)).ptr()),
                        InvalidArgument);
}

CATCH_TEST_CASE("your own composition of an encoder and a decoder", "[models]") {
  torch::manual_seed(3);
  models::SmallCnn encoder(models::SmallCnnOptions().in_channels(1).width(8));
  models::DenseDecoder decoder(models::DenseDecoderOptions(32, 50));
  models::Model model(encoder.ptr(), decoder.ptr());
  model->eval();
  torch::NoGradGuard no_grad;
  CATCH_CHECK(model(torch::randn({3, 1, 28, 28})).sizes().vec() == (std::vector<std::int64_t>{3, 50}));
  // Composition shares the parts: the holders and the model see the same weights.
  CATCH_CHECK(model->encoder_ptr().get() == encoder.get());
  CATCH_CHECK(model->parameter_count() == count_parameters(*encoder) + count_parameters(*decoder));
}

CATCH_TEST_CASE("clone() is a deep copy", "[models]") {
  torch::manual_seed(4);
  auto model = models::make_model("resnet20", 1, {32, 32}, false);
  model->eval();
  model->decoder().train();  // mixed modes survive the copy
  models::Model copy = models::deep_copy(model);
  CATCH_REQUIRE(copy.get() != model.get());
  CATCH_CHECK(copy->encoder_ptr().get() != model->encoder_ptr().get());
  const auto original = model->named_parameters(), copied = copy->named_parameters();
  CATCH_REQUIRE(copied.keys() == original.keys());
  for (const auto& item : original) {
    CATCH_CHECK(torch::equal(copied[item.key()], item.value()));
    CATCH_CHECK(copied[item.key()].data_ptr() != item.value().data_ptr());
    CATCH_CHECK(copied[item.key()].requires_grad());
  }
  for (const auto& item : model->named_buffers()) {
    CATCH_CHECK(torch::equal(copy->named_buffers()[item.key()], item.value()));
    CATCH_CHECK(copy->named_buffers()[item.key()].data_ptr() != item.value().data_ptr());
  }
  CATCH_CHECK(!copy->is_training());
  CATCH_CHECK(!copy->encoder().is_training());
  CATCH_CHECK(copy->decoder().is_training());
  // Naming the device the model is already on still copies.
  const models::Model on_cpu = models::deep_copy(model, torch::Device(torch::kCPU));
  CATCH_CHECK(on_cpu->parameters()[0].data_ptr() != model->parameters()[0].data_ptr());
  CATCH_CHECK(torch::equal(on_cpu->parameters()[0], model->parameters()[0]));

  // Changing the copy leaves the original alone, and the reverse.
  const auto before = model->named_parameters()["encoder.body.conv1.weight"].clone();
  {
    torch::NoGradGuard no_grad;
    copy->named_parameters()["encoder.body.conv1.weight"].add_(1.0);
  }
  CATCH_CHECK(torch::equal(model->named_parameters()["encoder.body.conv1.weight"], before));

  // An encoder holder clones to its own type.
  models::ResNetCifar encoder(models::ResNetCifarOptions(8));
  auto encoder_copy = std::dynamic_pointer_cast<models::ResNetCifarImpl>(encoder->clone());
  CATCH_REQUIRE(encoder_copy != nullptr);
  CATCH_CHECK(encoder_copy->options.depth() == 8);
  CATCH_CHECK(torch::equal(encoder_copy->parameters()[0], encoder->parameters()[0]));
  auto decoder_copy = std::dynamic_pointer_cast<models::LabelDecoderImpl>(models::LabelDecoder(models::LabelDecoderOptions(8, 48))->clone());
  CATCH_REQUIRE(decoder_copy != nullptr);
  CATCH_CHECK(decoder_copy->options.size() == 48);
}

namespace {
// A Cloneable parent holding a model: its clone() rebuilds the model in reset(), then asks it to copy
// the original's state (Module::clone_), the path torch takes for nested modules.
struct WrapperImpl : torch::nn::Cloneable<WrapperImpl> {
  WrapperImpl() { reset(); }
  void reset() override { model = register_module("model", models::make_model("small-cnn", 1, {10}, true)); }
  models::Model model{nullptr};
};
TORCH_MODULE(Wrapper);
}  // namespace

CATCH_TEST_CASE("a model inside a Cloneable parent is deep-copied too", "[models]") {
  torch::manual_seed(5);
  Wrapper wrapper;
  wrapper->eval();
  auto copy = std::dynamic_pointer_cast<WrapperImpl>(wrapper->clone());
  CATCH_REQUIRE(copy != nullptr);
  CATCH_CHECK(copy->model.get() != wrapper->model.get());
  const auto a = wrapper->named_parameters(), b = copy->named_parameters();
  CATCH_REQUIRE(a.keys() == b.keys());
  for (const auto& item : a) {
    CATCH_CHECK(torch::equal(b[item.key()], item.value()));
    CATCH_CHECK(b[item.key()].data_ptr() != item.value().data_ptr());
  }
  CATCH_CHECK(!copy->model->encoder().is_training());
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({2, 1, 28, 28});
  CATCH_CHECK(torch::equal(copy->model(images), wrapper->model(images)));
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
    if (step == 0) {
      for (const auto& item : model->named_parameters()) {
        CATCH_INFO(item.key());
        CATCH_CHECK(item.value().grad().defined());
      }
      CATCH_CHECK(model->named_parameters()["encoder.body.0.weight"].grad().abs().sum().item<double>() > 0);
    }
    optimizer.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  CATCH_CHECK(last < 0.8 * first);
}

CATCH_TEST_CASE("deep_copy to and on a CUDA device gives independent weights", "[models][cuda]") {
  if (!torch::cuda::is_available()) {
    CATCH_WARN("no CUDA device: skipped");
    return;
  }
  torch::manual_seed(6);
  auto model = models::make_model("resnet20", 3, {64, 64}, false);
  model->to(torch::kCUDA);
  model->eval();
  // `cuda` (no index) names the device the model is on (`cuda:0`): the copy must still own its storage.
  auto copy = models::deep_copy(model, torch::Device(torch::kCUDA));
  const auto a = model->named_parameters(), b = copy->named_parameters();
  for (const auto& item : a) {
    CATCH_CHECK(b[item.key()].is_cuda());
    CATCH_CHECK(b[item.key()].data_ptr() != item.value().data_ptr());
  }
  for (const auto& item : model->named_buffers()) CATCH_CHECK(copy->named_buffers()[item.key()].data_ptr() != item.value().data_ptr());
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({2, 3, 32, 32}, torch::kCUDA);
  CATCH_CHECK(torch::allclose(copy(images), model(images)));
  const auto back = models::deep_copy(model, torch::Device(torch::kCPU));
  CATCH_CHECK(back->parameters()[0].device().is_cpu());
}
