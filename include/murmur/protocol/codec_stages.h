// Bytes per stage of a codec chain (MakeCodec specs such as
// "topk:0.01|int8|zstd"), for the metrics: how many bytes the payload had
// after the structure stage (its kept values as fp32), after the values
// stage, after zstd. Every figure is the size of a real frame: the chain up
// to that stage encodes the same input with the same context (so top-k
// keeps the same coordinates), and the last stage is the frame that was
// sent. Counters are named `prefix + stage name`, e.g. "bytes_stage_topk",
// "bytes_stage_int8", "bytes_stage_zstd"; each counts codec frame bytes
// only (no message headers), once per recipient of the frame.
// Immutable after construction and thread-safe.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/compress/codec.h"
#include "murmur/core/host.h"

namespace murmur {

class CodecStages {
 public:
  // `codec`'s chain, read from its canonical name(). The codec need not
  // outlive this object.
  CodecStages(const Codec& codec, std::string_view prefix);

  // Counts one frame: `frame_bytes` (what `codec` wrote for `x`) under the
  // last stage's counter and, for every earlier stage, the size of `x`
  // encoded by the chain up to it; each `copies` times. An earlier stage
  // that fails to encode (it cannot when the whole chain succeeded) is not
  // counted.
  void Count(MetricsSink& metrics, std::span<const float> x, const CodecContext& ctx,
             size_t frame_bytes, int64_t copies) const;

  // Counter names, first stage first.
  const std::vector<std::string>& counters() const { return counters_; }

 private:
  std::vector<std::string> counters_;
  // The chain up to each stage but the last.
  std::vector<std::unique_ptr<Codec>> prefixes_;
};

}  // namespace murmur
