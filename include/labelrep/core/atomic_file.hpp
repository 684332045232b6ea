#pragma once
/// \file atomic_file.hpp  Crash-safe file writes and bounded whole-file reads.

#include <cstdint>
#include <string>

#include "labelrep/export.hpp"

namespace labelrep {

/// Writes `bytes` to `path` so that a reader sees either the old file or the complete new one, even if
/// the process is killed or the machine loses power: the bytes go to a new `<path>.tmp.<pid>.<n>` in the
/// same directory (never an existing file or link), which is fsync'ed, renamed over `path`, and the
/// directory is fsync'ed. Safe to call from several threads, also for the same `path` (the last rename wins).
/// Throws IoError naming the path (and removes the temporary file) on any failure. The crash-safety
/// tests' fault hook (environment variable LABELREP_FAULT_INJECTION, docs/reliability.md) can end the
/// process at each step; a malformed value of it is an InvalidArgument.
LABELREP_API void write_file_atomically(const std::string& path, const std::string& bytes);

/// Reads the whole of `path`. Throws IoError if it cannot be opened or read, or if it is larger than
/// `max_bytes` (a guard against reading a huge file by mistake).
LABELREP_API std::string read_file(const std::string& path,
                                   std::uint64_t max_bytes = std::uint64_t{1} << 34);

/// Removes stale `<name>.tmp.<pid>.<n>` files (and `<name>.tmp.<pid>`, the form of earlier versions)
/// left in `directory` by writers that were killed mid-write: so do not keep files of your own named
/// `*.tmp.<number>` in a run directory.
/// Returns how many were removed. Files of processes still running on this machine are left alone; pids
/// of other machines mean nothing here, so only the one writer of a directory should call this.
LABELREP_API int remove_stale_temporaries(const std::string& directory);

}  // namespace labelrep
