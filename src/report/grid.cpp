#include "labelrep/report/grid.hpp"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep::report {
namespace {

// A label as it appears in run directory names: a kind, or a label file's stem.
std::string label_tag(const std::string& label) {
  if (label.size() > 4 && label.compare(label.size() - 4, 4, ".npy") == 0) return std::filesystem::path(label).stem().string();
  return label;
}

}  // namespace

std::vector<train::ExperimentConfig> data_efficiency_grid(const train::ExperimentConfig& base, const std::vector<std::string>& labels,
                                                          const std::vector<double>& levels, std::int64_t seeds, const std::string& runs_dir) try {
  if (labels.empty()) throw InvalidArgument("data-efficiency grid: no labels given");
  if (levels.empty()) throw InvalidArgument("data-efficiency grid: no data levels given");
  if (seeds < 1 || seeds > 1000) throw InvalidArgument(fmt::format("data-efficiency grid: seeds must be in [1, 1000], got {}", seeds));
  for (double level : levels)
    if (!(level > 0 && level <= 100)) throw InvalidArgument(fmt::format("data-efficiency grid: level {} is not in (0, 100] percent", level));
  std::set<std::string> tags;
  for (const auto& label : labels)
    if (!tags.insert(label_tag(label)).second)
      throw InvalidArgument(fmt::format("data-efficiency grid: label '{}' is given twice (or shares its name with another label file)", label));
  std::vector<train::ExperimentConfig> grid;
  for (const auto& label : labels)
    for (double level : levels)
      for (std::int64_t s = 0; s < seeds; ++s) {
        auto c = base;
        c.label = label;
        c.level = level;
        c.seed = base.seed + static_cast<std::uint64_t>(s);
        c.out = (std::filesystem::path(runs_dir) /
                 fmt::format("{}-{}-{}-level{:g}-seed{}", c.dataset, c.encoder, label_tag(label), level, c.seed))
                    .string();
        c.validate();
        grid.push_back(std::move(c));
      }
  return grid;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("data_efficiency_grid");
}

std::vector<GridPoint> summarize_grid(const std::vector<train::ExperimentConfig>& configs, const std::vector<train::ExperimentResult>& results) try {
  if (configs.size() != results.size())
    throw InvalidArgument(fmt::format("summarize_grid: {} configurations but {} results", configs.size(), results.size()));
  std::vector<GridPoint> points;
  std::map<std::pair<std::string, double>, std::vector<std::size_t>> members;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const auto key = std::make_pair(configs[i].label, configs[i].level);
    if (!members.count(key)) {
      GridPoint p;
      p.label = configs[i].label;
      p.level = configs[i].level;
      points.push_back(p);
    }
    members[key].push_back(i);
  }
  auto mean_std = [](const std::vector<double>& v) {
    double mean = 0, var = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    for (double x : v) var += (x - mean) * (x - mean);
    return std::make_pair(mean, std::sqrt(var / static_cast<double>(v.size())));
  };
  for (auto& p : points) {
    std::vector<double> accuracy, threshold;
    for (std::size_t i : members[{p.label, p.level}]) {
      accuracy.push_back(results[i].test_accuracy);
      if (results[i].has_threshold) threshold.push_back(results[i].test_threshold_accuracy);
    }
    p.runs = static_cast<std::int64_t>(accuracy.size());
    std::tie(p.mean, p.std) = mean_std(accuracy);
    p.has_threshold = threshold.size() == accuracy.size();
    if (p.has_threshold) std::tie(p.threshold_mean, p.threshold_std) = mean_std(threshold);
  }
  return points;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("summarize_grid");
}

std::string grid_summary_json(const std::vector<GridPoint>& points) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& p : points) {
    nlohmann::json row = {{"label", p.label}, {"level", p.level}, {"runs", p.runs}, {"accuracy", {{"mean", p.mean}, {"std", p.std}}}};
    if (p.has_threshold) row["threshold_accuracy"] = {{"mean", p.threshold_mean}, {"std", p.threshold_std}};
    j.push_back(row);
  }
  return j.dump(2) + "\n";
}

}  // namespace labelrep::report
