// One ring operation (all-reduce or broadcast) of one peer, as a state
// machine the CollectiveGroup feeds with events. Private to collective/.
//
// All-reduce (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce
// algorithms for clusters of workstations"; the ring of Baidu's allreduce
// and NCCL): the buffer is cut into n segments and every segment into
// chunks of `chunk_floats`. Step t (0 <= t < 2n-2) of chunk j: rank r
// receives segment (r-t-1) mod n from its predecessor, adds it (t < n-1,
// reduce-scatter) or copies it (t >= n-1, all-gather), and forwards the
// result as step t+1. Every chunk travels the ring on its own, so many
// chunks of different steps are in flight at once (pipelining), and the
// order in which chunks arrive does not matter: each (step, chunk) touches
// its own slice and depends causally on the one before it.
// Broadcast is the same pipeline over one segment: the root sends step 0,
// the peer at distance d from the root receives step d-1 and forwards step d.
//
// Every segment is reduced in ring order once and copied everywhere, so all
// members end with bit-identical results.
//
// Quantized (params.bits 4 or 8, collective.h: Quantization): every sent
// chunk is min-max quantized (quantize.h). Reduce-scatter partial sums are
// quantized at each hop; the owner of a reduced segment quantizes it once
// at step n-1, keeps the decoded values, and the all-gather forwards the
// received bytes unchanged, so every member decodes the same bytes. Error
// feedback adds every quantization error this rank makes to the residual.
//
// Flow control: a rank sends data to its successor only after that
// successor's Ready for this tag arrived, so data never arrives for an
// operation its receiver has not started, and a receiver buffers nothing:
// chunks are applied in place. Window (all-reduce): a rank sends its own
// segment's chunks (step 0) at most `window_chunks` ahead of the step-0
// chunks received from its predecessor (all of them once the predecessor's
// step 0 is complete); the later steps forward what arrives. Every rank
// sends its first window unconditionally, so the ring cannot deadlock, and
// at most n x window_chunks step-0 chunks are in flight over the ring.
// Commit barrier: when its data is complete a rank sends Done to every
// member and completes only once every member's Done arrived
// (docs/collective.md, fault semantics).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "murmur/collective/collective.h"
#include "murmur/collective/collective_message.h"

namespace murmur::collective {

struct RingParams {
  OpTag tag;
  OpKind kind = OpKind::kAllReduce;
  ReduceOp reduce = ReduceOp::kSum;
  std::vector<PeerId> members;  // sorted; includes self
  PeerId self;
  PeerId root;                  // broadcast only
  size_t chunk_floats = 1;
  size_t window_chunks = 0;     // CollectiveOptions::window_chunks
  uint64_t digest = 0;          // MembersDigest(members)
  uint8_t bits = 0;             // 0: float32; 4 or 8: quantized chunks
  std::span<float> residual;    // error feedback (empty: none)
  uint64_t* bytes_sent = nullptr;  // message bytes this op sends are added here
};

class RingOp {
 public:
  // `buffer` must outlive the operation; what of it the operation changes
  // is copied for Restore() into `backup` first (storage whose capacity is
  // reused: see TakeBackup).
  RingOp(RingParams params, std::span<float> buffer, std::vector<float> backup,
         OpCallback done);

  const RingParams& params() const { return p_; }
  PeerId predecessor() const;
  PeerId successor() const;
  ReadyBody ready_body() const;

  // Sends Ready to the predecessor (and, alone, completes the data phase).
  void Start(Host& host);
  // The successor is ready: sends everything queued for it.
  void OnReady(Host& host);
  // Applies a chunk from `from`. kCorrupt for a chunk that is not expected
  // (wrong sender, step, index, length or a duplicate): nothing is applied.
  Status OnChunk(Host& host, PeerId from, const ChunkView& chunk);
  void OnDone(Host& host, PeerId from);

  bool data_complete() const { return data_complete_; }
  // Data complete and every member's Done arrived.
  bool committed() const;
  bool HasDoneFrom(PeerId peer) const;
  // Members this rank still waits for (who is suspected on a timeout).
  std::vector<PeerId> Waiting() const;
  void Restore();
  // The backup storage, for the next operation (after Restore, if any).
  std::vector<float> TakeBackup() { return std::move(backup_); }
  OpCallback TakeCallback() { return std::move(done_); }
  SimTime last_progress;

 private:
  int n() const { return static_cast<int>(p_.members.size()); }
  int steps() const;
  int SendSegment(int step) const;
  int RecvSegment(int step) const;
  bool Receives(int step) const;
  bool Forwards(int step) const;
  size_t SegmentBegin(int segment) const;
  size_t ChunkCount(int segment) const;
  std::span<float> Chunk(int segment, size_t chunk);
  // Queues the step-0 chunks the window allows.
  void ReleaseFirstStep(Host& host);
  void QueueStep(Host& host, int step, size_t chunk);
  void SendOne(Host& host, int step, size_t chunk);
  void Send(Host& host, PeerId to, std::vector<uint8_t> message);
  // Quantizes `data` (a chunk of the buffer) for `step`, adds its error to
  // the residual, and at step n-1 (the owner's) keeps the decoded values.
  std::vector<uint8_t> EncodeQuantized(int step, size_t chunk, std::span<float> data);
  void ApplyQuantized(int step, const ChunkView& c, std::span<float> slice);
  void MaybeFinishData(Host& host);
  // Saves the chunk for Restore() before its first change (lazy backup).
  void BackUp(int segment, size_t chunk);

  RingParams p_;
  int rank_ = 0;
  std::span<float> buffer_;
  // The buffer, then the residual; or, when lazy_backup_, the chunks
  // flagged in backed_up_ (by segment x max_chunks_), at their offsets.
  std::vector<float> backup_;
  bool lazy_backup_ = false;
  std::vector<uint8_t> backed_up_;
  // Quantized all-gather: the received bytes of (step, chunk) to forward.
  struct Codes {
    float lo = 0;
    float scale = 0;
    std::vector<uint8_t> bytes;
  };
  std::map<std::pair<int, size_t>, Codes> forward_;
  OpCallback done_;
  bool successor_ready_ = false;
  std::vector<std::pair<int, size_t>> pending_;  // (step, chunk) awaiting Ready
  size_t max_chunks_ = 0;
  std::vector<uint8_t> received_;  // steps() x max_chunks_
  size_t expected_ = 0;
  size_t received_count_ = 0;
  size_t to_send_ = 0;
  size_t first_queued_ = 0;    // step-0 chunks queued (all-reduce window)
  size_t first_received_ = 0;  // step-0 chunks received
  size_t sent_ = 0;
  bool data_complete_ = false;
  std::vector<uint8_t> done_from_;  // by rank
  size_t done_count_ = 0;
};

}  // namespace murmur::collective
