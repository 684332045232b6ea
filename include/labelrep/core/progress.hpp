#pragma once
/// \file progress.hpp  A one-line progress display for long work.
///
/// On a terminal it redraws one line on stderr with the count, the rate and the time left, at most
/// ten times a second; when stderr is not a terminal (piped, CI, a log file) it prints nothing, so logs
/// stay clean. Example:
/// \code
///   labelrep::ProgressLine progress("epoch 3", n_batches, "batches");
///   for (...) { ...; progress.advance(1, fmt_loss_text); }
///   progress.finish();
/// \endcode
/// Thread-safety: not thread-safe; drive it from one thread.

#include <chrono>
#include <cstdint>
#include <string>

#include "labelrep/export.hpp"

namespace labelrep {

class LABELREP_API ProgressLine {
 public:
  /// `total` may be 0 when unknown (then no ETA is shown). `unit` names what is counted.
  ProgressLine(std::string label, std::int64_t total, std::string unit = "items");
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  /// Counts `n` more items done; `status` is shown after the figures (e.g. "loss 0.123").
  void advance(std::int64_t n = 1, const std::string& status = "");
  /// Ends the line (on a terminal, the final figures stay visible).
  void finish();
  /// Whether output goes to a terminal; false means this object prints nothing.
  bool enabled() const noexcept { return enabled_; }
  /// Items per second since construction.
  double rate() const;

 private:
  void draw(bool final_draw);
  std::string label_, unit_, status_;
  std::int64_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace labelrep
