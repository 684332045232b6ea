// Data: IDX/CIFAR readers on synthetic files in the real formats (valid and malformed), the real
// Fashion-MNIST, splits and levels, and batches against a per-image reference implementation.
#include "catch.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fmt/format.h>
#include <set>

#include "labelrep/core/error.hpp"
#include "labelrep/data/batcher.hpp"
#include "labelrep/data/loaders.hpp"
#include "labelrep/data/split.hpp"
#include "idx_files.hpp"
#include "support.hpp"

using namespace labelrep;
using labelrep_test::be32;
using labelrep_test::gzip;
using labelrep_test::idx;
using labelrep_test::write_bytes;

namespace {
// A tiny Fashion-MNIST-shaped set: n images of 4x4 with value (i*16 + pixel), labels i % 10.
void write_fashion(const labelrep_test::TempDir& dir, const std::string& prefix, std::uint32_t n) {
  std::string pixels, labels;
  for (std::uint32_t i = 0; i < n; ++i) {
    for (int p = 0; p < 16; ++p) pixels.push_back(static_cast<char>((i * 16 + static_cast<std::uint32_t>(p)) & 0xff));
    labels.push_back(static_cast<char>(i % 10));
  }
  write_bytes(dir.file(prefix + "-images-idx3-ubyte.gz"), gzip(idx(2051, {n, 4, 4}, pixels)));
  write_bytes(dir.file(prefix + "-labels-idx1-ubyte.gz"), gzip(idx(2049, {n}, labels)));
}
template <typename F>
void expect_format_error(F&& f, const std::string& path, std::uint64_t offset, const std::string& words) {
  try {
    f();
    CATCH_FAIL("no FormatError for " << path << " (" << words << ")");
  } catch (const FormatError& e) {
    CATCH_CHECK(e.path() == path);
    CATCH_CHECK(e.offset() == offset);
    CATCH_CHECK(std::string(e.what()).find(words) != std::string::npos);
  }
}
}  // namespace

CATCH_TEST_CASE("IDX files, raw and gzip, read completely", "[data]") {
  labelrep_test::TempDir dir;
  const std::string payload = "\x01\x02\x03\x04\x05\x06";
  write_bytes(dir.file("a.idx"), idx(0x0803, {1, 2, 3}, payload));
  write_bytes(dir.file("a.gz"), gzip(idx(0x0803, {1, 2, 3}, payload)));
  for (const auto* name : {"a.idx", "a.gz"}) {
    const auto t = data::read_idx(dir.file(name));
    CATCH_CHECK(t.sizes() == torch::IntArrayRef({1, 2, 3}));
    CATCH_CHECK(t[0][1][2].item<int>() == 6);
  }
}

CATCH_TEST_CASE("a gzip IDX file of several members reads as one stream, as gzip reads it", "[data]") {
  labelrep_test::TempDir dir;
  const auto f = dir.file("multi.gz");
  std::string payload;
  for (int i = 0; i < 24; ++i) payload += static_cast<char>(i);
  const std::string file = idx(0x0803, {2, 3, 4}, payload);
  // Split anywhere (inside the header, between header and data, inside the data), plus an empty member
  // (`cat a.gz b.gz`, pigz and bgzip write such files).
  for (const std::size_t cut : {std::size_t{2}, std::size_t{16}, std::size_t{20}, file.size() - 1}) {
    write_bytes(f, gzip(file.substr(0, cut)) + gzip("") + gzip(file.substr(cut)));
    const auto t = data::read_idx(f);
    CATCH_REQUIRE(t.sizes() == torch::IntArrayRef({2, 3, 4}));
    CATCH_CHECK(t[1][2][3].item<int>() == 23);
  }
  write_bytes(f, gzip(file) + gzip(""));
  CATCH_CHECK(data::read_idx(f).numel() == 24);
  // Still refused: a second member with data beyond the dimensions, a truncated second member, and
  // bytes after a member that start no other one (offsets are compressed-file offsets).
  const auto read = [&] { data::read_idx(f); };
  write_bytes(f, gzip(file) + gzip("x"));
  expect_format_error(read, f, 4 + 4 * 3 + 24, "more data than the IDX dimensions declare");
  const std::string second = gzip(file.substr(20));
  write_bytes(f, gzip(file.substr(0, 20)) + second.substr(0, second.size() - 5));
  CATCH_CHECK_THROWS_AS(read(), FormatError);
  const std::string first = gzip(file);
  write_bytes(f, first + std::string(4, '\0'));
  expect_format_error(read, f, first.size(), "neither the end of the file nor another gzip member");
}

CATCH_TEST_CASE("malformed IDX files name the file and the offset", "[data]") {
  labelrep_test::TempDir dir;
  const auto f = dir.file("bad");
  const auto read = [&] { data::read_idx(f); };
  write_bytes(f, "\x01\x00\x08\x01" + be32(1) + "x");
  expect_format_error(read, f, 0, "not an IDX file");
  write_bytes(f, std::string("\x00\x00\x0d\x01", 4) + be32(1) + "xxxx");
  expect_format_error(read, f, 2, "data type 0x0d");
  write_bytes(f, std::string("\x00\x00\x08\x07", 4));
  expect_format_error(read, f, 3, "7 dimensions");
  write_bytes(f, idx(0x0801, {5}, "abc"));  // payload short
  expect_format_error(read, f, 11, "file ends inside the IDX data");
  write_bytes(f, idx(0x0801, {3}, "abcd"));  // one byte too many
  expect_format_error(read, f, 11, "unexpected bytes");
  write_bytes(f, std::string("\x00\x00\x08", 3));
  expect_format_error(read, f, 3, "file ends inside the IDX magic");
  write_bytes(f, idx(0x0803, {0xffffffffu, 0xffffffffu, 0xffffffffu}, ""));
  expect_format_error(read, f, 8, "IDX dimensions overflow");  // the product leaves int64 at the second size
  write_bytes(f, idx(0x0803, {60000, 28, 28}, "tiny"));
  expect_format_error(read, f, 4, "more than the file can hold");
  // gzip: truncated stream, corrupt stream, more data than declared, a "bomb" declaring 4 GB.
  const std::string good = gzip(idx(0x0801, {64}, std::string(64, 'a')));
  write_bytes(f, good.substr(0, good.size() - 6));
  CATCH_CHECK_THROWS_AS(read(), FormatError);
  std::string corrupt = good;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x55);
  write_bytes(f, corrupt);
  CATCH_CHECK_THROWS_AS(read(), FormatError);
  write_bytes(f, gzip(idx(0x0801, {3}, "abcdef")));
  expect_format_error(read, f, 11, "more data than the IDX dimensions declare");
  write_bytes(f, gzip(idx(0x0803, {60000, 1000, 1000}, "tiny")));
  expect_format_error(read, f, 4, "more than the file can hold");
  write_bytes(f, gzip(idx(0x0801, {8}, "abc")));
  expect_format_error(read, f, 11, "decompressed data ends inside the IDX data");
  // Every strict prefix of a small valid raw file is rejected, never a partial tensor.
  const std::string valid = idx(0x0803, {2, 2, 2}, "abcdefgh");
  for (std::size_t n = 0; n < valid.size(); ++n) {
    write_bytes(f, valid.substr(0, n));
    CATCH_CHECK_THROWS_AS(read(), FormatError);
  }
}

CATCH_TEST_CASE("Fashion-MNIST from IDX.gz: images, labels, checks", "[data]") {
  labelrep_test::TempDir dir;
  write_fashion(dir, "train", 30);
  write_fashion(dir, "t10k", 10);
  const auto train = data::load_fashion_mnist(dir.path().string(), data::Split::kTrain);
  CATCH_CHECK(train.size() == 30);
  CATCH_CHECK(train.images().sizes() == torch::IntArrayRef({30, 1, 4, 4}));
  CATCH_CHECK(train.images()[2][0][0][1].item<int>() == 33);
  CATCH_CHECK(train.targets()[13].item<std::int64_t>() == 3);
  CATCH_CHECK(train.class_names().at(9) == "Ankle boot");
  CATCH_CHECK(data::load_fashion_mnist(dir.path().string(), data::Split::kTest).size() == 10);
  const auto padded = train.pad_to(8);
  CATCH_CHECK(padded.images().sizes() == torch::IntArrayRef({30, 1, 8, 8}));
  CATCH_CHECK(padded.images()[2][0][2][3].item<int>() == 33);
  CATCH_CHECK(padded.images()[2][0][0][0].item<int>() == 0);
  CATCH_CHECK_THROWS_AS(train.pad_to(7), InvalidArgument);

  // A test set whose images have another size than the training images is refused, naming both files.
  write_bytes(dir.file("t10k-images-idx3-ubyte.gz"), gzip(idx(2051, {10, 5, 4}, std::string(200, '\x01'))));
  expect_format_error([&] { data::load_fashion_mnist(dir.path().string(), data::Split::kTest); }, dir.file("t10k-images-idx3-ubyte.gz"), 8,
                      "the test images are 5x4 but the training images (" + dir.file("train-images-idx3-ubyte.gz") + ") are 4x4");
  write_fashion(dir, "t10k", 10);

  // Labels out of range, and counts that disagree.
  write_bytes(dir.file("train-labels-idx1-ubyte.gz"), gzip(idx(2049, {30}, std::string(29, '\x01') + "\x0a")));
  expect_format_error([&] { data::load_fashion_mnist(dir.path().string()); }, dir.file("train-labels-idx1-ubyte.gz"), 8 + 29,
                      "label 10 of image 29");
  write_bytes(dir.file("train-labels-idx1-ubyte.gz"), gzip(idx(2049, {29}, std::string(29, '\x01'))));
  CATCH_CHECK_THROWS_AS(data::load_fashion_mnist(dir.path().string()), FormatError);
  // Images of no pixels are the file's fault (FormatError at the dimension), not the dataset's.
  write_fashion(dir, "train", 30);
  write_bytes(dir.file("train-images-idx3-ubyte.gz"), gzip(idx(2051, {30, 4, 0}, "")));
  expect_format_error([&] { data::load_fashion_mnist(dir.path().string()); }, dir.file("train-images-idx3-ubyte.gz"), 12,
                      "the images are 4x0 pixels");
  // A missing dataset says where it looked and how to get it.
  try {
    data::load_fashion_mnist(dir.file("nowhere"));
    CATCH_FAIL("missing dataset accepted");
  } catch (const IoError& e) {
    CATCH_CHECK(std::string(e.what()).find("apt-get install dataset-fashion-mnist") != std::string::npos);
    CATCH_CHECK(e.path().find("nowhere") != std::string::npos);
  }
}

CATCH_TEST_CASE("CIFAR-10 and CIFAR-100 binary files", "[data]") {
  labelrep_test::TempDir dir;
  auto record = [](std::initializer_list<int> labels, int fill) {
    std::string r;
    for (int l : labels) r.push_back(static_cast<char>(l));
    for (int p = 0; p < 3072; ++p) r.push_back(static_cast<char>((fill + p / 1024) & 0xff));  // channel c = fill + c
    return r;
  };
  for (int b = 1; b <= 5; ++b) write_bytes(dir.file(fmt::format("data_batch_{}.bin", b)), record({b}, 10 * b) + record({9}, 0));
  write_bytes(dir.file("test_batch.bin"), record({3}, 7));
  const auto train = data::load_cifar10(dir.path().string(), data::Split::kTrain);
  CATCH_CHECK(train.size() == 10);
  CATCH_CHECK(train.images().sizes() == torch::IntArrayRef({10, 3, 32, 32}));
  CATCH_CHECK(train.targets()[2].item<std::int64_t>() == 2);
  CATCH_CHECK(train.images()[2][1][5][5].item<int>() == 21);  // green plane of the batch-2 record
  const auto test = data::load_cifar10(dir.path().string(), data::Split::kTest);
  CATCH_CHECK(test.targets()[0].item<std::int64_t>() == 3);
  // A one-record file: the images own their memory (they once pointed into the freed file buffer).
  const std::string scribble(1 << 20, '\x55');
  CATCH_CHECK(test.images()[0][0].eq(7).all().item<bool>());
  CATCH_CHECK(test.images()[0][2].eq(9).all().item<bool>());
  CATCH_CHECK(scribble.size() == 1 << 20);
  write_bytes(dir.file("test_batch.bin"), record({3}, 7) + "x");
  expect_format_error([&] { data::load_cifar10(dir.path().string(), data::Split::kTest); }, dir.file("test_batch.bin"), 3073,
                      "not a positive multiple of the 3073-byte");
  write_bytes(dir.file("test_batch.bin"), record({3}, 7) + record({10}, 7));
  expect_format_error([&] { data::load_cifar10(dir.path().string(), data::Split::kTest); }, dir.file("test_batch.bin"), 3073,
                      "label 10 of record 1");

  write_bytes(dir.file("train.bin"), record({19, 99}, 1) + record({0, 5}, 2));
  const auto fine = data::load_cifar100(dir.path().string(), data::Split::kTrain);
  CATCH_CHECK(fine.num_classes() == 100);
  CATCH_CHECK(fine.targets()[0].item<std::int64_t>() == 99);
  const auto coarse = data::load_cifar100(dir.path().string(), data::Split::kTrain, true);
  CATCH_CHECK(coarse.num_classes() == 20);
  CATCH_CHECK(coarse.targets()[0].item<std::int64_t>() == 19);
  write_bytes(dir.file("train.bin"), record({20, 5}, 1));
  expect_format_error([&] { data::load_cifar100(dir.path().string()); }, dir.file("train.bin"), 0, "out of range [0, 20)");
  write_bytes(dir.file("train.bin"), record({2, 100}, 1));
  expect_format_error([&] { data::load_cifar100(dir.path().string()); }, dir.file("train.bin"), 1, "out of range [0, 100)");

  // The python-pickle version: a clear word about which files are expected.
  labelrep_test::TempDir pickle;
  write_bytes(pickle.file("data_batch_1"), "pickle");
  try {
    data::load_cifar10(pickle.path().string());
    CATCH_FAIL("pickle version accepted");
  } catch (const IoError& e) {
    CATCH_CHECK(std::string(e.what()).find("python-pickle version") != std::string::npos);
    CATCH_CHECK(std::string(e.what()).find("data_batch_1.bin") != std::string::npos);
  }
  CATCH_CHECK_THROWS_AS(data::load_dataset("cifar10", "", data::Split::kTrain), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::load_dataset("mnist", "", data::Split::kTrain), InvalidArgument);
}

CATCH_TEST_CASE("the real Fashion-MNIST: counts, class histogram, pixel statistics", "[data]") {
  // The README's test command installs dataset-fashion-mnist; without it this test fails on purpose.
  CATCH_REQUIRE(std::filesystem::exists(std::string(data::kFashionMnistDir) + "/train-images-idx3-ubyte.gz"));
  const auto train = data::load_fashion_mnist(data::kFashionMnistDir, data::Split::kTrain);
  const auto test = data::load_fashion_mnist(data::kFashionMnistDir, data::Split::kTest);
  CATCH_CHECK(train.size() == 60000);
  CATCH_CHECK(test.size() == 10000);
  CATCH_CHECK(torch::equal(train.class_counts(), torch::full({10}, 6000, torch::kLong)));
  CATCH_CHECK(torch::equal(test.class_counts(), torch::full({10}, 1000, torch::kLong)));
  const auto [mean, std] = data::channel_mean_std(train.images());
  CATCH_CHECK(mean.item<double>() == labelrep_test::Approx(0.2860).margin(5e-5));
  CATCH_CHECK(std.item<double>() == labelrep_test::Approx(0.3530).margin(5e-5));
  // The documented constants are these measurements.
  const auto documented = data::dataset_statistics("fashion-mnist");
  CATCH_CHECK(mean.item<double>() == labelrep_test::Approx(documented.mean[0]).epsilon(1e-12));
  CATCH_CHECK(std.item<double>() == labelrep_test::Approx(documented.std[0]).epsilon(1e-12));
  CATCH_CHECK(train.images().max().item<int>() == 255);
}

CATCH_TEST_CASE("splits are seeded, disjoint and complete, levels nested", "[data]") {
  const auto split = data::make_split(1000, 100, 7);
  CATCH_CHECK(split.validation.size(0) == 100);
  CATCH_CHECK(split.train.size(0) == 900);
  std::set<std::int64_t> seen;
  for (const auto& part : {split.train, split.validation})
    for (std::int64_t i = 0; i < part.size(0); ++i) seen.insert(part[i].item<std::int64_t>());
  CATCH_CHECK(seen.size() == 1000);
  CATCH_CHECK(torch::equal(data::make_split(1000, 100, 7).train, split.train));
  CATCH_CHECK_FALSE(torch::equal(data::make_split(1000, 100, 8).train, split.train));
  const auto one = data::data_level(split.train, 1), ten = data::data_level(split.train, 10);
  CATCH_CHECK(one.size(0) == 9);
  CATCH_CHECK(ten.size(0) == 90);
  CATCH_CHECK(torch::equal(ten.slice(0, 0, 9), one));  // nested
  CATCH_CHECK(data::data_level(split.train, 100).size(0) == 900);
  // The authors' base: p % of the whole training set (8 % of 50,000 = 4,000 from a 45,000 pool).
  const auto pool = data::make_split(50000, 5000, 1).train;
  CATCH_CHECK(data::data_level(pool, 8, data::LevelBase::kTrainingSet, 50000).size(0) == 4000);
  CATCH_CHECK(data::data_level(pool, 8).size(0) == 3600);
  CATCH_CHECK_THROWS_AS(data::data_level(pool, 95, data::LevelBase::kTrainingSet, 50000), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::data_level(pool, 0), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::data_level(pool, 101), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::make_split(10, 10, 1), InvalidArgument);
}

namespace {
// Reference augmentation, one image at a time: zero-pad, crop at (oy, ox), flip.
torch::Tensor crop_one(const torch::Tensor& image, std::int64_t p, std::int64_t oy, std::int64_t ox, bool flip) {
  const auto padded = torch::constant_pad_nd(image, {p, p, p, p}, 0);
  auto crop = padded.slice(1, oy, oy + image.size(1)).slice(2, ox, ox + image.size(2));
  return flip ? crop.flip({2}) : crop;
}
}  // namespace

CATCH_TEST_CASE("batches: every image once per epoch, crops and flips equal a per-image reference", "[data]") {
  torch::manual_seed(3);
  const auto images = torch::randint(0, 256, {50, 2, 6, 6}, torch::kLong).to(torch::kUInt8);
  const data::ImageDataset set(images, torch::arange(50) % 5, {"a", "b", "c", "d", "e"}, "synthetic");
  const auto indices = torch::arange(10, 50);
  const data::BatcherOptions options = data::BatcherOptions({0.5, 0.25}, {0.5, 0.25}).batch_size(16).seed(9).crop_padding(2);
  data::Batcher batches(set, indices, options);
  CATCH_CHECK(batches.batches_per_epoch() == 3);
  batches.start_epoch(0);
  data::Batch batch;
  std::set<std::int64_t> seen;
  int flipped = 0, shifted = 0;
  while (batches.next(batch)) {
    CATCH_CHECK(batch.images.scalar_type() == torch::kFloat32);
    for (std::int64_t i = 0; i < batch.indices.size(0); ++i) {
      const auto index = batch.indices[i].item<std::int64_t>();
      seen.insert(index);
      CATCH_CHECK(batch.targets[i].item<std::int64_t>() == index % 5);
      // Recover the float32 pixels' uint8 values, then find the crop among all offsets and flips.
      const auto x = batch.images[i];
      const auto pixels = torch::stack({x[0] * 0.5 + 0.5, x[1] * 0.25 + 0.25}) * 255.0;
      bool found = false;
      for (int oy = 0; oy <= 4 && !found; ++oy)
        for (int ox = 0; ox <= 4 && !found; ++ox)
          for (bool flip : {false, true}) {
            if (torch::allclose(pixels, crop_one(images[index], 2, oy, ox, flip).to(torch::kFloat32), 0, 1e-3)) {
              found = true;
              flipped += flip;
              shifted += (oy != 2 || ox != 2);
              break;
            }
          }
      CATCH_CHECK(found);
    }
  }
  CATCH_CHECK(seen.size() == 40);
  CATCH_CHECK(*seen.begin() == 10);
  CATCH_CHECK(flipped > 5);   // random, not constant
  CATCH_CHECK(shifted > 20);

  // Same seed and epoch: the same batches; resuming at batch 2 gives batch 2.
  data::Batcher again(set, indices, options);
  again.start_epoch(1);
  data::Batch first, second, resumed;
  again.next(first);
  again.next(second);
  again.next(second);
  data::Batcher other(set, indices, options);
  other.seek(1, 2);
  other.next(resumed);
  CATCH_CHECK(torch::equal(resumed.images, second.images));
  again.start_epoch(1);
  data::Batch repeat;
  again.next(repeat);
  CATCH_CHECK(torch::equal(repeat.images, first.images));
  again.start_epoch(2);
  again.next(repeat);
  CATCH_CHECK_FALSE(torch::equal(repeat.indices, first.indices));  // another epoch, another order

  // Without augmentation and shuffling, batches are the normalised images in order.
  data::Batcher plain(set, indices, data::BatcherOptions({0.5, 0.25}, {0.5, 0.25}).batch_size(40).shuffle(false).crop_padding(0).horizontal_flip(false));
  plain.start_epoch(0);
  CATCH_REQUIRE(plain.next(batch));
  CATCH_CHECK(torch::allclose(batch.images, plain.normalize(images.slice(0, 10, 50))));
  CATCH_CHECK_THROWS_AS(plain.normalize(images.slice(0, 10, 50).to(torch::kFloat32)), InvalidArgument);  // not uint8
  CATCH_CHECK_THROWS_AS(plain.normalize(images.slice(0, 10, 50).slice(1, 0, 1)), InvalidArgument);  // one channel of two
  CATCH_CHECK_THROWS_AS(plain.normalize(images[10]), InvalidArgument);  // 3-D
  CATCH_CHECK(torch::allclose(batch.images[0][1], (images[10][1].to(torch::kFloat32) / 255.0 - 0.25) / 0.25, 1e-5, 1e-5));
  CATCH_CHECK_FALSE(plain.next(batch));
}

CATCH_TEST_CASE("batcher and dataset refuse inconsistent input", "[data]") {
  const auto images = torch::zeros({4, 1, 4, 4}, torch::kUInt8);
  const data::ImageDataset set(images, torch::tensor({0, 1, 0, 1}), {"a", "b"}, "s");
  CATCH_CHECK_THROWS_AS(data::Batcher(set, torch::arange(4), data::BatcherOptions({0.5, 0.5}, {0.5, 0.5})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::Batcher(set, torch::arange(4), data::BatcherOptions({0.5}, {0.0})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::Batcher(set, torch::arange(5), data::BatcherOptions({0.5}, {0.5})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::Batcher(set, torch::empty({0}, torch::kLong), data::BatcherOptions({0.5}, {0.5})), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::Batcher(set, torch::arange(4), data::BatcherOptions({0.5}, {0.5}).batch_size(0)), InvalidArgument);
  data::Batcher unstarted(set, torch::arange(4), data::BatcherOptions({0.5}, {0.5}));
  data::Batch b;
  CATCH_CHECK_THROWS_AS(unstarted.next(b), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::ImageDataset(images, torch::tensor({0, 1, 0, 2}), {"a", "b"}, "s"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::ImageDataset(images, torch::tensor({0, 1, 0}), {"a", "b"}, "s"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(data::ImageDataset(images.to(torch::kFloat32), torch::tensor({0, 1, 0, 1}), {"a", "b"}, "s"), InvalidArgument);
  CATCH_CHECK_THROWS_AS(set.subset(torch::tensor({4})), InvalidArgument);
  CATCH_CHECK(set.subset(torch::tensor({3, 3})).size() == 2);
  // A bool mask read as integers would select images 0 and 1: refused wherever indices are taken.
  const auto mask = torch::tensor({true, false, true, true});
  labelrep_test::check_throws_with<InvalidArgument>([&] { set.subset(mask); }, "not a bool mask");
  labelrep_test::check_throws_with<InvalidArgument>([&] { data::Batcher(set, mask, data::BatcherOptions({0.5}, {0.5})); }, "not a bool mask");
}

CATCH_TEST_CASE("skip_one_image_shards leaves out a last batch that would give a shard one image", "[data]") {
  const data::ImageDataset set(torch::zeros({9, 1, 4, 4}, torch::kUInt8), torch::zeros({9}, torch::kLong), {"a"}, "s");
  const auto options = [] { return data::BatcherOptions({0.5}, {0.5}).batch_size(4).shuffle(false); };
  const auto images_per_epoch = [&](data::Batcher batcher) {
    batcher.start_epoch(0);
    data::Batch batch;
    std::int64_t images = 0, batches = 0;
    while (batcher.next(batch)) images += batch.images.size(0), ++batches;
    CATCH_CHECK(batches == batcher.batches_per_epoch());
    return images;
  };
  // 9 images in batches of 4: the last batch holds one image.
  CATCH_CHECK(images_per_epoch(data::Batcher(set, torch::arange(9), options())) == 9);
  CATCH_CHECK(images_per_epoch(data::Batcher(set, torch::arange(9), options().skip_one_image_shards(true))) == 8);
  // 10 images: a last batch of two stays.
  CATCH_CHECK(images_per_epoch(data::Batcher(set.subset(torch::tensor({0, 1, 2, 3, 4, 5, 6, 7, 8, 8})), torch::arange(10),
                                             options().skip_one_image_shards(true))) == 10);
  // Two shards: a last batch of three (shards of two and one) is left out by both, a full batch stays.
  for (std::int64_t shard = 0; shard < 2; ++shard) {
    data::Batcher batcher(set.subset(torch::arange(7)), torch::arange(7), options().skip_one_image_shards(true).shard_count(2).shard_index(shard));
    CATCH_CHECK(batcher.batches_per_epoch() == 1);
    CATCH_CHECK(images_per_epoch(batcher) == 2);
  }
  // Fewer images than one batch of two: no batch at all.
  CATCH_CHECK(data::Batcher(set, torch::arange(1), options().skip_one_image_shards(true)).batches_per_epoch() == 0);
}
