#include "core/fault_injection.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fmt/format.h>
#include <string>

#include "labelrep/core/error.hpp"

namespace labelrep::detail {
namespace {

constexpr const char* kVariable = "LABELREP_FAULT_INJECTION";

struct FaultPlan {
  bool active = false;
  FaultPoint point = FaultPoint::kMidWrite;
  long arrival = 0;          // the N-th arrival ends the process
  long mid_write_bytes = -1;  // -1: half of the file
};

FaultPoint parse_point(const std::string& name, const std::string& value) {
  if (name == "mid-write") return FaultPoint::kMidWrite;
  if (name == "before-fsync") return FaultPoint::kBeforeFsync;
  if (name == "after-fsync") return FaultPoint::kAfterFsync;
  if (name == "after-rename") return FaultPoint::kAfterRename;
  if (name == "after-directory-fsync") return FaultPoint::kAfterDirectoryFsync;
  throw InvalidArgument(fmt::format("{}={}: unknown point '{}' (mid-write[@BYTES], before-fsync, after-fsync, "
                                    "after-rename, after-directory-fsync)", kVariable, value, name));
}

long parse_count(const std::string& text, const std::string& value, const char* what) {
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos)
    throw InvalidArgument(fmt::format("{}={}: {} '{}' is not a non-negative integer", kVariable, value, what, text));
  return std::stol(text);
}

FaultPlan read_plan() {
  FaultPlan plan;
  const char* raw = std::getenv(kVariable);
  if (raw == nullptr || *raw == '\0') return plan;
  const std::string value(raw);
  const auto colon = value.rfind(':');
  if (colon == std::string::npos)
    throw InvalidArgument(fmt::format("{}={}: expected POINT:N, for example after-fsync:3", kVariable, value));
  std::string name = value.substr(0, colon);
  if (const auto at = name.find('@'); at != std::string::npos) {
    plan.mid_write_bytes = parse_count(name.substr(at + 1), value, "byte count");
    name = name.substr(0, at);
    if (name != "mid-write") throw InvalidArgument(fmt::format("{}={}: only mid-write takes @BYTES", kVariable, value));
  }
  plan.point = parse_point(name, value);
  plan.arrival = parse_count(value.substr(colon + 1), value, "arrival");
  if (plan.arrival < 1) throw InvalidArgument(fmt::format("{}={}: N counts from 1", kVariable, value));
  plan.active = true;
  return plan;
}

const FaultPlan& plan() {
  static const FaultPlan parsed = read_plan();
  return parsed;
}

std::atomic<long> arrivals{0};

// True when this arrival at `point` is the configured one.
bool arrive(FaultPoint point) {
  const FaultPlan& p = plan();
  if (!p.active || p.point != point) return false;
  return arrivals.fetch_add(1, std::memory_order_relaxed) + 1 == p.arrival;
}

}  // namespace

void end_process_for_fault() { ::_exit(kFaultInjectionExitCode); }

void reach_fault_point(FaultPoint point) {
  if (arrive(point)) end_process_for_fault();
}

std::optional<std::size_t> mid_write_cut(std::size_t size) {
  if (!arrive(FaultPoint::kMidWrite)) return std::nullopt;
  const long wanted = plan().mid_write_bytes;
  const std::size_t cut = wanted < 0 ? size / 2 : static_cast<std::size_t>(wanted);
  return cut < size ? cut : size;
}

}  // namespace labelrep::detail
