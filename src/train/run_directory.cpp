#include "labelrep/train/run_directory.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

namespace labelrep::train {
namespace {
// Whether a file is there; a file that cannot be looked at (a directory without search permission)
// counts as absent, so that reading it then fails with an IoError naming it, not filesystem_error.
bool present(const std::string& path) {
  std::error_code ignored;
  return std::filesystem::exists(path, ignored);
}

void require_object(const std::string& text, const char* what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(fmt::format("{} is not valid JSON: {}", what, e.what()));
  }
  if (!j.is_object()) throw InvalidArgument(fmt::format("{} must be a JSON object", what));
}
}  // namespace

RunDirectory::RunDirectory(std::string path) : RunDirectory(std::move(path), true) {}

RunDirectory RunDirectory::open_read_only(std::string path) { return RunDirectory(std::move(path), false); }

RunDirectory::RunDirectory(std::string path, bool writable) try : path_(std::move(path)), writable_(writable) {
  if (path_.empty()) throw InvalidArgument("run directory path is empty");
  std::error_code ec;
  if (writable_) {
    std::filesystem::create_directories(path_, ec);
    if (ec || !std::filesystem::is_directory(path_)) throw IoError(path_, "cannot create the run directory: " + ec.message());
    remove_stale_temporaries(path_);
    if (std::filesystem::is_directory(file("snapshots"))) remove_stale_temporaries(file("snapshots"));
  } else if (!std::filesystem::is_directory(path_, ec)) {
    throw IoError(path_, std::filesystem::exists(path_, ec) ? "not a run directory (it is not a directory)" : "not a run directory (it does not exist)");
  }
  const std::string csv = file("metrics.csv");
  if (!present(csv)) return;
  std::istringstream lines(read_file(csv, 1 << 26));
  std::string line;
  std::size_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream cell_stream(line);
    std::string cell;
    while (std::getline(cell_stream, cell, ',')) cells.push_back(cell);
    if (columns_.empty()) {
      columns_ = cells;
      continue;
    }
    if (cells.size() != columns_.size())
      throw FormatError(csv, FormatError::kNoOffset, fmt::format("line {} has {} cells, the header has {}", number, cells.size(), columns_.size()));
    std::map<std::string, double> row;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      try {
        std::size_t used = 0;
        row[columns_[i]] = std::stod(cells[i], &used);
        if (used != cells[i].size()) throw std::invalid_argument(cells[i]);
      } catch (const std::exception&) {
        throw FormatError(csv, FormatError::kNoOffset, fmt::format("line {}: '{}' is not a number", number, cells[i]));
      }
    }
    rows_.push_back(std::move(row));
  }
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("RunDirectory");
}

std::string RunDirectory::file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

void RunDirectory::require_writable(const char* what) const {
  if (!writable_) throw InvalidArgument(fmt::format("{}: cannot {}: the run directory was opened read-only", path_, what));
}

std::string RunDirectory::snapshot_file(std::int64_t epoch) const {
  require_writable("make a snapshot");
  if (epoch < 0) throw InvalidArgument(fmt::format("snapshot epoch {} is negative", epoch));
  const auto dir = std::filesystem::path(path_) / "snapshots";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(dir.string(), "cannot create the snapshot directory: " + ec.message());
  return (dir / fmt::format("epoch-{:04d}.ckpt", epoch)).string();
}

std::vector<std::pair<std::int64_t, std::string>> RunDirectory::snapshots() const {
  std::vector<std::pair<std::int64_t, std::string>> found;
  const auto dir = std::filesystem::path(path_) / "snapshots";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return found;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    // epoch-<digits>.ckpt exactly: temporaries of a killed writer and other files are not snapshots.
    if (name.size() < 12 || name.rfind("epoch-", 0) != 0 || name.compare(name.size() - 5, 5, ".ckpt") != 0) continue;
    const auto digits = name.substr(6, name.size() - 11);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    found.emplace_back(std::stoll(digits), entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

bool RunDirectory::finished() const { return present(file("result.json")); }

void RunDirectory::write_config(const std::string& json_object) const {
  require_writable("write config.json");
  require_object(json_object, "run config");
  write_file_atomically(file("config.json"), json_object);
}

void RunDirectory::require_snapshots(const std::vector<std::int64_t>& epochs, std::int64_t passed_up_to) const {
  std::set<std::int64_t> kept;
  for (const auto& [epoch, path] : snapshots()) kept.insert(epoch);
  std::vector<std::int64_t> missing;
  for (const auto e : epochs)
    if (e <= passed_up_to && kept.count(e) == 0) missing.push_back(e);
  if (!missing.empty())
    throw InvalidArgument(fmt::format("{} is past epoch(s) {} of --snapshot-epochs without their snapshots (a run keeps snapshots only as "
                                      "it trains): train into another --out to get them",
                                      path_, fmt::join(missing, ", ")));
}

std::string RunDirectory::read_config() const { return read_file(file("config.json"), 1 << 24); }

void RunDirectory::append_metrics(const std::map<std::string, double>& row) {
  require_writable("write metrics.csv");
  std::vector<std::string> keys;
  for (const auto& [k, v] : row) {
    if (k.empty() || k.find_first_of(",\n\"") != std::string::npos)
      throw InvalidArgument(fmt::format("metric name '{}' must be non-empty without commas, quotes or newlines", k));
    keys.push_back(k);
  }
  if (columns_.empty()) columns_ = keys;
  std::vector<std::string> sorted_columns = columns_;
  std::sort(sorted_columns.begin(), sorted_columns.end());
  if (keys != sorted_columns)
    throw InvalidArgument(fmt::format("metrics row has columns {} but metrics.csv has {}", fmt::format("{}", fmt::join(keys, ",")),
                                      fmt::format("{}", fmt::join(columns_, ","))));
  rows_.push_back(row);
  rewrite_metrics();
}

void RunDirectory::truncate_metrics(std::size_t rows) {
  require_writable("write metrics.csv");
  if (rows >= rows_.size()) return;
  rows_.resize(rows);
  rewrite_metrics();
}

void RunDirectory::rewrite_metrics() const {
  std::string out = fmt::format("{}\n", fmt::join(columns_, ","));
  for (const auto& row : rows_) {
    std::vector<std::string> cells;
    for (const auto& c : columns_) cells.push_back(fmt::format("{:.17g}", row.at(c)));
    out += fmt::format("{}\n", fmt::join(cells, ","));
  }
  write_file_atomically(file("metrics.csv"), out);
}

void RunDirectory::append_timings(std::int64_t epoch, double seconds, double images_per_second) const {
  require_writable("write timings.csv");
  const std::string path = file("timings.csv");
  std::string text = present(path) ? read_file(path, 1 << 26) : std::string("epoch,seconds,images_per_second\n");
  text += fmt::format("{},{:.6f},{:.3f}\n", epoch, seconds, images_per_second);
  write_file_atomically(path, text);
}

void RunDirectory::write_result(const std::string& json_object) const {
  require_writable("write result.json");
  require_object(json_object, "run result");
  write_file_atomically(file("result.json"), json_object);
}

std::string RunDirectory::read_result() const {
  if (!finished()) throw IoError(file("result.json"), "the run has not finished (no result.json)");
  return read_file(file("result.json"), 1 << 24);
}

}  // namespace labelrep::train
