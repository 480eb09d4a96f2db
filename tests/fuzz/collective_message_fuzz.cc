// Fuzz target: the collective layer's handling of peer bytes
// (collective/collective_group.h, state_sync.h), which every member runs on
// every collective message. The input is a sequence of messages, each
// u8 sender | u16 length | bytes, delivered to peer 1 of a group {0, 1, 2}
// that has an all-reduce in flight and a state pull outstanding. Must never
// crash or hold more than its bounds: at most one operation in flight, the
// buffer's length unchanged, and the decoders' accepted frames re-encode to
// the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/collective/collective_group.h"
#include "murmur/collective/collective_message.h"
#include "murmur/collective/state_sync.h"

namespace {

using namespace murmur;
using namespace murmur::collective;

class FuzzHost final : public Host, public MetricsSink {
 public:
  PeerId self() const override { return PeerId(1); }
  SimTime now() const override { return SimTime{}; }
  void Send(PeerId, std::vector<uint8_t>) override {}
  TimerId StartTimer(Duration) override { return TimerId(next_++); }
  void RunCompute(ComputeTask) override {}
  Rng& rng() override { return rng_; }
  Rng& privacy_rng() override { return rng_; }
  MetricsSink& metrics() override { return *this; }
  void ReportBadPeer(PeerId, const Status&) override {}
  void ReportModel(Round, std::span<const float>) override {}
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view, int64_t) override {}

 private:
  Rng rng_{1, PeerId(1), RngPurpose::kProtocol};
  uint64_t next_ = 1;
};

void CheckViewRoundTrip(std::span<const uint8_t> bytes) {
  ByteReader in(bytes);
  auto header = ReadHeader(in);
  // A view's seq field is unused (0 when encoded, ignored when read).
  if (!header.ok() || header->kind != MessageKind::kCollectiveView || header->tag.seq != 0) return;
  auto view = ReadView(in, 64);
  if (!view.ok()) return;
  const std::vector<uint8_t> again = EncodeView(header->tag.epoch, *view);
  if (again.size() != bytes.size() || !std::equal(again.begin(), again.end(), bytes.begin())) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzHost host;
  CollectiveOptions options;
  options.chunk_floats = 2;
  options.max_members = 64;
  CollectiveGroup group(options, PeerId(1), {PeerId(0), PeerId(1), PeerId(2)});
  std::vector<float> buffer = {1, 2, 3, 4, 5, 6, 7};
  bool done = false;
  group.AllReduce(host, buffer, ReduceOp::kSum, [&](Host&, const Status&) { done = true; });
  StateSyncOptions sync_options;
  sync_options.chunk_floats = 4;
  StateSync sync(sync_options, PeerId(1));
  std::vector<float> state(9, 0.5f);
  sync.Serve(state);
  std::vector<float> pulled(9, 0.0f);
  sync.Pull(host, {PeerId(0), PeerId(2)}, StateDigest{}, pulled, [](Host&, const Status&) {});
  size_t at = 0;
  while (at + 3 <= size) {
    const PeerId from(data[at] % 4);
    const size_t len = std::min<size_t>(data[at + 1] | (data[at + 2] << 8), size - at - 3);
    const std::span<const uint8_t> msg(data + at + 3, len);
    at += 3 + len;
    CheckViewRoundTrip(msg);
    if (IsStateSyncMessage(msg)) {
      sync.OnMessage(host, from, msg);
    } else if (IsCollectiveMessage(msg)) {
      group.OnMessage(host, from, msg);
    }
    if (group.in_flight() > 1 || buffer.size() != 7) std::abort();
  }
  (void)done;
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  auto frame = [](uint8_t from, const std::vector<uint8_t>& msg) {
    Seed s = {from, static_cast<uint8_t>(msg.size() & 0xff), static_cast<uint8_t>(msg.size() >> 8)};
    s.insert(s.end(), msg.begin(), msg.end());
    return s;
  };
  const OpTag tag{0, 0};
  const std::vector<float> two = {1, 1};
  const std::vector<ViewEntry> view = {{PeerId(0), 0, false}, {PeerId(2), 3, true}};
  Seed ring = frame(2, EncodeReady(tag, ReadyBody{.length = 7}));
  for (const Seed& s : {frame(0, EncodeChunk(tag, 0, 0, two)), frame(0, EncodeDone(tag))}) {
    ring.insert(ring.end(), s.begin(), s.end());
  }
  const PeerId lost[] = {PeerId(2)};
  return {
      ring,
      frame(0, EncodeAbort(tag, lost)),
      frame(2, EncodeView(1, view)),
      frame(3, EncodeJoin(5)),
      frame(0, EncodeEvicted(2, 0)),  // turns peer 1 into a joiner mid-operation
      frame(0, EncodeStateHash(OpTag{0, 4}, StateDigest{})),
      frame(0, EncodeStateRequest(OpTag{}, StateRange{1, 2, 4})),
      frame(2, EncodeStateChunk(OpTag{}, StateRange{1, 0, 2}, two)),
  };
}
