// Stateful fuzz target: one protocol node (D-PSGD, gossip learning,
// Epidemic learning, FedAvg server or client, MoDeST, Byzantine D-PSGD,
// gossip under a median, a Byzantine gossip peer, D-PSGD under SybilWall, a
// Sybil identity and an ALIE FedAvg coalition member, each with a
// coalition of its own) on a
// 50-parameter synthetic learner (tests/testing/frozen_learner.h) behind a
// scripted FakeHost, fed a fuzzer-driven sequence of events: model messages
// (MoDeST frames for MoDeST) from any sender, of any kind and round, with
// weights and lengths the fuzzer picks, raw bytes, timers firing, compute
// finishing, peers declared down, time passing, and snapshots
// (Node::Save / Restore, `murmur run --resume`): the node's state, with
// bytes the fuzzer overwrites, restored into a fresh node that then takes
// the node's place. Must never crash; an unmodified snapshot must restore
// and save again to the same bytes, and any snapshot that restores must
// round-trip so. The heap may not grow by more than kHeapCap over the
// sequence whatever the senders send: that catches a node allocating what
// a length field asks for, not a slow leak (512 events of 50-float models
// stay far below it even if a node kept them all); the bounds themselves
// (round_barrier.h: (window + 2) models per sender for D-PSGD and
// Epidemic; gossip's max_queued) are asserted by the protocols' tests.
//
// Input: byte 0 picks the protocol; then events of one opcode byte and its
// arguments (see Step); missing bytes read as zero.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "stateful_fuzz.h"
#include "murmur/core/snapshot.h"
#include "murmur/protocol/byzantine_dpsgd.h"
#include "murmur/protocol/byzantine_fedavg.h"
#include "murmur/protocol/byzantine_gossip.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/model_message.h"
#include "murmur/protocol/modest.h"
#include "testing/fake_host.h"
#include "testing/frozen_learner.h"

namespace {

using namespace murmur;
using fuzz::HeapInUse;
using fuzz::Reader;

constexpr uint32_t kPeers = 4;                     // slots 0..3; the node is slot 0
constexpr size_t kMaxEvents = 512;
constexpr size_t kHeapCap = size_t{4} << 20;       // bytes the node may add over a sequence
constexpr uint8_t kProtocols = 12;
constexpr uint8_t kModest = 5;

std::unique_ptr<Node> MakeNode(uint8_t which, Learner& learner) {
  const std::vector<PeerId> neighbours = {PeerId(1), PeerId(2), PeerId(3)};
  switch (which % kProtocols) {
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
    case 4:
      return std::make_unique<FedAvgClient>(
          learner, FedAvgOptions{.rounds = 50, .client_fraction = 1.0, .local_epochs = 1,
                                 .round_timeout = Duration::Seconds(1)},
          PeerId(1));
    case kModest:
      return std::make_unique<ModestNode>(
          learner, ModestOptions{.rounds = 50, .local_steps = 1, .num_peers = kPeers,
                                 .trainers = 2, .aggregators = 2, .success_fraction = 1.0,
                                 .ping_timeout = Duration::Seconds(0.5),
                                 .round_timeout = Duration::Seconds(1), .seed = 1});
    case 6:
      return std::make_unique<ByzantineDpsgdNode>(
          learner,
          DpsgdOptions{.rounds = 50, .local_steps = 1, .round_timeout = Duration::Seconds(1),
                       .num_peers = kPeers},
          neighbours, std::vector<PeerId>{PeerId(1), PeerId(2)},
          ByzantineConfig{.count = 1, .attack = AttackKind::kAlie});
    case 7:
      return std::make_unique<GossipNode>(
          learner,
          GossipOptions{.rounds = 50, .local_steps = 1, .period = Duration::Seconds(1),
                        .window = 2},
          neighbours, ModelCombiner::Make(AggregatorConfig{.rule = "median"}).value());
    case 8:
      return std::make_unique<ByzantineGossipNode>(
          learner, GossipOptions{.rounds = 50, .local_steps = 1, .period = Duration::Seconds(1)},
          neighbours, std::vector<PeerId>{PeerId(1), PeerId(2)},
          ByzantineConfig{.count = 1, .attack = AttackKind::kEquivocation});
    case 9:
      return std::make_unique<DpsgdNode>(
          learner,
          DpsgdOptions{.rounds = 50, .local_steps = 1, .round_timeout = Duration::Seconds(1),
                       .num_peers = kPeers},
          neighbours, std::vector<double>{0.25, 0.25, 0.25}, 0.25,
          ModelCombiner::Make(AggregatorConfig{.rule = "sybilwall"}).value());
    case 10:
      return std::make_unique<ByzantineDpsgdNode>(
          learner,
          DpsgdOptions{.rounds = 50, .local_steps = 1, .round_timeout = Duration::Seconds(1),
                       .num_peers = kPeers},
          neighbours, std::vector<PeerId>{PeerId(1), PeerId(2)},
          ByzantineConfig{.count = 1, .attack = AttackKind::kSybil},
          std::make_shared<DpsgdSybilCoalition>());
    default: {
      const ByzantineConfig alie{.count = 1, .attack = AttackKind::kAlie, .z = 1.0};
      return std::make_unique<ByzantineFedAvgClient>(
          learner,
          FedAvgOptions{.rounds = 50, .client_fraction = 1.0, .local_epochs = 1,
                        .round_timeout = Duration::Seconds(1)},
          PeerId(1), alie, std::make_shared<FedAvgCoalition>(alie));
    }
  }
}

// Saves `node`, overwrites up to 3 bytes of the snapshot where the input
// says, and restores it into a fresh node, which replaces `node` when it
// restores. Compute in flight runs first, as the simulator's Save does (its
// task points into the node).
void Snapshot(Reader& in, uint8_t which, Learner& learner, std::unique_ptr<Node>& node,
              testing::FakeHost& host) {
  const int edits = in.U8() % 4;
  if (!node->CanSnapshot()) return;
  while (!host.compute.empty()) host.FinishCompute(*node);
  SnapshotWriter out;
  node->Save(out);
  std::vector<uint8_t> bytes = out.Take();
  for (int i = 0; i < edits; ++i) {
    const uint16_t at = in.U16();
    const uint8_t value = in.U8();
    if (!bytes.empty()) bytes[at % bytes.size()] = value;
  }
  std::unique_ptr<Node> fresh = MakeNode(which, learner);
  SnapshotReader reader(bytes);
  const bool restored = fresh->Restore(reader).ok() && reader.remaining() == 0;
  if (edits == 0 && !restored) std::abort();  // a node's own snapshot must restore
  if (!restored) return;
  SnapshotWriter again;
  fresh->Save(again);
  if (edits == 0 && again.bytes() != bytes) std::abort();
  // Whatever restored saves, restores and saves again to the same bytes.
  std::unique_ptr<Node> twin = MakeNode(which, learner);
  SnapshotReader twin_reader(again.bytes());
  if (!twin->Restore(twin_reader).ok() || twin_reader.remaining() != 0) std::abort();
  SnapshotWriter third;
  twin->Save(third);
  if (third.bytes() != again.bytes()) std::abort();
  node = std::move(fresh);
}

// One event. Opcodes (low 3 bits): 0-2 a model message (from, kind, round,
// weight, length, fill; for MoDeST a frame of type kind, role weight & 1),
// 3 raw bytes, 4 a timer, 5 compute done, 6 a peer down (with bit 0x40: a
// snapshot, see Snapshot), 7 time passing.
void Step(Reader& in, uint8_t which, Learner& learner, std::unique_ptr<Node>& node_slot,
          testing::FakeHost& host, size_t model_size) {
  Node& node = *node_slot;
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
      if (which % kProtocols == kModest) {
        static constexpr ModestMessageType kTypes[] = {
            ModestMessageType::kPing, ModestMessageType::kPong, ModestMessageType::kTrained,
            ModestMessageType::kGlobal, ModestMessageType::kAck, ModestMessageType::kProgress};
        const ModestMessageType type = kTypes[static_cast<size_t>(kind) % 6];
        const bool has_model =
            type == ModestMessageType::kTrained || type == ModestMessageType::kGlobal;
        node.OnMessage(host, from,
                       EncodeModestFrame(type, round, static_cast<ModestRole>(weight & 1), {},
                                         std::vector<float>(has_model ? length : 0, fill)));
        return;
      }
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
      if ((op & 0x40) != 0) {
        Snapshot(in, which, learner, node_slot, host);
        return;
      }
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
      Step(in, data[0], *learner->learner, node, host, learner->size());
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
  // done, a timer, a peer down, future rounds far ahead, time passing, and
  // snapshots (one as saved, one with a byte overwritten) between them.
  std::vector<Seed> seeds;
  for (uint8_t protocol = 0; protocol < kProtocols; ++protocol) {
    Seed s{protocol};
    for (uint8_t kind = 0; kind < 4; ++kind) {
      for (uint8_t from = 1; from < 4; ++from) {
        s.insert(s.end(), {0, from, kind, 1, 0, 10, 4});  // round 1, weight 10
      }
    }
    s.insert(s.end(), {5, 4, 0, 6, 1, 7, 16});
    s.insert(s.end(), {0x46, 0});                        // snapshot, as saved
    for (uint8_t r = 2; r < 40; r += 3) s.insert(s.end(), {1, 2, 0, r, 0, 10, 8});
    s.insert(s.end(), {0x46, 0, 4, 0});                  // snapshot, as saved
    s.insert(s.end(), {0x80, 3, 0, 200, 0, 10, 7, 4});  // wrong length, far ahead
    s.insert(s.end(), {3, 5, 1, 0, 0, 0, 9, 2});         // raw bytes
    s.insert(s.end(), {0x46, 1, 9, 0, 0xff, 4, 0, 5});   // snapshot, byte 9 = 0xff
    seeds.push_back(s);
  }
  return seeds;
}
