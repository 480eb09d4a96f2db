#include "murmur/collective/collective_group.h"

#include <algorithm>
#include <string>

#include "murmur/collective/quantize.h"
#include "murmur/core/check.h"
#include "ring_op.h"

namespace murmur::collective {

CollectiveGroup::CollectiveGroup(CollectiveOptions options, PeerId self,
                                 std::vector<PeerId> members)
    : options_(options), self_(self), view_(members) {
  MURMUR_CHECK(options_.chunk_floats > 0 && options_.seq_window > 0);
  members_ = view_.Live();
  MURMUR_CHECK(std::binary_search(members_.begin(), members_.end(), self_));
}

std::unique_ptr<CollectiveGroup> CollectiveGroup::Joining(CollectiveOptions options, PeerId self,
                                                          std::vector<PeerId> contacts,
                                                          uint64_t incarnation) {
  auto group = std::make_unique<CollectiveGroup>(options, self, std::vector<PeerId>{self});
  group->joining_ = true;
  group->incarnation_ = incarnation;
  group->view_ = MembershipView();
  (void)group->view_.Merge(ViewEntry{self, incarnation, false}, options.max_members);
  std::erase(contacts, self);
  group->contacts_ = std::move(contacts);
  return group;
}

CollectiveGroup::~CollectiveGroup() = default;

void CollectiveGroup::Count(Host& host, const char* what, int64_t n) {
  host.metrics().Count(std::string(options_.counter_prefix) + "." + what, n);
}

void CollectiveGroup::AllReduce(Host& host, std::span<float> buffer, ReduceOp op,
                                OpCallback done) {
  StartOp(host, OpKind::kAllReduce, buffer, op, self_, {}, std::move(done));
}

void CollectiveGroup::AllReduce(Host& host, std::span<float> buffer, ReduceOp op,
                                Quantization quantization, OpCallback done) {
  if ((quantization.bits != 0 && !ValidQuantBits(quantization.bits)) ||
      (!quantization.residual.empty() && quantization.residual.size() != buffer.size())) {
    done(host, Status::InvalidArgument("collective: quantization to ", +quantization.bits,
                                       " bits with a residual of ",
                                       quantization.residual.size(), " floats for a buffer of ",
                                       buffer.size(), " (widths 0, 4, 8; residual empty or "
                                       "as long as the buffer)"));
    return;
  }
  StartOp(host, OpKind::kAllReduce, buffer, op, self_, quantization, std::move(done));
}

void CollectiveGroup::Broadcast(Host& host, std::span<float> buffer, PeerId root,
                                OpCallback done) {
  StartOp(host, OpKind::kBroadcast, buffer, ReduceOp::kSum, root, {}, std::move(done));
}

void CollectiveGroup::StartOp(Host& host, OpKind kind, std::span<float> buffer,
                              ReduceOp reduce, PeerId root, Quantization quantization,
                              OpCallback done) {
  if (agreeing_ || joining_) {
    done(host, Status::Unavailable("collective: peer ", self_, " is agreeing on epoch ",
                                   target_epoch_, "; call AgreeMembership first"));
    return;
  }
  if (broken_) {
    done(host, Status::PeerLost("collective: epoch ", epoch_,
                                " lost a member; agree on a new membership and retry"));
    return;
  }
  if (buffer.size() > options_.max_floats) {
    done(host, Status::InvalidArgument("collective: buffer of ", buffer.size(),
                                       " floats exceeds max_floats ", options_.max_floats));
    return;
  }
  if (kind == OpKind::kBroadcast && !std::binary_search(members_.begin(), members_.end(), root)) {
    done(host, Status::InvalidArgument("collective: broadcast root ", root,
                                       " is not a member of epoch ", epoch_));
    return;
  }
  const OpTag tag{epoch_, next_seq_++};
  RingParams params{.tag = tag, .kind = kind, .reduce = reduce, .members = members_,
                    .self = self_, .root = root, .chunk_floats = options_.chunk_floats,
                    .window_chunks = options_.window_chunks,
                    .digest = MembersDigest(members_), .bits = quantization.bits,
                    .residual = quantization.residual, .bytes_sent = &bytes_sent_};
  auto op = std::make_unique<RingOp>(
      std::move(params), buffer,
      TakeSpareBackup(buffer.size() + quantization.residual.size()), std::move(done));
  RingOp& ref = *op;
  ops_[tag] = std::move(op);
  ArmOpWatchdog(host, options_.timeout);
  ref.Start(host);
  ReplayEarly(host, tag);
  MaybeCommit(host, tag);
}

std::vector<float> CollectiveGroup::TakeSpareBackup(size_t floats) {
  if (spare_backups_.empty()) return {};
  // The smallest spare that fits, else the largest (grown by the op).
  auto best = spare_backups_.end();
  for (auto it = spare_backups_.begin(); it != spare_backups_.end(); ++it) {
    const bool fits = it->capacity() >= floats;
    if (best == spare_backups_.end()) {
      best = it;
    } else if (fits && (best->capacity() < floats || it->capacity() < best->capacity())) {
      best = it;
    } else if (!fits && best->capacity() < floats && it->capacity() > best->capacity()) {
      best = it;
    }
  }
  std::vector<float> storage = std::move(*best);
  spare_backups_.erase(best);
  return storage;
}

void CollectiveGroup::KeepSpareBackup(std::vector<float> storage) {
  if (storage.capacity() == 0) return;
  spare_backups_.push_back(std::move(storage));
  if (spare_backups_.size() <= kSpareBackups) return;
  // Drop the smallest: the large ones are what is expensive to fault in.
  auto smallest = std::min_element(
      spare_backups_.begin(), spare_backups_.end(),
      [](const auto& a, const auto& b) { return a.capacity() < b.capacity(); });
  spare_backups_.erase(smallest);
}

bool CollectiveGroup::KeepEarly(Host& host, EarlyMessage message) {
  const OpTag tag = message.tag;
  // Per sender: a Ready and a Done for each operation of the window, and
  // an Abort per epoch.
  const auto from_sender = std::count_if(early_.begin(), early_.end(), [&](const EarlyMessage& e) {
    return e.from == message.from;
  });
  if (tag.epoch > epoch_ + 2 ||
      tag.seq >= options_.seq_window + (tag.epoch == epoch_ ? next_seq_ : 0) ||
      static_cast<uint32_t>(from_sender) >= 2 * options_.seq_window + 3) {
    Count(host, "dropped_beyond_window");
    return false;
  }
  early_.push_back(std::move(message));
  return true;
}

void CollectiveGroup::ReplayEarly(Host& host, OpTag tag) {
  std::vector<EarlyMessage> mine;
  for (size_t i = 0; i < early_.size();) {
    if (early_[i].tag == tag && early_[i].kind != MessageKind::kCollectiveAbort) {
      mine.push_back(std::move(early_[i]));
      early_.erase(early_.begin() + static_cast<ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  for (const EarlyMessage& early : mine) {
    if (!ops_.contains(tag)) return;  // aborted by a mismatched Ready
    if (early.kind == MessageKind::kCollectiveReady) {
      HandleReady(host, early.from, early.tag, early.body);
    } else {
      HandleDone(host, early.from, early.tag);
    }
  }
}

void CollectiveGroup::ApplyEarlyAborts(Host& host) {
  std::vector<EarlyMessage> aborts;
  std::erase_if(early_, [&](EarlyMessage& e) {
    if (e.tag.epoch < epoch_) return true;
    if (e.tag.epoch > epoch_ || e.kind != MessageKind::kCollectiveAbort) return false;
    aborts.push_back(std::move(e));
    return true;
  });
  for (const EarlyMessage& abort : aborts) {
    // A member of this epoch aborted one of its operations before this
    // peer decided it: the epoch is broken here too.
    if (!std::binary_search(members_.begin(), members_.end(), abort.from)) continue;
    Count(host, "aborts_received");
    AbortOps(host, {abort.tag}, abort.lost, /*tell_others=*/false);
  }
}

bool CollectiveGroup::IsStale(OpTag tag) const {
  return tag.epoch < epoch_ || (tag.epoch == epoch_ && tag.seq < next_seq_);
}

void CollectiveGroup::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  ByteReader in(bytes);
  Result<Header> header = ReadHeader(in);
  if (!header.ok()) {
    host.ReportBadPeer(from, header.status());
    return;
  }
  const OpTag tag = header->tag;
  switch (header->kind) {
    case MessageKind::kCollectiveReady: {
      Result<ReadyBody> body = ReadReady(in);
      if (!body.ok()) return host.ReportBadPeer(from, body.status());
      return HandleReady(host, from, tag, *body);
    }
    case MessageKind::kCollectiveChunk:
      return HandleChunk(host, from, tag, bytes, /*quantized=*/false);
    case MessageKind::kCollectiveQChunk:
      return HandleChunk(host, from, tag, bytes, /*quantized=*/true);
    case MessageKind::kCollectiveDone: {
      Status end = in.ExpectEnd();
      if (!end.ok()) return host.ReportBadPeer(from, end);
      return HandleDone(host, from, tag);
    }
    case MessageKind::kCollectiveAbort: {
      Result<std::vector<PeerId>> lost = ReadAbort(in, options_.max_members);
      if (!lost.ok()) return host.ReportBadPeer(from, lost.status());
      return HandleAbort(host, from, tag, *lost);
    }
    case MessageKind::kCollectiveView: {
      Result<std::vector<ViewEntry>> view = ReadView(in, options_.max_members);
      if (!view.ok()) return host.ReportBadPeer(from, view.status());
      return HandleView(host, from, tag.epoch, *view);
    }
    case MessageKind::kCollectiveJoin: {
      Result<uint64_t> incarnation = ReadJoin(in);
      if (!incarnation.ok()) return host.ReportBadPeer(from, incarnation.status());
      return HandleJoin(host, from, *incarnation);
    }
    case MessageKind::kCollectiveEvicted: {
      Result<uint64_t> incarnation = ReadJoin(in);
      if (!incarnation.ok()) return host.ReportBadPeer(from, incarnation.status());
      return HandleEvicted(host, from, tag.epoch, *incarnation);
    }
    default:
      // State-sync kinds belong to StateSync, which the node routes itself.
      Count(host, "dropped_unexpected");
  }
}

void CollectiveGroup::HandleReady(Host& host, PeerId from, OpTag tag, const ReadyBody& body) {
  auto it = ops_.find(tag);
  if (it == ops_.end()) {
    if (TellEvicted(host, from, tag.epoch)) return;
    if (IsStale(tag)) return Count(host, "dropped_stale");
    // Early: keep a bounded number per sender, for this or the next epochs.
    (void)KeepEarly(host, EarlyMessage{from, tag, MessageKind::kCollectiveReady, body, {}});
    return;
  }
  RingOp& op = *it->second;
  if (from != op.successor()) return Count(host, "dropped_unexpected");
  const ReadyBody mine = op.ready_body();
  if (body.op != mine.op || body.reduce != mine.reduce || body.bits != mine.bits ||
      body.root != mine.root ||
      body.length != mine.length || body.digest != mine.digest) {
    // A member called a different operation, or holds another view: this
    // operation cannot succeed; abort it like a lost peer.
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 "collective ready of epoch ", tag.epoch, " seq ", tag.seq,
                                 " does not match this peer's call (length ", body.length,
                                 " vs ", mine.length, ")"));
    Count(host, "mismatched_calls");
    const PeerId lost[] = {from};
    return AbortOps(host, {tag}, lost, /*tell_others=*/true);
  }
  op.OnReady(host);
  MaybeCommit(host, tag);
}

void CollectiveGroup::HandleChunk(Host& host, PeerId from, OpTag tag,
                                  std::span<const uint8_t> bytes, bool quantized) {
  auto it = ops_.find(tag);
  if (it == ops_.end()) {
    return Count(host, IsStale(tag) ? "dropped_stale" : "dropped_unexpected");
  }
  Result<ChunkView> chunk = quantized ? ReadQChunk(bytes, options_.max_floats)
                                      : ReadChunk(bytes, options_.max_floats);
  if (!chunk.ok()) return host.ReportBadPeer(from, chunk.status());
  Status applied = it->second->OnChunk(host, from, *chunk);
  if (!applied.ok()) return host.ReportBadPeer(from, applied);
  MaybeCommit(host, tag);
}

void CollectiveGroup::HandleDone(Host& host, PeerId from, OpTag tag) {
  auto it = ops_.find(tag);
  if (it == ops_.end()) {
    if (IsStale(tag)) return Count(host, "dropped_stale");
    // A broadcast's root sends Done without waiting for the last member:
    // keep it until this peer starts the operation.
    (void)KeepEarly(host, EarlyMessage{from, tag, MessageKind::kCollectiveDone, {}, {}});
    return;
  }
  it->second->OnDone(host, from);
  MaybeCommit(host, tag);
}

void CollectiveGroup::HandleAbort(Host& host, PeerId from, OpTag tag,
                                  std::span<const PeerId> lost) {
  auto it = ops_.find(tag);
  if (it == ops_.end() && tag.epoch > epoch_) {
    // Aborted by a member that decided the epoch before this peer did.
    (void)KeepEarly(host, EarlyMessage{from, tag, MessageKind::kCollectiveAbort, {},
                                       std::vector<PeerId>(lost.begin(), lost.end())});
    return;
  }
  const bool member = it != ops_.end()
                          ? std::binary_search(it->second->params().members.begin(),
                                               it->second->params().members.end(), from)
                          : std::binary_search(members_.begin(), members_.end(), from);
  if (!member || (it == ops_.end() && tag.epoch != epoch_)) return Count(host, "dropped_stale");
  Count(host, "aborts_received");
  // Also when the operation has not started here: the epoch is broken, so
  // starting it will fail at once, as it did for the sender.
  AbortOps(host, {tag}, lost, /*tell_others=*/false);
}

void CollectiveGroup::MaybeCommit(Host& host, OpTag tag) {
  auto it = ops_.find(tag);
  if (it == ops_.end() || !it->second->committed()) return;
  std::unique_ptr<RingOp> op = std::move(it->second);
  ops_.erase(it);
  Count(host, "committed");
  KeepSpareBackup(op->TakeBackup());
  OpCallback done = op->TakeCallback();
  done(host, Status::Ok());
  // An agreement waiting for the epoch's operations to end (MaybeDecide).
  if (agreeing_ && ops_.empty()) MaybeDecide(host);
}

void CollectiveGroup::AbortOps(Host& host, const std::vector<OpTag>& tags,
                               std::span<const PeerId> lost, bool tell_others) {
  for (PeerId p : lost) {
    if (p != self_) (void)view_.MarkDead(p);
  }
  std::vector<std::unique_ptr<RingOp>> aborted;
  for (OpTag tag : tags) {
    if (tag.epoch == epoch_) broken_ = true;
    auto it = ops_.find(tag);
    if (it == ops_.end()) continue;
    aborted.push_back(std::move(it->second));
    ops_.erase(it);
  }
  std::string names;
  for (PeerId p : lost) {
    if (!names.empty()) names.push_back(',');
    names.append(std::to_string(p.value));
  }
  // Restore every buffer and tell the others before any callback runs: a
  // callback may retry at once.
  for (auto& op : aborted) {
    op->Restore();
    if (!tell_others) continue;
    for (PeerId p : op->params().members) {
      if (p != self_ && std::find(lost.begin(), lost.end(), p) == lost.end()) {
        host.Send(p, EncodeAbort(op->params().tag, lost));
      }
    }
  }
  for (auto& op : aborted) {
    KeepSpareBackup(op->TakeBackup());
    Count(host, "aborted");
    OpCallback done = op->TakeCallback();
    done(host, Status::PeerLost("collective: operation ", op->params().tag.seq, " of epoch ",
                                op->params().tag.epoch, " aborted on peer ", self_,
                                ": lost peer(s) [", names, "]", names.empty() ? " (timeout)" : ""));
  }
  if (!aborted.empty() && agreeing_ && ops_.empty()) MaybeDecide(host);
}

void CollectiveGroup::OnPeerDown(Host& host, PeerId peer) {
  if (peer == self_) return;
  if (agreeing_ || joining_) {
    if (view_.MarkDead(peer)) {
      SendView(host);
      MaybeDecide(host);
    }
  }
  if (std::binary_search(members_.begin(), members_.end(), peer)) {
    broken_ = true;
    (void)view_.MarkDead(peer);
  }
  // An operation that already has the lost peer's Done keeps going: the
  // peer sent everything it owed before its Done, and those messages come
  // before the loss is noticed, so every survivor can still commit it.
  std::vector<OpTag> affected;
  for (const auto& [tag, op] : ops_) {
    const auto& m = op->params().members;
    if (std::binary_search(m.begin(), m.end(), peer) && !op->HasDoneFrom(peer)) {
      affected.push_back(tag);
    }
  }
  const PeerId lost[] = {peer};
  AbortOps(host, affected, lost, /*tell_others=*/true);
}

bool CollectiveGroup::OnTimer(Host& host, TimerId timer) {
  auto it = timers_.find(timer);
  if (it == timers_.end()) return false;
  const TimerPurpose purpose = it->second.first;
  timers_.erase(it);
  switch (purpose) {
    case TimerPurpose::kOp:
      OnOpTimer(host);
      break;
    case TimerPurpose::kAgreement:
      OnAgreementTimer(host);
      break;
    case TimerPurpose::kJoin:
      SendJoins(host);
      break;
  }
  return true;
}

void CollectiveGroup::ArmOpWatchdog(Host& host, Duration after) {
  // One watchdog for all operations, not a timer each: thousands of small
  // all-reduces a second would otherwise leave as many timers pending.
  if (op_watchdog_armed_) return;
  op_watchdog_armed_ = true;
  timers_[host.StartTimer(after)] = {TimerPurpose::kOp, OpTag{}};
}

void CollectiveGroup::OnOpTimer(Host& host) {
  op_watchdog_armed_ = false;
  std::vector<OpTag> idle_ops;
  Duration next = options_.timeout;
  for (const auto& [tag, op] : ops_) {
    const Duration idle = host.now() - op->last_progress;
    if (idle >= options_.timeout) {
      idle_ops.push_back(tag);
    } else {
      next = std::min(next, options_.timeout - idle);
    }
  }
  if (ops_.size() > idle_ops.size()) ArmOpWatchdog(host, next);
  if (idle_ops.empty()) return;
  // Nobody is marked dead on a timeout: the peer waited for may itself be
  // waiting on the lost one. The agreement that follows finds out who is
  // silent, by direct exchange.
  Count(host, "timeouts", static_cast<int64_t>(idle_ops.size()));
  AbortOps(host, idle_ops, {}, /*tell_others=*/true);
}

}  // namespace murmur::collective
