#pragma once
/// \file label_image.hpp  Label sets as pictures (the paper's Figure 1).

#include <string>
#include <vector>
#include <torch/types.h>

#include "labelrep/export.hpp"
#include "labelrep/labels/label_representation.hpp"

namespace labelrep::labels {

/// Writes one PNG per class (`<dir>/<index>_<name>.png`, viridis colour map over the set's value
/// range, small labels enlarged with nearest-neighbour pixels to at least 128 px on the shorter side, but
/// never beyond 2048 px on the longer: a 50-value vector strip stays 40 px tall) and an overview
/// `<dir>/labels.png` with all classes in a grid. Vectors are drawn as a one-row strip. The directory
/// is created if needed; every file is written atomically. Returns the paths written.
/// Throws IoError if a file cannot be written, InvalidArgument (before writing anything) for labels
/// whose picture would be more than PNG's 1,000,000 px a side.
LABELREP_API std::vector<std::string> write_label_images(const LabelRepresentation& labels, const std::string& directory);

/// Encodes an RGB image `[H, W, 3]` uint8 (CPU) as PNG bytes. Throws InvalidArgument for other shapes.
LABELREP_API std::string encode_png(const torch::Tensor& rgb);

/// Maps values in [0, 1] (any shape, clamped; NaN as 0, +inf as 1) to viridis colours: result has a
/// trailing dim of 3, uint8. Throws InvalidArgument for an undefined, complex or bool tensor.
LABELREP_API torch::Tensor viridis(const torch::Tensor& unit_values);

}  // namespace labelrep::labels
