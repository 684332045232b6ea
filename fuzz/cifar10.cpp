// Fuzz target: CIFAR-10 binary file bytes through decode_cifar, the parser behind load_cifar10.
#include <torch/types.h>

#include "fuzz_target.hpp"
#include "labelrep/data/loaders.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  labelrep_fuzz::run_parser("fuzz.bin", [&] {
    const auto batch = labelrep::data::decode_cifar(labelrep_fuzz::as_string(data, size), "fuzz.bin",
                                                    labelrep::data::CifarVariant::kCifar10);
    labelrep_fuzz::require(batch.images.size(0) == batch.labels.size(0), "CIFAR image and label counts differ");
  });
  return 0;
}
