// Shared vocabulary of the collective layer (docs/collective.md): the tag
// every operation carries, the reduction, the options and their bounds.
//
// The collective layer runs ring all-reduce and broadcast among a group of
// peers whose membership changes: a lost peer aborts the operations in
// flight on every survivor (kPeerLost, buffers restored) and the survivors
// agree on the next membership without a master. Like protocol code it sees
// only the Host seam (core/host.h), so the simulator and NetHost run it
// unchanged.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "murmur/core/host.h"
#include "murmur/core/ids.h"
#include "murmur/core/status.h"

namespace murmur::collective {

// Every operation is tagged with the membership epoch it runs in and its
// sequence number within that epoch. All members start operations in the
// same order, so the k-th operation of an epoch has sequence k everywhere.
struct OpTag {
  uint32_t epoch = 0;
  uint32_t seq = 0;
  constexpr auto operator<=>(const OpTag&) const = default;
};

enum class ReduceOp : uint8_t { kSum = 0, kAverage = 1 };

// A quantized all-reduce (docs/collective.md, "Quantized all-reduce"):
// every chunk a rank sends is min-max quantized to `bits` (quantize.h), one
// (lo, scale) per chunk message. The partial sums of the reduce-scatter are
// quantized at every hop; each reduced segment is quantized once, by its
// owner, which keeps the decoded values, and the all-gather forwards those
// same bytes, so every member decodes bit-identical results.
// Error feedback: with a non-empty `residual` (one float per buffer float)
// the operation first adds the residual to the input and zeroes it, then
// adds to it, element by element, the error of every quantization this
// rank makes (value - decoded). Over the members the residuals then sum to
// exactly (up to float rounding) the inputs' sum minus the decoded sum, so
// adding them to the next call's inputs keeps the running sum of results
// on the running sum of inputs. An aborted operation restores the residual
// with the buffer. `residual` must outlive the operation, like the buffer.
struct Quantization {
  uint8_t bits = 0;  // 0: float32 (exact); 8 or 4
  std::span<float> residual;
};

struct CollectiveOptions {
  // Floats per chunk message; each chunk travels the ring on its own, so
  // chunks of different steps are in flight at once (pipelining).
  size_t chunk_floats = size_t{1} << 16;
  // All-reduce pipeline window: a rank sends at most this many chunks of its
  // own segment (the ring's first step) ahead of the first-step chunks it
  // has received from its predecessor; every later step is clocked by the
  // chunks that arrive. So each link carries about this many chunks at
  // once instead of a whole segment, and the send path reuses a few hot
  // message buffers instead of touching a segment's worth of new memory.
  // Too small a window starves links whose bandwidth-delay product exceeds
  // window x chunk bytes (modeled WAN links); 0: no window (the whole
  // first step is queued at once). Results do not depend on it.
  size_t window_chunks = 32;
  // An operation (or agreement) that makes no progress for this long is
  // aborted. Must exceed the slowest step; a timeout on a live peer (false
  // suspicion) is safe before the commit barrier, see docs/collective.md.
  Duration timeout = Duration::Seconds(5);
  // Operations of the current epoch that may be in flight at once; Ready
  // messages for sequence numbers beyond the window are dropped and counted.
  uint32_t seq_window = 16;
  // Smallest membership an agreement may decide: a quorum rule against
  // split brain. With 1 (the default) a peer cut off from all the others
  // goes on alone; with a strict majority of the group (n/2 + 1) at most
  // one side of a partition goes on, and the other waits (its
  // AgreeMembership does not complete) until enough peers are back.
  uint32_t min_members = 1;
  // Largest group accepted in a view (bounds every per-member table).
  uint32_t max_members = 1024;
  // Largest buffer an operation accepts (a Ready announcing a longer one
  // is refused): 2^28 floats = 1 GiB.
  size_t max_floats = size_t{1} << 28;
  // Distinct peers of its view whose Evicted notices (the members left
  // this peer out of a later epoch) a member needs before it aborts its
  // operations and rejoins (capped at the other peers it knows). With 1
  // (the default) one insider's notice evicts it; f + 1 keeps f Byzantine
  // insiders from forcing aborts and resyncs (docs/collective.md).
  uint32_t evicted_notices = 1;
  // Prefix of the counters reported through Host::metrics().Count.
  const char* counter_prefix = "collective";
};

// What an operation's caller is told, exactly once, from inside an event
// handler of the host. OK: the buffer holds the result. kPeerLost: a member
// was lost (or timed out) before every member committed; the buffer holds
// the caller's input again. kInvalidArgument: the call was malformed (the
// buffer is untouched). kUnavailable: the group is agreeing on a new
// membership; call AgreeMembership (or use RetryingAllReduce).
using OpCallback = std::function<void(Host&, const Status&)>;

}  // namespace murmur::collective
