#pragma once
// The label names make_labels() accepts (internal): a kind of label_kinds() or a .npy file. Checked
// without making the labels, so that an experiment's configuration (and every run of a grid) is
// checked before anything is trained.
#include <string>

namespace labelrep::labels::detail {

// Whether `label` names a label file (it ends in ".npy") rather than a kind.
bool is_label_file(const std::string& label);

// Throws InvalidArgument, listing the kinds, for a label that is neither a kind nor a .npy file.
void require_known_label(const std::string& label);

}  // namespace labelrep::labels::detail
