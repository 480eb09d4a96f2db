// Files that survive a kill or a power loss at any moment: written whole to
// a temporary file beside the target, synced, renamed over the target, and
// the directory synced (so the rename itself is durable). Readers see the
// previous file or the new one, never a torn one. Used by `murmur run`'s
// snapshots (run_snapshot.h) and `murmur peer`'s state (peer_state.h).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

// Writes the concatenation of `parts` to `dir`/`name` atomically as above.
// kUnavailable when it cannot; the previous file, if any, is then left as
// it was and the temporary file removed.
Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           std::initializer_list<std::span<const uint8_t>> parts);

// The whole of `path`, if it holds at most `max_bytes` (checked before
// anything is allocated). kNotFound when there is no such file, kCorrupt
// when it is larger or not a regular file, kUnavailable when it cannot be read.
Result<std::vector<uint8_t>> ReadFileBounded(const std::string& path, uint64_t max_bytes);

}  // namespace murmur
