// Fuzz target: a run's snapshot file (experiment/run_snapshot.h) and the
// simulator's restore behind it (Simulator::Restore, with nodes whose state
// is a RoundBarrier with buffered and kept-ahead models, as D-PSGD's is).
// With an odd first byte the input is the raw file; with an even one the
// rest is the body, wrapped in a valid header and checksum, so the field
// checks behind the checksum get exercised. Must never crash or allocate without bound; a body that
// restores must save, restore into a fresh simulator and save again to the
// same bytes, and the restored simulator must run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/core/snapshot.h"
#include "murmur/experiment/run_snapshot.h"
#include "murmur/protocol/round_barrier.h"
#include "murmur/sim/simulator.h"

namespace {

constexpr size_t kNodes = 3;
constexpr size_t kModelSize = 2;

// A node whose state is a RoundBarrier over its two other peers. It sends
// each of them a model for rounds 1, 3 and 10 (3 bytes: round - 1 and the
// two floats' values), which the receiver files: buffered inside the
// window (rounds 1..5), kept ahead beyond it.
class BarrierNode final : public murmur::Node {
 public:
  explicit BarrierNode(uint32_t self) {
    for (uint32_t p = 0; p < kNodes; ++p) {
      if (p != self) senders_.emplace_back(p);
    }
    barrier_ = std::make_unique<murmur::RoundBarrier>(
        murmur::RoundBarrierOptions{.window = 4}, senders_);
  }
  void OnStart(murmur::Host& host) override {
    host.StartTimer(murmur::Duration::Nanos(5));
    for (murmur::PeerId to : senders_) {
      for (uint8_t round_less_one : {0, 2, 9}) host.Send(to, {round_less_one, 1, 2});
    }
  }
  void OnMessage(murmur::Host& host, murmur::PeerId from,
                 std::span<const uint8_t> bytes) override {
    if (bytes.size() != 3) return;
    barrier_->Add(host.metrics(), murmur::Round(bytes[0] + 1u), from,
                  std::vector<float>{static_cast<float>(bytes[1]), static_cast<float>(bytes[2])});
  }
  void OnTimer(murmur::Host&, murmur::TimerId) override {}
  void OnComputeDone(murmur::Host&, uint64_t) override {}
  bool CanSnapshot() const override { return true; }
  void Save(murmur::SnapshotWriter& out) const override { barrier_->Save(out); }
  murmur::Status Restore(murmur::SnapshotReader& in) override {
    barrier_->Restore(in, kModelSize);
    return in.status();
  }

 private:
  std::vector<murmur::PeerId> senders_;
  std::unique_ptr<murmur::RoundBarrier> barrier_;
};

struct World {
  murmur::NullMetricsSink sink;
  std::unique_ptr<murmur::Simulator> sim;
  explicit World(murmur::ThreadPool& pool) {
    std::vector<std::unique_ptr<murmur::Node>> nodes;
    std::vector<murmur::MetricsSink*> sinks;
    for (uint32_t i = 0; i < kNodes; ++i) {
      nodes.push_back(std::make_unique<BarrierNode>(i));
      sinks.push_back(&sink);
    }
    murmur::SimConfig config;
    config.max_time_s = 1;
    sim = std::make_unique<murmur::Simulator>(config, 7, std::move(nodes), sinks, pool);
  }
};

murmur::ThreadPool& Pool() {
  static murmur::ThreadPool pool(1);
  return pool;
}

constexpr uint64_t kHash = 42;

std::vector<uint8_t> Wrap(std::span<const uint8_t> body) {
  murmur::SnapshotWriter out;
  for (char c : {'M', 'U', 'R', 'M', 'S', 'N', 'A', 'P'}) out.U8(static_cast<uint8_t>(c));
  out.U32(murmur::kSnapshotVersion);
  for (uint64_t v : {kHash, uint64_t{0}, uint64_t{0}}) out.U64(v);
  out.F64(0);
  out.U64(body.size());
  std::vector<uint8_t> file = out.Take();
  file.insert(file.end(), body.begin(), body.end());
  const uint64_t sum = murmur::Fnv1a64(file);
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<uint8_t>(sum >> (8 * i)));
  return file;
}

// A started world's snapshot body after `events` events: the seeds'
// starting points.
std::vector<uint8_t> StartedBody(int events_before) {
  World world(Pool());
  int events = 0;
  world.sim->Run([&] { return ++events >= events_before; });
  murmur::SnapshotWriter out;
  world.sim->Save(out);
  return out.Take();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  const std::vector<uint8_t> file =
      data[0] % 2 == 1 ? std::vector<uint8_t>(rest.begin(), rest.end()) : Wrap(rest);
  murmur::Result<murmur::LoadedSnapshot> loaded = murmur::ParseSnapshotFile(file, kHash);
  if (!loaded.ok()) return 0;
  World world(Pool());
  murmur::SnapshotReader in(loaded->body);
  if (!world.sim->Restore(in).ok()) return 0;
  murmur::SnapshotWriter first;
  world.sim->Save(first);
  World again(Pool());
  murmur::SnapshotReader in2(first.bytes());
  if (!again.sim->Restore(in2).ok() || in2.remaining() != 0) std::abort();
  murmur::SnapshotWriter second;
  again.sim->Save(second);
  if (second.bytes() != first.bytes()) std::abort();
  int events = 0;
  world.sim->Run([&] { return ++events >= 64; });
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  std::vector<Seed> seeds;
  // Just started (messages in flight), then with some models buffered and
  // kept ahead and others still in flight.
  for (int events : {2, 14}) {
    const std::vector<uint8_t> body = StartedBody(events);
    Seed wrapped = {0};
    wrapped.insert(wrapped.end(), body.begin(), body.end());
    seeds.push_back(wrapped);
    Seed raw = {1};
    const std::vector<uint8_t> file = Wrap(body);
    raw.insert(raw.end(), file.begin(), file.end());
    seeds.push_back(raw);
  }
  seeds.push_back({0});
  return seeds;
}
