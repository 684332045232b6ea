#pragma once
// Test hook for crash-safety tests (docs/reliability.md, "Checkpoints and the kill test"): with the
// environment variable LABELREP_FAULT_INJECTION=POINT:N the process ends itself with _exit(86) the N-th
// time it reaches POINT inside write_file_atomically, so that a test can stop a writer at an exact step
// of the temp-file, fsync, rename, directory-fsync sequence instead of at a random moment only. Without
// the variable every call is one relaxed load: the hook is inert in normal use.
//
// POINT is one of
//   mid-write[@BYTES]   after BYTES bytes of the temporary file are written (default: half of them)
//   before-fsync        after the whole temporary file is written, before its fsync
//   after-fsync         after the fsync, before the rename
//   after-rename        after the rename, before the directory fsync
//   after-directory-fsync  after the whole write, before the caller goes on
// A malformed value is an InvalidArgument naming LABELREP_FAULT_INJECTION at the first write.

#include <cstddef>
#include <optional>

namespace labelrep::detail {

enum class FaultPoint { kMidWrite, kBeforeFsync, kAfterFsync, kAfterRename, kAfterDirectoryFsync };

/// The exit code of a process stopped by the hook, so that a test tells it from a crash.
inline constexpr int kFaultInjectionExitCode = 86;

/// Counts an arrival at `point` and ends the process if it is the configured one.
void reach_fault_point(FaultPoint point);

/// For kMidWrite (counts the arrival): if this write of `size` bytes is the one to cut, how many bytes to
/// write before calling end_process_for_fault(); otherwise nullopt.
std::optional<std::size_t> mid_write_cut(std::size_t size);

/// Ends the process as the hook does (_exit, no destructors, no flushing): what SIGKILL would leave.
[[noreturn]] void end_process_for_fault();

}  // namespace labelrep::detail
