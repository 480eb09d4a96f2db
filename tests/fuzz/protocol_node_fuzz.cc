// Stateful fuzz target: one protocol node (D-PSGD, gossip learning,
// Epidemic learning, FedAvg server or client) on a 50-parameter synthetic
// learner (tests/testing/frozen_learner.h) behind a scripted FakeHost, fed a
// fuzzer-driven sequence of events: model messages from any sender, of any
// kind and round, with weights and lengths the fuzzer picks, raw bytes,
// timers firing, compute finishing, peers declared down, time passing.
// Must never crash, and the memory the node holds must stay bounded: the
// heap may not grow by more than kHeapCap over the sequence whatever the
// senders send (round_barrier.h bounds a D-PSGD or Epidemic node to
// (window + 2) models per sender; gossip queues at most max_queued).
//
// Input: byte 0 picks the protocol; then events of one opcode byte and its
// arguments (see Step); missing bytes read as zero.
#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/model_message.h"
#include "testing/fake_host.h"
#include "testing/frozen_learner.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/allocator_interface.h>
#define MURMUR_FUZZ_ASAN 1
#endif
#endif

namespace {

using namespace murmur;

constexpr uint32_t kPeers = 4;                     // slots 0..3; the node is slot 0
constexpr size_t kMaxEvents = 512;
constexpr size_t kHeapCap = size_t{4} << 20;       // bytes the node may add over a sequence

size_t HeapInUse() {
#ifdef MURMUR_FUZZ_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool done() const { return pos_ >= bytes_.size(); }
  uint8_t U8() { return pos_ < bytes_.size() ? bytes_[pos_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

std::unique_ptr<Node> MakeNode(uint8_t which, Learner& learner) {
  const std::vector<PeerId> neighbours = {PeerId(1), PeerId(2), PeerId(3)};
  switch (which % 5) {
    case 0:
      return std::make_unique<DpsgdNode>(
          learner,
          DpsgdOptions{.rounds = 50, .local_steps = 1, .round_timeout = Duration::Seconds(1),
                       .num_peers = kPeers},
          neighbours, std::vector<double>{0.25, 0.25, 0.25}, 0.25);
    case 1:
      return std::make_unique<GossipNode>(
          learner, GossipOptions{.rounds = 50, .local_steps = 1, .period = Duration::Seconds(1)},
          neighbours);
    case 2:
      return std::make_unique<EpidemicNode>(
          learner, EpidemicOptions{.rounds = 50, .local_steps = 1, .fanout = 2,
                                   .num_peers = kPeers, .round_timeout = Duration::Seconds(1),
                                   .seed = 1});
    case 3:
      return std::make_unique<FedAvgServer>(
          std::vector<float>(learner.params().begin(), learner.params().end()),
          FedAvgOptions{.rounds = 50, .client_fraction = 1.0, .local_epochs = 1,
                        .round_timeout = Duration::Seconds(1)},
          neighbours);
    default:
      return std::make_unique<FedAvgClient>(
          learner, FedAvgOptions{.rounds = 50, .client_fraction = 1.0, .local_epochs = 1,
                                 .round_timeout = Duration::Seconds(1)},
          PeerId(1));
  }
}

// One event. Opcodes (low 3 bits): 0-2 a model message (from, kind, round,
// weight, length, fill), 3 raw bytes, 4 a timer, 5 compute done, 6 a peer
// down, 7 time passing.
void Step(Reader& in, Node& node, testing::FakeHost& host, size_t model_size) {
  const uint8_t op = in.U8();
  switch (op & 7) {
    case 0:
    case 1:
    case 2: {
      const PeerId from(in.U8() % (kPeers + 1));  // kPeers: a stranger slot
      static constexpr ModelMessageKind kKinds[] = {
          ModelMessageKind::kDpsgdParams, ModelMessageKind::kGossipModel,
          ModelMessageKind::kFedAvgGlobal, ModelMessageKind::kFedAvgUpdate};
      const ModelMessageKind kind = kKinds[in.U8() % 4];
      const uint32_t round = in.U16();
      const uint64_t weight = in.U8();
      // Mostly the right length, sometimes another.
      const size_t length = (op & 0x80) != 0 ? in.U8() : model_size;
      const float fill = static_cast<float>(static_cast<int8_t>(in.U8())) / 8.f;
      node.OnMessage(host, from,
                     EncodeModelMessage(kind, Round(round), weight,
                                        std::vector<float>(length, fill)));
      return;
    }
    case 3: {
      std::vector<uint8_t> raw(in.U8());
      for (uint8_t& b : raw) b = in.U8();
      node.OnMessage(host, PeerId(in.U8() % kPeers), raw);
      return;
    }
    case 4:
      if (!host.timers.empty()) node.OnTimer(host, host.timers[in.U8() % host.timers.size()]);
      return;
    case 5:
      if (!host.compute.empty()) host.FinishCompute(node);
      return;
    case 6:
      node.OnPeerDown(host, PeerId(1 + in.U8() % (kPeers - 1)));
      return;
    default:
      host.Advance(Duration::Seconds(static_cast<double>(in.U8()) / 16));
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static testing::TestLearner* learner = new testing::TestLearner(0.0);
  learner->Fill(0.5f);
  Reader in(std::span(data + 1, size - 1));
  const size_t heap_before = HeapInUse();
  {
    testing::FakeHost host(PeerId(0));
    std::unique_ptr<Node> node = MakeNode(data[0], *learner->learner);
    node->OnStart(host);
    for (size_t i = 0; i < kMaxEvents && !in.done(); ++i) {
      Step(in, *node, host, learner->size());
      // What the host recorded is the test's, not the node's.
      host.sent.clear();
      host.models.clear();
      const size_t heap = HeapInUse();
      if (heap > heap_before + kHeapCap) std::abort();  // unbounded state
    }
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // For each protocol: messages of round 1 from every neighbour, compute
  // done, a timer, a peer down, future rounds far ahead, and time passing.
  std::vector<Seed> seeds;
  for (uint8_t protocol = 0; protocol < 5; ++protocol) {
    Seed s{protocol};
    for (uint8_t kind = 0; kind < 4; ++kind) {
      for (uint8_t from = 1; from < 4; ++from) {
        s.insert(s.end(), {0, from, kind, 1, 0, 10, 4});  // round 1, weight 10
      }
    }
    s.insert(s.end(), {5, 4, 0, 6, 1, 7, 16});
    for (uint8_t r = 2; r < 40; r += 3) s.insert(s.end(), {1, 2, 0, r, 0, 10, 8});
    s.insert(s.end(), {0x80, 3, 0, 200, 0, 10, 7, 4});  // wrong length, far ahead
    s.insert(s.end(), {3, 5, 1, 0, 0, 0, 9, 2});         // raw bytes
    seeds.push_back(s);
  }
  return seeds;
}
