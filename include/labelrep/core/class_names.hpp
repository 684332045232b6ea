#pragma once
/// \file class_names.hpp  The class names of the datasets labelrep knows, in label-index order.

#include <string>
#include <vector>

#include "labelrep/export.hpp"

namespace labelrep {

/// Class names of "cifar10", "cifar100" (fine labels, alphabetical, as the dataset's meta file),
/// "cifar100-coarse" or "fashion-mnist". Throws InvalidArgument for any other name.
LABELREP_API std::vector<std::string> dataset_class_names(const std::string& dataset);

/// Resolves a `--classes` argument: a known dataset name (see dataset_class_names), a positive count
/// N (names "class0".."classN-1"), or a comma-separated list of names. Throws InvalidArgument naming
/// `argument` for an empty list, an empty name, a duplicate, a count < 1, or a single name that is not
/// a dataset (a list needs at least two names).
LABELREP_API std::vector<std::string> resolve_class_names(const std::string& spec,
                                                          const std::string& argument = "--classes");

}  // namespace labelrep
