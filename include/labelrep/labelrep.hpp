#pragma once
/// \file labelrep.hpp  Umbrella header: everything labelrep offers. Include narrower headers to
/// keep compile times short.

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/core/progress.hpp"
#include "labelrep/core/random.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/labels/label_image.hpp"
#include "labelrep/labels/label_representation.hpp"
#include "labelrep/labels/statistics.hpp"
#include "labelrep/version.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/models/model.hpp"
#include "labelrep/train/checkpoint.hpp"
#include "labelrep/train/loss.hpp"
#include "labelrep/train/recipe.hpp"
#include "labelrep/train/run_directory.hpp"
#include "labelrep/core/envelope.hpp"
