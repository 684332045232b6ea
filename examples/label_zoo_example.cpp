// Label zoo: make the paper's label kinds for CIFAR-10, save them, and compare their statistics.
// Usage: label_zoo_example [output directory]
#include <labelrep/labelrep.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  const std::string out = argc > 1 ? argv[1] : ".";
  const auto names = labelrep::dataset_class_names("cifar10");
  const auto classes = static_cast<int64_t>(names.size());

  // Each kind has an Options struct: required values in the constructor, the rest chained.
  const labelrep::labels::CategoryLabels category(labelrep::labels::CategoryLabelsOptions(classes).class_names(names));
  const labelrep::labels::UniformLabels random(labelrep::labels::UniformLabelsOptions(classes).seed(48).class_names(names));
  const labelrep::labels::CompositeLabels composite(labelrep::labels::CompositeLabelsOptions(classes).seed(1).class_names(names));

  // Targets for a batch: class ids in, label tensors out, on the ids' device.
  const torch::Tensor ids = torch::tensor({3, 5, 3}, torch::kLong);
  std::cout << "targets of 3 images: " << random.targets(ids).sizes() << "\n";

  for (const labelrep::labels::LabelRepresentation* set :
       {static_cast<const labelrep::labels::LabelRepresentation*>(&category), static_cast<const labelrep::labels::LabelRepresentation*>(&random),
        static_cast<const labelrep::labels::LabelRepresentation*>(&composite)}) {
    const auto stats = labelrep::labels::label_statistics(set->matrix(), labelrep::labels::paper_statistics_options(set->name()));
    std::cout << set->name() << ": entropy " << stats.entropy.mean << " bits, L2 " << stats.l2.mean << "\n";
    set->save(out + "/cifar10_" + set->name() + ".npy");
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}
