// Fuzz target: the JSON files the CLI reads. The same bytes go to the run configuration parser
// (config.json → ExperimentConfig, then validate()) and to the label metadata parser (the
// `<labels>.npy.json` sidecar). A configuration that parses must survive to_json → from_json unchanged.
#include "fuzz_target.hpp"
#include "labelrep/train/experiment.hpp"
#include "labels/metadata_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = labelrep_fuzz::as_string(data, size);
  labelrep_fuzz::run_parser("config.json", [&] {
    const auto config = labelrep::train::ExperimentConfig::from_json(text, "config.json");
    const std::string json = config.to_json();
    labelrep_fuzz::require(labelrep::train::ExperimentConfig::from_json(json, "config.json").to_json() == json,
                           "ExperimentConfig changed in a JSON round trip");
    config.validate();
  });
  labelrep_fuzz::run_parser("labels.npy.json", [&] { (void)labelrep::labels::detail::metadata_from_json(text, "labels.npy.json"); });
  return 0;
}
