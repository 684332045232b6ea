#include "labelrep/core/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>

namespace labelrep {
namespace {
std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  const auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}
}  // namespace

ProgressLine::ProgressLine(std::string label, std::int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressLine::~ProgressLine() {
  try {
    finish();
  } catch (...) {  // never throw from a destructor
  }
}

double ProgressLine::rate() const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
}

void ProgressLine::advance(std::int64_t n, const std::string& status) {
  done_ += n;
  if (!status.empty()) status_ = status;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && done_ != total_) return;
  last_draw_ = now;
  draw(false);
}

void ProgressLine::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_) draw(true);
}

void ProgressLine::draw(bool final_draw) {
  const double r = rate();
  std::string line = fmt::format("{}: {}", label_, done_);
  if (total_ > 0) line += fmt::format("/{} ({:3.0f}%)", total_, 100.0 * static_cast<double>(done_) / static_cast<double>(total_));
  line += fmt::format(" {} | {:.1f} {}/s", unit_, r, unit_);
  if (total_ > 0 && !final_draw)
    line += " | ETA " + format_duration(r > 0 ? static_cast<double>(total_ - done_) / r : -1);
  if (final_draw)
    line += " | " + format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  if (!status_.empty()) line += " | " + status_;
  std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_draw ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace labelrep
