// A model checkpoint: one peer's flat parameter buffer on disk, so a run can
// start from a model another run trained (pretraining, then fine-tuning).
// Format, all little-endian:
//   offset 0   8 bytes  magic "MRMRCKPT"
//   offset 8   u32      format version (1)
//   offset 12  u64      parameter count N
//   offset 20  N x f32  parameters, in the Model's flat layout
//   then       u32      CRC-32 (zlib polynomial) of every preceding byte
// The file names no architecture: the loader checks only that N matches the
// model it is loaded into, so the config must name the same model.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

inline constexpr uint32_t kCheckpointVersion = 1;

// The checkpoint's bytes for `params`.
std::vector<uint8_t> EncodeCheckpoint(std::span<const float> params);

// Parses checkpoint bytes. kCorrupt for a bad magic, an unsupported
// version, a size that disagrees with the header (truncated or trailing
// bytes), a CRC mismatch or a non-finite parameter; kInvalidArgument when the
// count is not `expected_params` (a checkpoint of another model).
Result<std::vector<float>> DecodeCheckpoint(std::span<const uint8_t> bytes,
                                            int64_t expected_params);

// Writes atomically (a temporary file renamed over `path`), creating missing
// parent directories. kUnavailable
// when the file cannot be written.
Status SaveCheckpoint(const std::string& path, std::span<const float> params);

// kNotFound for a missing file; otherwise DecodeCheckpoint's errors, with
// the path in the message.
Result<std::vector<float>> LoadCheckpoint(const std::string& path,
                                          int64_t expected_params);

}  // namespace murmur
