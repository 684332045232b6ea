#pragma once
/// \file run_directory.hpp  A run directory: the unit of persistence of one training run.
///
/// Layout: `config.json` (everything that defines the run), `metrics.csv` (one row per epoch),
/// `last.ckpt` and `best.ckpt` (sealed checkpoints), `snapshots/epoch-NNNN.ckpt` (weights kept at chosen
/// epochs, TrainerOptions::snapshot_epochs), `result.json` (final test numbers plus the config),
/// `timings.csv` (wall-clock seconds and images/s per epoch run), `test_predictions.npy` (kTestPredictionsFile).
/// Analysis commands write beside them by default: `attack.json` (`labelrep attack`) and `figures/`
/// (`labelrep tsne`, `labelrep gradcam`), which `labelrep report` picks up.
/// Every file is written atomically, so a killed run leaves only complete files; a run is finished
/// exactly when `result.json` exists. Every file but timings.csv is a function of the configuration:
/// two runs with the same seed on CPU (same thread count) write byte-identical files. Commands that consume runs (attack, speak, report, t-SNE) take
/// the directory.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "labelrep/export.hpp"

namespace labelrep::train {

/// In a finished run: int64 `[N, 2]`, for each test image in order its true class (column 0) and the
/// class the run's selected weights predict (column 1), written by Trainer::finish before result.json.
/// NumPy: `p = np.load(...); correct = p[:, 0] == p[:, 1]`. `labelrep report` compares runs with it
/// image by image.
inline constexpr const char* kTestPredictionsFile = "test_predictions.npy";

class LABELREP_API RunDirectory {
 public:
  /// Opens a run directory to write it: creates it if needed and removes temporaries of killed
  /// writers. Only the process that trains the run should do this. Throws IoError if it cannot be
  /// created, InvalidArgument for an empty path, FormatError for a metrics.csv it cannot read back.
  explicit RunDirectory(std::string path);
  /// Opens an existing run directory to read it (report, attack, t-SNE, ...): creates nothing and
  /// removes nothing, so it is safe while another process, perhaps on another machine, writes the run.
  /// Every writing member then throws InvalidArgument. Throws IoError if `path` is not a directory,
  /// FormatError for a metrics.csv it cannot read back.
  static RunDirectory open_read_only(std::string path);

  const std::string& path() const noexcept { return path_; }
  /// False for a directory from open_read_only.
  bool writable() const noexcept { return writable_; }
  std::string file(const std::string& name) const;

  /// The snapshot checkpoint of an epoch, to write: `snapshots/epoch-0005.ckpt`; creates `snapshots/`.
  /// Throws IoError if it cannot be created, InvalidArgument for a negative epoch or a read-only
  /// directory.
  std::string snapshot_file(std::int64_t epoch) const;
  /// The snapshots present, as (epoch, path), by epoch.
  std::vector<std::pair<std::int64_t, std::string>> snapshots() const;

  /// Requires a snapshot for each of `epochs` up to `passed_up_to` (epochs the run has trained): a run
  /// resumed, or read back finished, with snapshot epochs it passed without them cannot make them any
  /// more. Throws InvalidArgument naming the directory and the missing epochs.
  void require_snapshots(const std::vector<std::int64_t>& epochs, std::int64_t passed_up_to) const;

  /// Whether result.json exists (the run finished).
  bool finished() const;

  /// Writes config.json (a JSON object as text). Throws InvalidArgument for text that is not a JSON
  /// object, IoError when writing fails.
  void write_config(const std::string& json_object) const;
  /// Reads config.json. Throws IoError / FormatError.
  std::string read_config() const;

  /// Appends one row of metrics (column → value) to metrics.csv. The first row fixes the columns; a
  /// later row with other columns is an InvalidArgument. The whole file is rewritten atomically.
  void append_metrics(const std::map<std::string, double>& row);
  /// The rows written so far (also those of an earlier process, read back from metrics.csv).
  const std::vector<std::map<std::string, double>>& metrics() const noexcept { return rows_; }
  /// Drops rows after `epochs` rows (used when resuming from an earlier checkpoint).
  void truncate_metrics(std::size_t rows);

  /// Appends `epoch,seconds,images_per_second` to timings.csv (rewritten atomically). Wall-clock
  /// figures live apart from metrics.csv so that metrics stay deterministic. An epoch run again after
  /// a resume gets another row.
  void append_timings(std::int64_t epoch, double seconds, double images_per_second) const;

  /// Writes result.json (a JSON object as text), which marks the run finished.
  void write_result(const std::string& json_object) const;
  /// Reads result.json. Throws IoError if the run is not finished.
  std::string read_result() const;

 private:
  RunDirectory(std::string path, bool writable);
  void require_writable(const char* what) const;
  void rewrite_metrics() const;
  std::string path_;
  bool writable_ = true;
  std::vector<std::string> columns_;
  std::vector<std::map<std::string, double>> rows_;
};

}  // namespace labelrep::train
