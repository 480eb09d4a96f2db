// A model checkpoint: one peer's flat parameter buffer on disk, so a run can
// start from a model another run trained (pretraining, then fine-tuning).
// Format, all little-endian (version 2):
//   offset 0   8 bytes  magic "MRMRCKPT"
//   offset 8   u32      format version (2)
//   offset 12  u32      architecture length A (at most kMaxArchitectureBytes)
//   offset 16  A bytes  the architecture (CheckpointArchitecture), UTF-8
//   then       u64      parameter count N
//   then       N x f32  parameters, in the Model's flat layout
//   then       u32      CRC-32 (zlib polynomial) of every preceding byte
// Version 1 files (no architecture: the count follows the version) still
// load; for them only the count is checked.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/learn/model.h"

namespace murmur {

inline constexpr uint32_t kCheckpointVersion = 2;
inline constexpr uint32_t kMaxArchitectureBytes = 1 << 20;

// What a checkpoint records of the model it was saved from:
// model.architecture() and the sizes of its parameter tensors, e.g.
// "mlp-128 [100352,128,1280,10]". Two models share a flat layout exactly
// when these agree.
std::string CheckpointArchitecture(const Model& model);

// The checkpoint's bytes for `params` of a model of `architecture`.
// REQUIRES: architecture.size() <= kMaxArchitectureBytes.
std::vector<uint8_t> EncodeCheckpoint(std::span<const float> params,
                                      std::string_view architecture);

// Parses checkpoint bytes. kCorrupt for a bad magic, an unsupported
// version, a size that disagrees with the header (truncated or trailing
// bytes), a CRC mismatch or a non-finite parameter; kInvalidArgument naming
// both architectures when the file's is not `expected_architecture`, or
// (any version) its count is not `expected_params`: a checkpoint of another
// model.
Result<std::vector<float>> DecodeCheckpoint(std::span<const uint8_t> bytes,
                                            std::string_view expected_architecture,
                                            int64_t expected_params);

// Writes atomically (a temporary file renamed over `path`), creating missing
// parent directories. kUnavailable
// when the file cannot be written.
Status SaveCheckpoint(const std::string& path, std::span<const float> params,
                      std::string_view architecture);

// kNotFound for a missing file; otherwise DecodeCheckpoint's errors, with
// the path in the message.
Result<std::vector<float>> LoadCheckpoint(const std::string& path,
                                          std::string_view expected_architecture,
                                          int64_t expected_params);

}  // namespace murmur
