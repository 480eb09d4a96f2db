// The "streaming_diloco" protocol spec (registry.h): Streaming DiLoCo
// (Douillard et al. 2025) over the collective layer (streaming_diloco.h).
#include "murmur/protocol/streaming_diloco.h"
#include "protocol/diloco_spec.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

constexpr const char* kName = "streaming_diloco";

Result<std::any> ReadStreaming(ConfigReader& r, const ProtocolConfig& shared) {
  StreamingConfig c;
  MURMUR_RETURN_IF_ERROR(ReadDilocoKeys(r, c.outer));
  if (c.outer.delayed) {
    return Status::InvalidArgument(
        "diloco.delayed does not apply to protocol.kind = \"streaming_diloco\": its exchanges "
        "already overlap compute for streaming.overlap_steps inner steps; remove the key");
  }
  const int64_t h = std::max<int64_t>(shared.local_steps, 1);
  MURMUR_ASSIGN_OR_RETURN(c.fragments, r.Int("streaming.fragments", std::min<int64_t>(4, h), 1));
  if (c.fragments > h) {
    return Status::InvalidArgument("streaming.fragments = ", c.fragments,
                                   " exceeds protocol.local_steps = ", h,
                                   ": every fragment needs its own step of the H-step cycle");
  }
  MURMUR_ASSIGN_OR_RETURN(c.overlap_steps,
                          r.Int("streaming.overlap_steps", std::min<int64_t>(1, h / c.fragments), 0));
  if (c.overlap_steps > h / c.fragments) {
    return Status::InvalidArgument(
        "streaming.overlap_steps = ", c.overlap_steps, " exceeds protocol.local_steps / "
        "streaming.fragments = ", h / c.fragments, ": a fragment's exchange must be applied "
        "before the next fragment's starts (lower it or use fewer fragments)");
  }
  MURMUR_ASSIGN_OR_RETURN(c.mix, r.Double("streaming.mix", c.mix, 0, 1));
  MURMUR_ASSIGN_OR_RETURN(int64_t bits, r.Int("streaming.bits", c.bits, 0, 8));
  if (bits != 0 && bits != 4 && bits != 8) {
    return Status::InvalidArgument("streaming.bits = ", bits,
                                   ": use 4 or 8 (quantized outer gradients) or 0 (float32)");
  }
  c.bits = static_cast<int>(bits);
  MURMUR_ASSIGN_OR_RETURN(c.error_feedback,
                          r.Bool("streaming.error_feedback", c.error_feedback));
  return std::any(c);
}

struct StreamingRunState {
  StreamingOptions options;
};

Status PrepareStreaming(ProtocolRun& run) {
  const ProtocolConfig& config = *run.config;
  const auto& streaming = ProtocolOptionsAs<StreamingConfig>(config);
  MURMUR_ASSIGN_OR_RETURN(const collective::CollectiveOptions collective,
                          DilocoCollectiveOptions(config, streaming.outer, run.num_peers));
  if (streaming.fragments > config.local_steps || streaming.overlap_steps > config.local_steps / streaming.fragments) {
    return Status::InvalidArgument("streaming.fragments = ", streaming.fragments,
                                   " and streaming.overlap_steps = ", streaming.overlap_steps,
                                   " do not fit protocol.local_steps = ", config.local_steps,
                                   " (need fragments <= local_steps and overlap_steps <= "
                                   "local_steps / fragments)");
  }
  auto state = std::make_shared<StreamingRunState>();
  state->options.collective = collective;
  state->options.rounds = config.rounds;
  state->options.inner_steps = config.local_steps;
  state->options.streaming = streaming;
  state->options.num_peers = run.num_peers;
  run.state = std::shared_ptr<const StreamingRunState>(std::move(state));
  return Status::Ok();
}

// Every peer starts from peer 0's parameters (the global model).
Result<std::unique_ptr<Node>> MakeStreamingNode(const ProtocolRun& run, const PeerContext& peer) {
  const auto& state = *std::any_cast<const std::shared_ptr<const StreamingRunState>&>(run.state);
  StreamingOptions options = state.options;
  if (peer.rejoin) {
    if (!options.streaming.outer.check_state) {
      return Status::InvalidArgument(
          "a restarted streaming_diloco peer (--rejoin) pulls the others' state after their "
          "next state check: it needs diloco.check_state = true");
    }
    options.rejoin = true;
  }
  return std::unique_ptr<Node>(
      std::make_unique<StreamingDilocoNode>(*peer.learner, std::move(options), peer.initial_params));
}

}  // namespace

extern const ProtocolSpec kStreamingDilocoSpec;
const ProtocolSpec kStreamingDilocoSpec{
    .name = kName,
    .default_options = [] { return std::any(StreamingConfig{}); },
    .read_options = ReadStreaming,
    .has_server = [](const ProtocolConfig&) { return false; },
    .prepare = PrepareStreaming,
    .make_node = MakeStreamingNode,
};

}  // namespace murmur
