// Shared-state check and resync (docs/collective.md). After every outer
// step the peers of a group hold the same shared state (parameters and
// optimizer state) bit for bit; a divergence (a bug, a split commit after a
// false suspicion, a corrupted peer) or a late joiner must be found and
// repaired. As in PCCL (2025): every peer hashes its state and sends the
// digest to the members; the digest held by a strict majority is the
// group's; a peer that disagrees pulls the state from the peers that hold
// it, in chunks, round-robin over several of them at once, and checks the
// hash of what it pulled before adopting it. A late joiner does the same
// and starts at the next step.
//
// The hash is BLAKE2b-256 (libsodium crypto_generichash; Aumasson et al.
// 2013, "BLAKE2: simpler, smaller, fast as MD5") over every part as
// u64 count | count x f32 (little-endian), so parts cannot be re-split
// without changing the digest.
//
// Bounds: one digest per member and step, for steps within `step_window`
// of the newest step compared; a pull holds one staging copy of the
// state (its own size) and at most `max_in_flight` requests per holder;
// replies must match an outstanding request exactly; requests for ranges
// outside the served state or longer than `chunk_floats` are refused.
// A holder serves its state as it stands: the puller's hash check catches
// a holder that moved on (kCorrupt; try again at the next step).
// A peer that has no state yet (a restarted peer rejoining) does not know
// the step either: AwaitMajority learns it from the members' digests, and
// until this peer compares a state of its own it keeps digests of any step,
// the newest step_window + 1 steps per sender, so a sender announcing a
// far-future step evicts only its own digests and stalls nobody; the step
// adopted is one whose digest a strict majority of the members sent (after
// the timeout: of the members that sent any). Once it compared, digests
// more than `step_window` away from its own step are dropped.
// Not thread-safe: call from the node's event handlers only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <vector>

#include "murmur/collective/collective_message.h"
#include "murmur/core/host.h"

namespace murmur::collective {

// BLAKE2b-256 of `parts` (format above).
StateDigest HashState(std::span<const std::span<const float>> parts);
StateDigest HashState(std::span<const float> state);

struct StateSyncOptions {
  size_t chunk_floats = size_t{1} << 16;
  uint32_t max_in_flight = 4;       // requests outstanding per holder
  uint32_t step_window = 4;         // steps of digests kept
  Duration timeout = Duration::Seconds(5);
  const char* counter_prefix = "state_sync";
};

struct Comparison {
  StateDigest majority{};
  std::vector<PeerId> holders;  // members whose digest is the majority's (self included)
  bool agrees = false;          // this peer holds the majority digest
  size_t answers = 0;           // digests counted, this peer's included
  uint32_t step = 0;            // the step compared
};

class StateSync {
 public:
  using CompareCallback = std::function<void(Host&, const Status&, const Comparison&)>;

  StateSync(StateSyncOptions options, PeerId self);

  // The state this peer serves to pullers; must outlive its use (replace
  // it when the buffer moves).
  void Serve(std::span<const float> state) { served_ = state; }

  // Sends this peer's digest for `step` to `members` and reports once every
  // member's arrived, or after `timeout` with those that did. kAborted when
  // no digest holds a strict majority of the answers.
  void Compare(Host& host, uint32_t step, std::vector<PeerId> members, const StateDigest& mine,
               CompareCallback done);
  // For a peer without the state (a late joiner): waits for the digests
  // `members` (self excluded) send with their Compare for steps from
  // `min_step` on and reports the newest step for which a digest is held
  // by a strict majority of them
  // (Comparison::agrees false, Comparison::step that step), or, after
  // `timeout`, the newest step whose digest is held by a strict majority
  // of the members that sent any digest from `min_step` on. kAborted when
  // no digest holds one (or none came). Digests that arrived before the
  // call count.
  void AwaitMajority(Host& host, std::vector<PeerId> members, uint32_t min_step,
                     CompareCallback done);
  // Sends this peer's digest for `step` to `members` without waiting for
  // theirs: a peer that just pulled the state tells the members comparing
  // that step that it holds it.
  void Publish(Host& host, uint32_t step, std::span<const PeerId> members,
               const StateDigest& mine);
  // Sends the digest of the newest step this peer compared or published
  // (nothing if none) to `to`: new members that missed it (a joiner
  // admitted after this peer compared learns the step and state from it).
  void Republish(Host& host, std::span<const PeerId> to);
  // Pulls the state whose digest is `want` from `holders` into `state`
  // (chunks spread round-robin). `state` changes only on success; kCorrupt
  // when what was pulled does not hash to `want`, kPeerLost when every
  // holder was lost.
  void Pull(Host& host, std::vector<PeerId> holders, const StateDigest& want,
            std::span<float> state, OpCallback done);

  // Back to the state of a fresh peer (a joiner): the digests held, this
  // peer's own step and its compare, wait and pull in flight (their
  // callbacks never run) are dropped, so digests of any step are kept again
  // for AwaitMajority. For a peer that learned the group left it out
  // (CollectiveGroup::evictions()): its own steps say nothing of theirs.
  void ForgetSteps();

  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes);
  bool OnTimer(Host& host, TimerId timer);
  void OnPeerDown(Host& host, PeerId peer);

 private:
  struct Compare_ {
    uint32_t step = 0;
    std::vector<PeerId> members;
    StateDigest mine{};
    CompareCallback done;
    TimerId timer{};  // an earlier call's timer must not end this one
    bool active = false;
  };
  struct Await {
    std::vector<PeerId> members;
    uint32_t min_step = 0;
    CompareCallback done;
    TimerId timer{};  // an earlier call's timer must not end this one
    bool active = false;
  };
  struct PullState {
    std::vector<PeerId> holders;
    StateDigest want{};
    std::span<float> target;
    std::vector<float> staging;
    std::vector<size_t> todo;                          // chunks not yet requested
    std::map<uint32_t, std::pair<PeerId, size_t>> outstanding;  // request -> (holder, chunk)
    size_t received = 0;
    size_t next_holder = 0;
    SimTime last_progress;
    OpCallback done;
    bool active = false;
  };

  void HandleHash(Host& host, PeerId from, uint32_t step, const StateDigest& digest);
  void HandleRequest(Host& host, PeerId from, const StateRange& range);
  void HandleChunk(Host& host, PeerId from, std::span<const uint8_t> bytes, ByteReader& in);
  void MaybeFinishCompare(Host& host, bool timed_out);
  void MaybeFinishAwait(Host& host, bool timed_out);
  // Drops the digests outside `step_window` of this peer's own step.
  void ForgetOldSteps();
  // Without a state of its own: keeps `sender`'s digests of its newest
  // step_window + 1 steps only.
  void KeepNewestOf(Host& host, PeerId sender);
  void IssueRequests(Host& host);
  void DropHolder(Host& host, PeerId holder);
  void FinishPull(Host& host, Status status);
  size_t Chunks() const;
  void Count(Host& host, const char* what, int64_t n = 1);

  const StateSyncOptions options_;
  const PeerId self_;
  std::span<const float> served_;
  std::map<uint32_t, std::map<PeerId, StateDigest>> digests_;  // step -> member -> digest
  uint32_t newest_step_ = 0;    // this peer's own newest step compared or published
  bool has_compared_ = false;  // false: any step's digests are kept (a joiner)
  uint32_t published_step_ = 0;
  StateDigest published_{};     // this peer's digest of published_step_
  Compare_ compare_;
  Await await_;
  PullState pull_;
  uint32_t next_request_ = 1;
  enum class TimerPurpose : uint8_t { kCompare, kPull, kAwait };
  std::map<TimerId, TimerPurpose> timers_;
};

}  // namespace murmur::collective
