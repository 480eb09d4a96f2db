#include "murmur/protocol/codec_stages.h"

#include "murmur/core/check.h"

namespace murmur {

CodecStages::CodecStages(const Codec& codec, std::string_view prefix) {
  const std::string spec = codec.name();
  std::vector<std::string> stages;
  size_t start = 0;
  while (true) {
    const size_t bar = spec.find('|', start);
    stages.push_back(spec.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  std::string chain;
  for (size_t s = 0; s < stages.size(); ++s) {
    const std::string& stage = stages[s];
    counters_.push_back(std::string(prefix) + stage.substr(0, stage.find(':')));
    chain += (s == 0 ? "" : "|") + stage;
    if (s + 1 < stages.size()) {
      // A prefix of a canonical chain is a valid chain (stages keep their order).
      Result<std::unique_ptr<Codec>> made = MakeCodec(chain);
      MURMUR_CHECK(made.ok());
      prefixes_.push_back(std::move(made).value());
    }
  }
}

void CodecStages::Count(MetricsSink& metrics, std::span<const float> x, const CodecContext& ctx,
                        size_t frame_bytes, int64_t copies) const {
  for (size_t s = 0; s < prefixes_.size(); ++s) {
    ByteWriter out(prefixes_[s]->MaxEncodedSize(x.size()));
    if (prefixes_[s]->Encode(x, ctx, out).ok()) {
      metrics.Count(counters_[s], static_cast<int64_t>(out.size()) * copies);
    }
  }
  metrics.Count(counters_.back(), static_cast<int64_t>(frame_bytes) * copies);
}

}  // namespace murmur
