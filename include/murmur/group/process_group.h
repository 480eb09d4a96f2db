// ProcessGroup: murmur as the communication layer of someone else's training
// loop (docs/python.md, "murmur.Group"; the Python class is a thin wrapper).
// One object per process: it owns a NetHost (authenticated, encrypted TCP,
// the config concepts of `murmur peer`: a key file, a network key, a listen
// address, the other peers' addresses) and a CollectiveGroup plus a
// StateSync, run on a background thread (the NetHost loop). The calls below
// block the caller until the collective finished on this peer:
//
//  * AllReduce: sum or mean over the current members, retried over the
//    survivors when a member is lost (retry.h); returns the membership the
//    result was reduced over;
//  * BroadcastState: every member ends with the same state, either the
//    root's (a ring broadcast) or the majority's (BLAKE2b digests gathered,
//    the minority pulls the majority's state in chunks from its holders);
//  * DilocoOuterStep: one outer step of DiLoCo (Douillard et al. 2023,
//    "DiLoCo: Distributed Low-Communication Training of Language Models"):
//    the pseudo-gradient global - local averaged over the members that hold
//    the shared state, an outer SGD step with Nesterov momentum (PyTorch's
//    formulation: m = mu m + g; global -= lr (g + mu m)), local := global,
//    then the shared state's hashes compared (PCCL, 2025: bit-identical
//    state checked by hashes; late joiners pulled from peers).
//
// Every call starts with a membership agreement, so a restarted peer
// (created with `rejoin`) is admitted at the next call of the others, and
// membership changes are reported as events. A restarted peer's first
// DilocoOuterStep pulls the shared state and contributes weight 0; it
// contributes from the next one on.
//
// Thread-safety: the public methods may be called from any one thread at a
// time (calls are serialised; a second caller waits). Buffers passed in
// must stay untouched until the call returns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "murmur/collective/collective.h"
#include "murmur/core/ids.h"
#include "murmur/core/status.h"

namespace murmur::group {

struct GroupOptions {
  uint32_t rank = 0;                   // this peer's slot, 0..world_size-1
  uint32_t world_size = 0;
  std::string listen = "127.0.0.1:0";  // "host:port"; port 0: the kernel's choice
  std::vector<std::string> peers;      // "host:port" of some other peers (bootstrap)
  std::string key_file;                // Ed25519 identity; empty: a fresh key
  std::string network_key_file;        // 32-byte pre-shared key; empty: none
  bool rejoin = false;                 // a restart: join the running group
  double timeout_s = 5.0;              // collective timeout (no progress)
  double start_timeout_s = 30.0;       // waiting for the other peers at start
  size_t chunk_floats = size_t{1} << 16;
  int max_attempts = 16;               // retries of one call over survivors
  // Smallest membership an agreement may decide (collective.h); 0: a strict
  // majority of world_size, so a restarted peer that hears nobody within a
  // timeout (the others busy with inner steps) waits instead of going on
  // alone, and at most one side of a partition goes on.
  uint32_t min_members = 0;
};

struct Membership {
  uint32_t epoch = 0;
  std::vector<PeerId> members;
};

struct MembershipEvent {
  enum class Kind : uint8_t { kJoined, kLeft };
  Kind kind = Kind::kJoined;
  PeerId peer;
  uint32_t epoch = 0;  // the epoch in which it took effect
};

struct OuterOptions {
  double lr = 0.7;        // DiLoCo's outer learning rate
  double momentum = 0.9;  // outer Nesterov momentum
  bool nesterov = true;
};

struct OuterStepReport {
  Membership membership;       // over which the pseudo-gradients were averaged
  double weight = 0;           // members that contributed a pseudo-gradient
  bool contributed = false;    // this peer's pseudo-gradient was in the average
  bool resynced = false;       // this peer pulled the shared state this step
  bool hashes_agree = false;   // every member's state digest equal after the step
  std::string digest_hex;      // this peer's state digest after the step
  uint64_t step = 0;           // outer steps the group took (shared state: a
                               // restarted peer learns it when it resyncs)
};

class ProcessGroup {
 public:
  // Binds the listener and starts the background thread. kInvalidArgument
  // for bad options or key files, kUnavailable when the address is taken.
  static Result<std::unique_ptr<ProcessGroup>> Create(const GroupOptions& options);
  // Says Bye to the peers and joins the thread.
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  std::string listen_address() const;
  uint32_t rank() const;

  Result<Membership> AllReduce(std::span<float> data, collective::ReduceOp op);
  // `root`: the member whose state everyone gets; none: the majority's.
  Result<Membership> BroadcastState(std::span<float> state, std::optional<PeerId> root);
  // Sets the shared state (global parameters := `params`, momentum := 0,
  // step count := 0; all three are hashed and resynced together).
  // Local; call once before the first outer step. A peer created with
  // `rejoin` marks it as not held: its first outer step pulls it.
  Status DilocoInit(std::span<const float> params);
  // `local`: this peer's parameters after its inner steps; on return they
  // hold the new global parameters.
  Result<OuterStepReport> DilocoOuterStep(std::span<float> local, const OuterOptions& options);

  Membership members() const;
  std::vector<MembershipEvent> PollEvents();

  class Impl;

 private:
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace murmur::group
