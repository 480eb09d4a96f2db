// Stateful fuzz target over every registered protocol (protocol/registry.h):
// byte 0 picks a ProtocolSpec; the target builds that protocol's whole run
// for 12 peers (and its server, if it has one) from the spec's default
// options, each node behind its own scripted FakeHost, and lets the fuzzer
// be the network and the clock: it delivers the messages the nodes really
// sent in any order, drops, duplicates, corrupts (bit flips, truncation,
// another sender: an insider lying about its slot) or replays them, injects
// raw bytes, fires timers, finishes compute tasks, declares peers down and
// up again and moves time. Because the messages come from the protocols' own encoders,
// every protocol's message handling is reached without this file knowing
// any wire format, and a new protocol is fuzzed once it is registered
// (from its defaults); kVariants adds configurations whose messages differ
// (Byzantine peers with robust rules, secure aggregation in fixed point and
// with RQM, DiLoCo's robust gather). Compression codecs are not among them
// yet. Must never crash. The heap may not grow by more than kHeapCap over a sequence: that
// catches a node allocating what a message asks for, not a slow leak (512
// events of ~200-byte messages add well under kHeapCap even if a node kept
// all of them).
//
// Input: byte 0 picks the run (a spec's defaults or a variant, ConfigOf);
// then events of one opcode byte and its arguments (see Step); missing
// bytes read as zero.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "stateful_fuzz.h"
#include "murmur/core/config.h"
#include "murmur/experiment/run_config.h"
#include "murmur/protocol/registry.h"
#include "testing/fake_host.h"
#include "testing/frozen_learner.h"

namespace {

using namespace murmur;
using fuzz::HeapInUse;
using fuzz::Reader;

constexpr int64_t kPeers = 12;  // more than any default fanout or sample (Epidemic: 7, MoDeST: 10)
constexpr size_t kMaxEvents = 512;
constexpr size_t kMaxInFlight = 64;             // the harness's own queue, bounded
constexpr size_t kHeapCap = size_t{16} << 20;  // bytes the nodes may add over a sequence

struct InFlight {
  PeerId from;
  PeerId to;
  std::vector<uint8_t> bytes;
};

// One protocol's run: its nodes, their hosts and the messages in flight.
struct Run {
  ProtocolConfig config;
  ProtocolRun protocol;
  std::vector<std::unique_ptr<testing::FakeHost>> hosts;
  std::vector<std::unique_ptr<Node>> nodes;
  std::deque<InFlight> in_flight;

  size_t size() const { return nodes.size(); }
  // Moves what the nodes sent into the queue, keeping its newest
  // kMaxInFlight messages; a message to a slot with no node is dropped.
  void Collect() {
    for (size_t i = 0; i < hosts.size(); ++i) {
      for (testing::FakeHost::Sent& s : hosts[i]->sent) {
        if (s.to.value >= nodes.size()) continue;
        in_flight.push_back({PeerId(static_cast<uint32_t>(i)), s.to, std::move(s.bytes)});
        if (in_flight.size() > kMaxInFlight) in_flight.pop_front();
      }
      hosts[i]->sent.clear();
      hosts[i]->models.clear();
    }
  }
};

// The frozen learners (learning rate 0, so a sequence's outcome depends on
// the input alone), built once: one per peer.
std::vector<testing::TestLearner>& Learners() {
  static auto* learners = new std::vector<testing::TestLearner>(kPeers);
  return *learners;
}

// Options that change what the nodes send, each read as a run config (the
// [protocol], [robust], [byzantine] and [privacy] tables a user writes).
constexpr const char* kVariants[] = {
    // Byzantine neighbours and a robust rule in every honest peer.
    "[protocol]\nkind = \"dpsgd\"\ntopology = \"full\"\n"
    "[robust]\nrule = \"trimmed-mean\"\nf = 2\n"
    "[byzantine]\ncount = 2\nattack = \"alie\"\n",
    "[protocol]\nkind = \"gossip\"\ntopology = \"full\"\n"
    "[robust]\nrule = \"median\"\nf = 1\n[byzantine]\ncount = 2\nattack = \"sign-flip\"\n",
    // Secure aggregation, fixed point and RQM's ring.
    "[protocol]\nkind = \"fedavg\"\n"
    "[privacy]\nsecure_aggregation = \"secagg\"\nsecagg_entropy = \"seeded\"\n",
    "[protocol]\nkind = \"fedavg\"\n"
    "[privacy]\nsecure_aggregation = \"secagg+\"\nsecagg_encoding = \"rqm\"\n"
    "secagg_entropy = \"seeded\"\n",
    // Robust aggregation of DiLoCo's pseudo-gradients over a gather.
    "[protocol]\nkind = \"diloco\"\n[robust]\nrule = \"median\"\nf = 1\n",
    // Codec frames in the messages: CHOCO's compressed differences, gossip
    // against per-edge public copies, FedAvg's coded uplink and downlink
    // with error feedback.
    "[protocol]\nkind = \"choco\"\ntopology = \"full\"\n"
    "[compress]\ncodec = \"topk:0.25|int8|zstd\"\n",
    "[protocol]\nkind = \"gossip\"\ntopology = \"full\"\n[compress]\ncodec = \"randk:0.5|int4\"\n",
    "[protocol]\nkind = \"fedavg\"\n"
    "[compress]\nuplink = \"topk:0.1|fp16\"\ndownlink = \"int8\"\nerror_feedback = \"ef21\"\n",
};
constexpr size_t kNumVariants = sizeof(kVariants) / sizeof(kVariants[0]);

// The ProtocolConfig of `which`: a spec with its defaults (the first
// ProtocolSpecs().size() values), then kVariants.
Result<ProtocolConfig> ConfigOf(size_t which) {
  const std::span<const ProtocolSpec* const> specs = ProtocolSpecs();
  ProtocolConfig config;
  if (which < specs.size()) {
    config.kind = std::string(specs[which]->name);
    config.options = specs[which]->default_options();
  } else {
    const std::string text =
        "peers = " + std::to_string(kPeers) + "\n" + kVariants[which - specs.size()];
    MURMUR_ASSIGN_OR_RETURN(Config raw, Config::FromString(text, "protocol_run_fuzz variant"));
    MURMUR_ASSIGN_OR_RETURN(RunConfig read, ReadRunConfig(raw));
    config = std::move(read.protocol);
  }
  config.rounds = 20;
  // FedCompass needs at least its min_steps (2), Streaming DiLoCo a step
  // per fragment (4).
  config.local_steps = 4;
  config.round_timeout_s = 1;
  config.secagg_system_entropy = false;  // replayable
  return config;
}

size_t NumRuns() { return ProtocolSpecs().size() + kNumVariants; }

// Builds run `which` (ConfigOf), or null (saying why on stderr) when it
// cannot be built; FuzzSeeds aborts then.
std::unique_ptr<Run> MakeRun(uint8_t which) {
  Result<ProtocolConfig> config = ConfigOf(which % NumRuns());
  if (!config.ok()) {
    std::fprintf(stderr, "protocol_run_fuzz: run %d: %s\n", int{which},
                 config.status().ToString().c_str());
    return nullptr;
  }
  Result<const ProtocolSpec*> found = FindProtocolSpec(config->kind);
  if (!found.ok()) return nullptr;
  const ProtocolSpec& spec = **found;
  auto run = std::make_unique<Run>();
  run->config = std::move(config).value();
  std::vector<testing::TestLearner>& learners = Learners();
  for (testing::TestLearner& l : learners) l.Fill(0.5f);
  Result<ProtocolRun> prepared =
      PrepareProtocolRun(run->config, *learners[0].model, kPeers, /*seed=*/1,
                         /*shared_initial_model=*/true);
  if (!prepared.ok()) {
    std::fprintf(stderr, "protocol_run_fuzz: %s: %s\n", run->config.kind.c_str(),
                 prepared.status().ToString().c_str());
    return nullptr;
  }
  run->protocol = std::move(prepared).value();
  run->protocol.config = &run->config;
  const std::vector<float> initial(learners[0].learner->params().begin(),
                                   learners[0].learner->params().end());
  const int64_t nodes = kPeers + (spec.has_server(run->config) ? 1 : 0);
  for (int64_t i = 0; i < nodes; ++i) {
    const PeerId id(static_cast<uint32_t>(i));
    Result<std::unique_ptr<Node>> node = MakePeerNode(
        run->protocol, PeerContext{.id = id,
                                   .learner = i < kPeers ? learners[i].learner.get() : nullptr,
                                   .initial_params = initial});
    if (!node.ok()) {
      std::fprintf(stderr, "protocol_run_fuzz: %s, node %lld: %s\n", run->config.kind.c_str(),
                   static_cast<long long>(i), node.status().ToString().c_str());
      return nullptr;
    }
    run->hosts.push_back(std::make_unique<testing::FakeHost>(id));
    run->nodes.push_back(std::move(node).value());
  }
  return run;
}

// Flips, truncates or keeps a message's bytes, as `how` says.
void Corrupt(Reader& in, uint8_t how, std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return;
  switch (how % 4) {
    case 0:
      return;
    case 1:
      bytes[in.U16() % bytes.size()] ^= static_cast<uint8_t>(1u << (in.U8() % 8));
      return;
    case 2:
      bytes.resize(in.U16() % bytes.size());
      return;
    default:
      bytes[in.U16() % bytes.size()] = in.U8();
      return;
  }
}

// One event. Opcodes (low 3 bits):
//   0, 1  deliver a message in flight (index; bit 3: keep it queued, a
//         duplicate; bits 4-5: corruption; bit 6: another sender)
//   2     fire one of a node's timers (each fires at most once)
//   3     finish a node's oldest compute task
//   4     a node hears that a peer is down (bit 3: that it is up again)
//   5     raw bytes to a node from a peer
//   6     drop a message in flight
//   7     time passes on every host
// Returns whether a message reached a node's OnMessage.
bool Step(Reader& in, Run& run) {
  const uint8_t op = in.U8();
  const size_t n = run.size();
  switch (op & 7) {
    case 0:
    case 1: {
      if (run.in_flight.empty()) return false;
      const size_t index = in.U8() % run.in_flight.size();
      InFlight m = run.in_flight[index];
      if ((op & 0x08) == 0) run.in_flight.erase(run.in_flight.begin() + index);
      Corrupt(in, static_cast<uint8_t>(op >> 4), m.bytes);
      if ((op & 0x40) != 0) m.from = PeerId(static_cast<uint32_t>(in.U8() % (n + 1)));
      if (m.from == m.to) return false;  // no node hears itself
      run.nodes[m.to.value]->OnMessage(*run.hosts[m.to.value], m.from, m.bytes);
      return true;
    }
    case 2: {
      const size_t k = in.U8() % n;
      testing::FakeHost& host = *run.hosts[k];
      if (host.timers.empty()) return false;
      const size_t t = in.U8() % host.timers.size();
      const TimerId timer = host.timers[t];
      host.timers.erase(host.timers.begin() + static_cast<std::ptrdiff_t>(t));
      run.nodes[k]->OnTimer(host, timer);
      return false;
    }
    case 3: {
      const size_t k = in.U8() % n;
      if (!run.hosts[k]->compute.empty()) run.hosts[k]->FinishCompute(*run.nodes[k]);
      return false;
    }
    case 4: {
      const size_t k = in.U8() % n;
      const PeerId down(static_cast<uint32_t>(in.U8() % n));
      if (down.value == k) return false;
      if ((op & 8) != 0) {
        run.nodes[k]->OnPeerUp(*run.hosts[k], down);
      } else {
        run.nodes[k]->OnPeerDown(*run.hosts[k], down);
      }
      return false;
    }
    case 5: {
      const size_t k = in.U8() % n;
      const PeerId from(static_cast<uint32_t>(in.U8() % (n + 1)));
      std::vector<uint8_t> raw(in.U8());
      for (uint8_t& b : raw) b = in.U8();
      if (from.value == k) return false;
      run.nodes[k]->OnMessage(*run.hosts[k], from, raw);
      return true;
    }
    case 6:
      if (!run.in_flight.empty()) {
        run.in_flight.erase(run.in_flight.begin() + in.U8() % run.in_flight.size());
      }
      return false;
    default: {
      const Duration d = Duration::Seconds(static_cast<double>(in.U8()) / 16);
      for (auto& host : run.hosts) host->Advance(d);
      return false;
    }
  }
}

// Runs one input; returns how many messages reached a node.
size_t Drive(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Reader in(std::span(data + 1, size - 1));
  const size_t heap_before = HeapInUse();
  size_t delivered = 0;
  {
    std::unique_ptr<Run> run = MakeRun(data[0]);
    if (run == nullptr) return 0;
    for (size_t i = 0; i < run->size(); ++i) run->nodes[i]->OnStart(*run->hosts[i]);
    run->Collect();
    for (size_t i = 0; i < kMaxEvents && !in.done(); ++i) {
      delivered += Step(in, *run) ? 1 : 0;
      run->Collect();
      if (HeapInUse() > heap_before + kHeapCap) std::abort();  // unbounded state
    }
  }
  return delivered;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Drive(data, size);
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // Per spec, an honest run's schedule: every node's compute finishes, every
  // message is delivered in order, timers fire, time passes; then the same
  // with duplicates, corruption and a peer down. Every registered spec must
  // build from its defaults and talk, or the fuzzer would never reach it.
  std::vector<Seed> seeds;
  const size_t count = NumRuns();
  for (size_t spec = 0; spec < count; ++spec) {
    if (MakeRun(static_cast<uint8_t>(spec)) == nullptr) std::abort();
    Seed honest{static_cast<uint8_t>(spec)};
    for (int round = 0; round < 4; ++round) {
      for (uint8_t k = 0; k < kPeers + 1; ++k) honest.insert(honest.end(), {3, k});
      for (int m = 0; m < 24; ++m) honest.insert(honest.end(), {0, 0});
      honest.insert(honest.end(), {7, 8});
      for (uint8_t k = 0; k < kPeers + 1; ++k) honest.insert(honest.end(), {2, k, 0});
    }
    // The honest schedule must make the protocol talk, or its message
    // handling would never be fuzzed.
    if (Drive(honest.data(), honest.size()) < 10) {
      std::fprintf(stderr, "protocol_run_fuzz: spec %zu delivers under 10 messages\n", spec);
      std::abort();
    }
    seeds.push_back(honest);
    Seed hostile = honest;
    hostile.insert(hostile.end(), {0x08, 0, 0x10 | 0x08, 1, 7, 0, 1, 0x20, 2, 3, 0});
    hostile.insert(hostile.end(), {0x40, 0, 3, 4, 2, 1, 5, 0, 1, 3, 0xff, 0xff, 0xff});
    for (int m = 0; m < 24; ++m) hostile.insert(hostile.end(), {0, 0, 7, 4});
    seeds.push_back(hostile);
  }
  return seeds;
}
