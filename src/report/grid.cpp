#include "labelrep/report/grid.hpp"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <type_traits>

#include "labelrep/core/error.hpp"
#include "core/json_document.hpp"
#include "core/boundary.hpp"

namespace labelrep::report {

std::string label_tag(const std::string& label) {
  if (label.size() > 4 && label.compare(label.size() - 4, 4, ".npy") == 0) return std::filesystem::path(label).stem().string();
  return label;
}

namespace {

template <typename T>
std::vector<T> json_list(const nlohmann::json& j, const char* key, const std::string& source) {
  if (!j.is_array() || j.empty()) throw FormatError(source, FormatError::kNoOffset, fmt::format("\"{}\" must be a non-empty array", key));
  return j.get<std::vector<T>>();
}

}  // namespace

GridSpec GridSpec::from_json(const std::string& text, const std::string& source) {
  auto j = labelrep::detail::parse_json_document(text, source);
  if (!j.is_object()) throw FormatError(source, 0, "a grid must be a JSON object");
  GridSpec grid;
  if (j.contains("base")) {
    if (!j["base"].is_object()) throw FormatError(source, FormatError::kNoOffset, "\"base\" must be an object of experiment fields");
    if (j["base"].contains("out")) throw FormatError(source, FormatError::kNoOffset, "\"base\" must not set \"out\": every run gets its own directory");
    grid.base = train::ExperimentConfig::from_json(j["base"].dump(), source + " (base)");
  }
  try {
    for (const auto& [key, value] : j.items()) {
      if (key == "base") continue;
      else if (key == "datasets") grid.datasets = json_list<std::string>(value, "datasets", source);
      else if (key == "encoders") grid.encoders = json_list<std::string>(value, "encoders", source);
      else if (key == "labels") grid.labels = json_list<std::string>(value, "labels", source);
      else if (key == "levels") grid.levels = json_list<double>(value, "levels", source);
      else if (key == "seeds") {
        if (value.is_number_integer()) {
          const auto count = value.get<std::int64_t>();
          if (count < 1 || count > 1000) throw FormatError(source, FormatError::kNoOffset, fmt::format("\"seeds\" as a count must be in [1, 1000], got {}", count));
          for (std::int64_t s = 0; s < count; ++s) grid.seeds.push_back(grid.base.seed + static_cast<std::uint64_t>(s));
        } else {
          // A float or negative seed would be converted without a word (1.7 → 1, -1 → 2^64 − 1).
          if (value.is_array())
            for (const auto& seed : value)
              if (!seed.is_number_unsigned())
                throw FormatError(source, FormatError::kNoOffset, fmt::format("\"seeds\" must hold non-negative integers, got {}", seed.dump()));
          grid.seeds = json_list<std::uint64_t>(value, "seeds", source);
        }
      } else if (key == "data_dirs") {
        if (!value.is_object()) throw FormatError(source, FormatError::kNoOffset, "\"data_dirs\" must be an object {dataset: directory}");
        grid.data_dirs = value.get<std::map<std::string, std::string>>();
      } else {
        throw FormatError(source, FormatError::kNoOffset,
                          fmt::format("unknown field '{}' (known: base, datasets, encoders, labels, levels, seeds, data_dirs)", key));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source, FormatError::kNoOffset, std::string("a field has the wrong type: ") + e.what());
  }
  return grid;
}

std::string run_id(const train::ExperimentConfig& c) {
  return fmt::format("{}-{}-{}-level{:g}-seed{}", c.dataset, c.encoder, label_tag(c.label), c.level, c.seed);
}

std::vector<PlannedRun> expand_grid(const GridSpec& grid) {
  const auto& base = grid.base;
  const auto or_base = [](const auto& axis, const auto& value) { return axis.empty() ? std::vector<std::decay_t<decltype(value)>>{value} : axis; };
  const auto datasets = or_base(grid.datasets, base.dataset);
  const auto encoders = or_base(grid.encoders, base.encoder);
  const auto labels = or_base(grid.labels, base.label);
  const auto levels = or_base(grid.levels, base.level);
  const auto seeds = or_base(grid.seeds, base.seed);
  if (grid.runs_dir.empty()) throw InvalidArgument("grid: the runs directory is empty");
  for (double level : levels)
    if (!(level > 0 && level <= 100)) throw InvalidArgument(fmt::format("grid: level {} is not in (0, 100] percent", level));
  std::vector<PlannedRun> plan;
  std::set<std::string> ids;
  for (const auto& dataset : datasets)
    for (const auto& encoder : encoders)
      for (const auto& label : labels)
        for (double level : levels)
          for (std::uint64_t seed : seeds) {
            PlannedRun run;
            run.config = base;
            auto& c = run.config;
            c.dataset = dataset;
            c.encoder = encoder;
            c.label = label;
            c.level = level;
            c.seed = seed;
            if (const auto dir = grid.data_dirs.find(dataset); dir != grid.data_dirs.end()) c.data_dir = dir->second;
            run.id = run_id(c);
            if (!ids.insert(run.id).second)
              throw InvalidArgument(fmt::format("grid: two runs have the id '{}' (a value repeated on an axis, or two label files with the same name)", run.id));
            c.out = (std::filesystem::path(grid.runs_dir) / run.id).string();
            try {
              c.validate();
            } catch (const InvalidArgument& e) {
              throw InvalidArgument(fmt::format("grid: run {}: {}", run.id, error_reason(e)));
            }
            plan.push_back(std::move(run));
          }
  return plan;
}

Shard Shard::parse(const std::string& text) {
  const auto slash = text.find('/');
  Shard shard;
  try {
    if (slash == std::string::npos) throw std::invalid_argument(text);
    std::size_t used_index = 0, used_count = 0;
    shard.index = std::stoll(text.substr(0, slash), &used_index);
    shard.count = std::stoll(text.substr(slash + 1), &used_count);
    if (used_index != slash || used_count != text.size() - slash - 1) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw InvalidArgument(fmt::format("shard '{}' is not of the form i/N (e.g. 0/4)", text));
  }
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
    throw InvalidArgument(fmt::format("shard '{}': need 0 <= i < N", text));
  return shard;
}

std::vector<PlannedRun> select_shard(const std::vector<PlannedRun>& plan, const Shard& shard) {
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
    throw InvalidArgument(fmt::format("shard {}/{}: need 0 <= i < N", shard.index, shard.count));
  std::vector<PlannedRun> mine;
  for (std::size_t i = static_cast<std::size_t>(shard.index); i < plan.size(); i += static_cast<std::size_t>(shard.count)) mine.push_back(plan[i]);
  return mine;
}

std::vector<train::ExperimentConfig> data_efficiency_grid(const train::ExperimentConfig& base, const std::vector<std::string>& labels,
                                                          const std::vector<double>& levels, std::int64_t seeds, const std::string& runs_dir) try {
  if (labels.empty()) throw InvalidArgument("data-efficiency grid: no labels given");
  if (levels.empty()) throw InvalidArgument("data-efficiency grid: no data levels given");
  if (seeds < 1 || seeds > 1000) throw InvalidArgument(fmt::format("data-efficiency grid: seeds must be in [1, 1000], got {}", seeds));
  // The study is the grid of one dataset and encoder: the same ids, directories and checks as a sweep.
  GridSpec grid;
  grid.base = base;
  grid.labels = labels;
  grid.levels = levels;
  for (std::int64_t s = 0; s < seeds; ++s) grid.seeds.push_back(base.seed + static_cast<std::uint64_t>(s));
  grid.runs_dir = runs_dir;
  std::vector<train::ExperimentConfig> configs;
  for (auto& run : expand_grid(grid)) configs.push_back(std::move(run.config));
  return configs;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("data_efficiency_grid");
}

std::vector<GridPoint> summarize_grid(const std::vector<train::ExperimentConfig>& configs, const std::vector<train::ExperimentResult>& results) try {
  if (configs.size() != results.size())
    throw InvalidArgument(fmt::format("summarize_grid: {} configurations but {} results", configs.size(), results.size()));
  std::vector<GridPoint> points;
  using Key = std::tuple<std::string, std::string, std::string, double>;
  std::map<Key, std::vector<std::size_t>> members;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const Key key{configs[i].dataset, configs[i].encoder, configs[i].label, configs[i].level};
    if (!members.count(key)) {
      GridPoint p;
      p.dataset = configs[i].dataset;
      p.encoder = configs[i].encoder;
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
    for (std::size_t i : members[Key{p.dataset, p.encoder, p.label, p.level}]) {
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
    nlohmann::json row = {{"dataset", p.dataset}, {"encoder", p.encoder}, {"label", p.label}, {"level", p.level}, {"runs", p.runs}, {"accuracy", {{"mean", p.mean}, {"std", p.std}}}};
    if (p.has_threshold) row["threshold_accuracy"] = {{"mean", p.threshold_mean}, {"std", p.threshold_std}};
    j.push_back(row);
  }
  return labelrep::detail::dump_json_document(j, 2, "the grid summary") + "\n";
}

}  // namespace labelrep::report
