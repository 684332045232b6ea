// Label kinds: exactness against the authors' files, validation, targets, persistence, pictures.
#include "catch.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <filesystem>
#include <fstream>

#include "labelrep/audio/waveform.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/labels/label_image.hpp"
#include "labelrep/labels/statistics.hpp"
#include "support.hpp"

using namespace labelrep::labels;
using labelrep::FormatError;
using labelrep::InvalidArgument;

namespace {
std::string authors_file(const std::string& name) {
  const std::string dir = labelrep_test::shared_dir();
  CATCH_REQUIRE_FALSE(dir.empty());  // CI has shared/ beside the checkout; set LABELREP_SHARED_DIR otherwise
  return dir + "/reference/authors-labels/" + name;
}
bool bit_identical(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), static_cast<std::size_t>(a.numel() * a.element_size())) == 0;
}
}  // namespace

CATCH_TEST_CASE("constant labels equal the authors' cifar10_uniform.npy bit for bit", "[labels]") {
  const ConstantLabels labels(ConstantLabelsOptions(10).value_range(80));
  CATCH_CHECK(bit_identical(labels.matrix(), labelrep::read_npy(authors_file("cifar10_uniform.npy"))));
  CATCH_CHECK(labels.matrix()[9][63][63].item<float>() == 80.0f);
  CATCH_CHECK(labels.matrix()[1][0][0].item<float>() == static_cast<float>(80.0 / 9.0));
}

CATCH_TEST_CASE("uniform and lowdim labels with seed 48 reproduce the authors' random files", "[labels]") {
  const UniformLabels uniform(UniformLabelsOptions(10).seed(48));
  CATCH_CHECK(bit_identical(uniform.matrix(), labelrep::read_npy(authors_file("cifar10_random.npy"))));
  const LowDimLabels lowdim(LowDimLabelsOptions(10).dimension(10).seed(48));
  CATCH_CHECK(bit_identical(lowdim.matrix(), labelrep::read_npy(authors_file("cifar10_lowdim.npy"))));
  // Another seed gives other labels; the same seed the same ones.
  const UniformLabels other(UniformLabelsOptions(10).seed(49));
  CATCH_CHECK_FALSE(torch::equal(other.matrix(), uniform.matrix()));
  CATCH_CHECK(torch::equal(UniformLabels(UniformLabelsOptions(10).seed(49)).matrix(), other.matrix()));
  CATCH_CHECK(uniform.matrix().min().item<float>() >= 0.0f);
  CATCH_CHECK(uniform.matrix().max().item<float>() < 80.0f);
}

CATCH_TEST_CASE("random kinds never touch the global torch RNG", "[labels]") {
  torch::manual_seed(123);
  const auto expected = torch::rand({4});
  torch::manual_seed(123);
  const CompositeLabels composite(CompositeLabelsOptions(3).size(16).seed(5));
  const UniformLabels uniform(UniformLabelsOptions(3).height(8).width(8));
  CATCH_CHECK(torch::equal(torch::rand({4}), expected));
}

CATCH_TEST_CASE("category labels: one-hot, smoothing, categorical", "[labels]") {
  const CategoryLabels plain(CategoryLabelsOptions(4));
  CATCH_CHECK(plain.is_categorical());
  CATCH_CHECK(torch::equal(plain.matrix(), torch::eye(4)));
  const CategoryLabels smooth(CategoryLabelsOptions(4).smoothing(0.2));
  CATCH_CHECK(smooth.matrix()[0][0].item<float>() == labelrep_test::Approx(0.85f));
  CATCH_CHECK(smooth.matrix()[0][1].item<float>() == labelrep_test::Approx(0.05f));
  CATCH_CHECK(smooth.matrix().sum(1).allclose(torch::ones(4)));
  CATCH_CHECK_THROWS_AS(CategoryLabels(CategoryLabelsOptions(1)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(CategoryLabels(CategoryLabelsOptions(4).smoothing(1.0)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(CategoryLabels(CategoryLabelsOptions(4).smoothing(-0.1)), InvalidArgument);
}

CATCH_TEST_CASE("composite labels: shape, range, determinism, high entropy", "[labels]") {
  const CompositeLabels a(CompositeLabelsOptions(5).size(32).seed(7));
  CATCH_CHECK(a.matrix().sizes() == torch::IntArrayRef({5, 32, 32}));
  for (int c = 0; c < 5; ++c) {  // each label is min-max scaled on its own
    CATCH_CHECK(a.matrix()[c].min().item<float>() == 0.0f);
    CATCH_CHECK(a.matrix()[c].max().item<float>() == 80.0f);
  }
  CATCH_CHECK(torch::equal(a.matrix(), CompositeLabels(CompositeLabelsOptions(5).size(32).seed(7)).matrix()));
  CATCH_CHECK_FALSE(torch::equal(a.matrix(), CompositeLabels(CompositeLabelsOptions(5).size(32).seed(8)).matrix()));
  // Smooth fields of 1024 float32 values are (almost) all distinct: log2(1024) = 10 bits.
  CATCH_CHECK(shannon_entropy(a.matrix()[0]) > 9.9);
  const CompositeLabels big(CompositeLabelsOptions(2).size(64));
  CATCH_CHECK(shannon_entropy(big.matrix()[1]) > 11.9);
  CATCH_CHECK_THROWS_AS(CompositeLabels(CompositeLabelsOptions(2).size(1)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(CompositeLabels(CompositeLabelsOptions(2).min_sigma(0.3).max_sigma(0.2)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(CompositeLabels(CompositeLabelsOptions(2).gaussians(0)), InvalidArgument);
}

CATCH_TEST_CASE("invalid options are refused with InvalidArgument", "[labels]") {
  CATCH_CHECK_THROWS_AS(ConstantLabels(ConstantLabelsOptions(1)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(ConstantLabels(ConstantLabelsOptions(10).value_range(0)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(ConstantLabels(ConstantLabelsOptions(10).size(0)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(UniformLabels(UniformLabelsOptions(0)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(UniformLabels(UniformLabelsOptions(10).seed(std::uint64_t{1} << 32)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(UniformLabels(UniformLabelsOptions(10).height(-3)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(LowDimLabels(LowDimLabelsOptions(10).dimension(0)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(UniformLabels(UniformLabelsOptions(3).class_names({"a", "b"})), InvalidArgument);
  try {
    ConstantLabels(ConstantLabelsOptions(1));
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("at least 2 classes") != std::string::npos);
  }
}

CATCH_TEST_CASE("targets map class ids to labels on the ids' device", "[labels]") {
  const UniformLabels labels(UniformLabelsOptions(4).height(3).width(5).seed(1));
  const auto ids = torch::tensor({2, 0, 2}, torch::kLong);
  const auto t = labels.targets(ids);
  CATCH_CHECK(t.sizes() == torch::IntArrayRef({3, 3, 5}));
  CATCH_CHECK(t.scalar_type() == torch::kFloat32);
  CATCH_CHECK(torch::equal(t[0], labels.matrix()[2]));
  CATCH_CHECK(torch::equal(t[1], labels.matrix()[0]));
  CATCH_CHECK(labels.targets(torch::tensor({1}, torch::kInt32)).size(0) == 1);
  CATCH_CHECK(labels.targets(torch::empty({0}, torch::kLong)).size(0) == 0);
  CATCH_CHECK_THROWS_AS(labels.targets(torch::tensor({4}, torch::kLong)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(labels.targets(torch::tensor({-1}, torch::kLong)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(labels.targets(torch::tensor({0.5f})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(labels.targets(torch::zeros({2, 2}, torch::kLong)), InvalidArgument);
  CATCH_CHECK_THROWS_AS(labels.targets(torch::Tensor()), InvalidArgument);
  if (torch::cuda::is_available()) {  // [cuda] behaviour, exercised on the GPU machine
    const auto on_gpu = labels.targets(ids.to(torch::kCUDA));
    CATCH_CHECK(on_gpu.is_cuda());
    CATCH_CHECK(torch::equal(on_gpu.cpu(), t));
  }
}

CATCH_TEST_CASE("save and load keep values and metadata, sidecar errors name the file", "[labels]") {
  labelrep_test::TempDir dir;
  const auto names = labelrep::dataset_class_names("cifar10");
  const CompositeLabels original(CompositeLabelsOptions(10).size(16).seed(3).class_names(names));
  const std::string path = dir.file("composite.npy");
  original.save(path);
  const FileLabels loaded(path);
  CATCH_CHECK(torch::equal(loaded.matrix(), original.matrix()));
  CATCH_CHECK(loaded.name() == "composite");
  CATCH_CHECK(loaded.metadata().class_names == names);
  CATCH_CHECK(loaded.metadata().has_seed);
  CATCH_CHECK(loaded.metadata().seed == 3);
  CATCH_CHECK(loaded.metadata().range_max == 80.0);
  CATCH_CHECK(label_kind_of_file(path) == "composite");

  const CategoryLabels category(CategoryLabelsOptions(3));
  category.save(dir.file("category.npy"));
  CATCH_CHECK(FileLabels(dir.file("category.npy")).is_categorical());

  labelrep_test::write_bytes(path + ".json", "{\"format\": \"labelrep-labels\", \"kind\": ");
  try {
    FileLabels broken(path);
    CATCH_FAIL("a truncated sidecar was accepted");
  } catch (const FormatError& e) {
    CATCH_CHECK(e.path() == path + ".json");
  }
  labelrep_test::write_bytes(path + ".json", "{\"format\": \"labelrep-labels\", \"kind\": \"x\", \"class_names\": [\"a\"]}");
  CATCH_CHECK_THROWS_AS(FileLabels(path), FormatError);
  labelrep_test::write_bytes(path + ".json", "{\"format\": \"something-else\"}");
  CATCH_CHECK_THROWS_AS(FileLabels(path), FormatError);

  // A .npy that is not a label set: 1-D, or with NaN.
  labelrep::write_npy(dir.file("vector.npy"), torch::ones({5}));
  CATCH_CHECK_THROWS_AS(FileLabels(dir.file("vector.npy")), FormatError);
  labelrep::write_npy(dir.file("nan.npy"), torch::full({2, 2}, std::nanf("")));
  CATCH_CHECK_THROWS_AS(FileLabels(dir.file("nan.npy")), FormatError);
  // A file whose sidecar says category must hold probability rows: cross-entropy trains on them.
  CategoryLabels(CategoryLabelsOptions(3)).save(dir.file("category.npy"));
  CATCH_CHECK(FileLabels(dir.file("category.npy")).is_categorical());
  labelrep::write_npy(dir.file("category.npy"), torch::full({3, 3}, 2.0f));
  CATCH_CHECK_THROWS_AS(FileLabels(dir.file("category.npy")), FormatError);
  // float64 values beyond float32's range (labels are kept as float32): FormatError naming the file.
  labelrep::write_npy(dir.file("big.npy"), torch::full({2, 2}, 1e300, torch::kFloat64));
  try {
    FileLabels labels(dir.file("big.npy"));
    CATCH_FAIL("float64 values beyond float32 accepted");
  } catch (const FormatError& e) {
    CATCH_CHECK(e.path() == dir.file("big.npy"));
  }
  CATCH_CHECK_THROWS_AS(FileLabels(dir.file("missing.npy")), labelrep::IoError);
}

CATCH_TEST_CASE("a sidecar that describes another matrix is refused, and unwritable metadata leaves no file behind", "[labels]") {
  labelrep_test::TempDir dir;
  const std::string path = dir.file("labels.npy");
  const CompositeLabels composite(CompositeLabelsOptions(10).size(16).seed(3));
  composite.save(path);
  // Another matrix written over the .npy alone (a copy, an edit): its old sidecar no longer fits.
  labelrep::write_npy(path, torch::rand({7, 4, 4}));
  try {
    FileLabels stale(path);
    CATCH_FAIL("a sidecar of 10 classes was applied to 7");
  } catch (const FormatError& e) {
    CATCH_CHECK(e.path() == path + ".json");
    CATCH_CHECK(std::string(e.what()).find("says 10 classes") != std::string::npos);
  }
  labelrep::write_npy(path, torch::rand({10, 8, 8}));
  labelrep_test::check_throws_with<FormatError>([&] { FileLabels stale(path); }, "says labels of shape [16,16]");
  // Counts and the seed are read only from non-negative JSON integers: 10.7 classes is not 10, nor -1 a seed.
  composite.save(path);
  const auto sidecar_with = [&](const std::string& field) {
    labelrep_test::write_bytes(path + ".json",
                               "{\"format\": \"labelrep-labels\", \"kind\": \"composite\", " + field + "}");
  };
  sidecar_with("\"classes\": 10, \"label_shape\": [16, 16], \"seed\": 3, \"range\": [0, 80]");
  CATCH_CHECK(FileLabels(path).metadata().seed == 3);
  sidecar_with("\"classes\": 10.7");
  labelrep_test::check_throws_with<FormatError>([&] { FileLabels bad(path); }, "'classes' must be a non-negative integer");
  sidecar_with("\"label_shape\": [16.2, 16]");
  labelrep_test::check_throws_with<FormatError>([&] { FileLabels bad(path); }, "'label_shape' must be a non-negative integer");
  sidecar_with("\"label_shape\": 256");
  labelrep_test::check_throws_with<FormatError>([&] { FileLabels bad(path); }, "\"label_shape\" must be a list");
  sidecar_with("\"seed\": -1");
  labelrep_test::check_throws_with<FormatError>([&] { FileLabels bad(path); }, "'seed' must be a non-negative integer");
  sidecar_with("\"range\": [0, 1e999]");  // JSON numbers beyond double are refused by the parser
  labelrep_test::check_throws_with<FormatError>([&] { FileLabels bad(path); }, "number overflow");

  // A class name that is not UTF-8 cannot go into the JSON sidecar: refused before anything is written.
  const CategoryLabels latin1(CategoryLabelsOptions(2).class_names({"caf\xe9", "tea"}));
  const std::string fresh = dir.file("latin1.npy");
  CATCH_CHECK_THROWS_AS(latin1.save(fresh), InvalidArgument);
  CATCH_CHECK_FALSE(std::filesystem::exists(fresh));
  CATCH_CHECK_FALSE(std::filesystem::exists(fresh + ".json"));
}

CATCH_TEST_CASE("the authors' files load as file labels with their data range", "[labels]") {
  const FileLabels speech(authors_file("cifar10_speech.npy"));
  CATCH_CHECK(speech.name() == "file");
  CATCH_CHECK(speech.num_classes() == 10);
  CATCH_CHECK(speech.label_shape() == std::vector<std::int64_t>({64, 64}));
  CATCH_CHECK(speech.metadata().range_min == labelrep_test::Approx(-80.0));
  CATCH_CHECK(speech.metadata().range_max <= 0.0);
  CATCH_CHECK(label_kind_of_file(authors_file("cifar10_speech.npy")) == "speech");
  CATCH_CHECK(label_kind_of_file(authors_file("cifar10_uniform.npy")) == "constant");  // the authors' name for constant
  CATCH_CHECK(label_kind_of_file("/tmp/whatever.npy") == "file");
}

CATCH_TEST_CASE("make_labels builds every kind by name and refuses unknown kinds", "[labels]") {
  LabelSpec spec;
  spec.class_names = labelrep::resolve_class_names("fashion-mnist");
  spec.size = 16;
  for (const auto& kind : label_kinds()) {
    // glove and bert need input files, speech and shuffle text-to-speech: tests/labels/test_speech_labels.cpp.
    if (kind == "glove" || kind == "bert" || ((kind == "speech" || kind == "shuffle") && !labelrep::audio::has_text_to_speech()))
      continue;
    spec.kind = kind;
    const auto labels = make_labels(spec);
    CATCH_CHECK(labels->name() == kind);
    CATCH_CHECK(labels->num_classes() == 10);
    CATCH_CHECK(labels->metadata().class_names == spec.class_names);
  }
  spec.kind = "spech";
  try {
    make_labels(spec);
    CATCH_FAIL("unknown kind accepted");
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("unknown label kind 'spech'") != std::string::npos);
  }
  spec.kind = authors_file("cifar10_speech.npy");
  CATCH_CHECK(make_labels(spec)->num_classes() == 10);
  spec.class_names = labelrep::resolve_class_names("cifar100");
  CATCH_CHECK_THROWS_AS(make_labels(spec), InvalidArgument);  // 10 labels for 100 classes
  // Smoothing is for category labels: asked of another kind it is refused, not dropped.
  spec.class_names = labelrep::resolve_class_names("fashion-mnist");
  spec.smoothing = 0.1;
  spec.kind = "composite";
  CATCH_CHECK_THROWS_AS(make_labels(spec), InvalidArgument);
  spec.kind = "category";
  CATCH_CHECK(make_labels(spec)->matrix()[0][0].item<float>() == labelrep_test::Approx(0.91));
}

CATCH_TEST_CASE("label images: one PNG per class plus an overview", "[labels]") {
  labelrep_test::TempDir dir;
  const CompositeLabels labels(CompositeLabelsOptions(3).size(16).class_names({"a b", "c/d", "e"}));
  const auto files = write_label_images(labels, dir.file("png"));
  CATCH_REQUIRE(files.size() == 4);
  CATCH_CHECK(std::filesystem::path(files[1]).filename() == "001_c_d.png");
  for (const auto& f : files) {
    const std::string bytes = labelrep::read_file(f);
    CATCH_REQUIRE(bytes.size() > 24);
    CATCH_CHECK(bytes.compare(1, 3, "PNG") == 0);
  }
  // 16 px labels are enlarged 8x to 128 px; IHDR holds width and height big-endian at bytes 16..23.
  const std::string first = labelrep::read_file(files[0]);
  const auto be32 = [&](std::size_t at) {
    return (static_cast<std::uint32_t>(static_cast<unsigned char>(first[at])) << 24) |
           (static_cast<unsigned char>(first[at + 1]) << 16) | (static_cast<unsigned char>(first[at + 2]) << 8) |
           static_cast<unsigned char>(first[at + 3]);
  };
  CATCH_CHECK(be32(16) == 128);
  CATCH_CHECK(be32(20) == 128);
  const auto colours = viridis(torch::tensor({0.0, 1.0, 2.0}));
  CATCH_CHECK(colours[0][0].item<int>() == 68);
  CATCH_CHECK(colours[1][0].item<int>() == 253);
  CATCH_CHECK(torch::equal(colours[1], colours[2]));  // clamped
  // NaN is drawn as 0 (it once indexed the colour table far out of bounds), infinities as the ends.
  const auto odd = viridis(torch::tensor({std::nan(""), std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}, torch::kFloat64));
  CATCH_CHECK(torch::equal(odd[0], colours[0]));
  CATCH_CHECK(torch::equal(odd[1], colours[1]));
  CATCH_CHECK(torch::equal(odd[2], colours[0]));
  CATCH_CHECK_THROWS_AS(encode_png(torch::zeros({2, 2}, torch::kUInt8)), InvalidArgument);

  // Long vectors: the overview puts fewer strips a row to stay within PNG's 1,000,000 px a side, and a
  // label too long to draw at all is refused before anything is written.
  const LowDimLabels long_vectors(LowDimLabelsOptions(10).dimension(200000));
  const auto strips = write_label_images(long_vectors, dir.file("strips"));
  CATCH_CHECK(strips.size() == 11);
  const LowDimLabels too_long(LowDimLabelsOptions(2).dimension(1000000));
  labelrep_test::check_throws_with<InvalidArgument>([&] { write_label_images(too_long, dir.file("too-long")); }, "more than PNG's 1,000,000 px");
  CATCH_CHECK_FALSE(std::filesystem::exists(dir.file("too-long")));
}
