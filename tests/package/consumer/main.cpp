// Consumer check: headers found, library linked, version consistent, a label set computed correctly.
#include <labelrep/labelrep.hpp>

#include <cstdio>

int main() {
  if (labelrep::version() != LABELREP_VERSION_STRING) {
    std::fprintf(stderr, "header version %s but library %s\n", LABELREP_VERSION_STRING, labelrep::version().c_str());
    return 1;
  }
  const labelrep::labels::ConstantLabels labels(labelrep::labels::ConstantLabelsOptions(10));
  const float last = labels.matrix()[9][0][0].item<float>();
  if (labels.num_classes() != 10 || last != 80.0f) {
    std::fprintf(stderr, "unexpected constant labels: %lld classes, last value %f\n",
                 static_cast<long long>(labels.num_classes()), last);
    return 1;
  }
  try {
    labelrep::labels::ConstantLabels bad(labelrep::labels::ConstantLabelsOptions(1));
    std::fprintf(stderr, "expected InvalidArgument for 1 class\n");
    return 1;
  } catch (const labelrep::InvalidArgument&) {
  }
  std::printf("labelrep %s consumer OK\n", labelrep::version().c_str());
  return 0;
}
