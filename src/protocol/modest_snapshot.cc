// ModestNode::Save and Restore (modest.h). Restore checks every value a
// handler later indexes or loops with (peer ids, model sizes, rounds, timer
// kinds, the self-delivery queue against its timers), so a corrupt snapshot
// is refused with kCorrupt instead of crashing a later event.
#include <algorithm>

#include "murmur/protocol/modest.h"

namespace murmur {
namespace {

constexpr uint8_t kLastTimerKind = 6;  // TimerKind::kStall

void SaveModel(SnapshotWriter& out, std::span<const float> model) { out.Floats(model); }

// A model this node keeps: empty (none) or `dim` floats.
std::vector<float> RestoreModel(SnapshotReader& in, const char* field, size_t dim) {
  std::vector<float> model = in.Floats(field);
  if (in.ok() && !model.empty() && model.size() != dim) {
    in.Fail(Status::Corrupt("snapshot: MoDeST ", field, " has ", model.size(),
                            " floats, the model ", dim));
  }
  return model;
}

// A round in [min, rounds].
int64_t RestoreRound(SnapshotReader& in, const char* field, int64_t min, int64_t rounds) {
  const int64_t round = in.I64(field);
  if (in.ok() && (round < min || round > rounds)) {
    in.Fail(Status::Corrupt("snapshot: MoDeST ", field, " = ", round, " outside [", min, ", ",
                            rounds, "]"));
  }
  return round;
}

// Peer ids below `num_peers`.
std::vector<PeerId> RestorePeers(SnapshotReader& in, const char* field, int64_t num_peers) {
  std::vector<PeerId> peers = in.Peers(field);
  for (PeerId p : peers) {
    if (in.ok() && p.value >= num_peers) {
      in.Fail(Status::Corrupt("snapshot: MoDeST ", field, " names peer ", p.value, " of ",
                              num_peers));
    }
  }
  return peers;
}

std::set<PeerId> RestorePeerSet(SnapshotReader& in, const char* field, int64_t num_peers) {
  const std::vector<PeerId> peers = RestorePeers(in, field, num_peers);
  return std::set<PeerId>(peers.begin(), peers.end());
}

}  // namespace

void ModestNode::SaveSelection(SnapshotWriter& out, const Selection* selection) {
  out.Bool(selection != nullptr);
  if (selection == nullptr) return;
  out.I64(selection->round);
  out.U8(static_cast<uint8_t>(selection->role));
  out.I64(selection->wanted);
  out.Peers(selection->order);
  out.U64(selection->next);
  out.Peers(selection->awaiting);
  out.Peers(selection->confirmed);
  out.Bytes(selection->payload);
}

std::unique_ptr<ModestNode::Selection> ModestNode::RestoreSelection(SnapshotReader& in) const {
  if (!in.Bool("modest.selection")) return nullptr;
  auto s = std::make_unique<Selection>();
  const int64_t n = options_.num_peers;
  s->round = RestoreRound(in, "selection.round", 1, options_.rounds);
  const uint8_t role = in.U8("selection.role");
  s->wanted = in.I64("selection.wanted");
  s->order = RestorePeers(in, "selection.order", n);
  s->next = in.U64("selection.next");
  s->awaiting = RestorePeerSet(in, "selection.awaiting", n);
  s->confirmed = RestorePeers(in, "selection.confirmed", n);
  s->payload = in.Bytes("selection.payload");
  if (in.ok() && (role > static_cast<uint8_t>(ModestRole::kAggregator) || s->wanted < 0 ||
                  s->wanted > n || s->next > s->order.size())) {
    in.Fail(Status::Corrupt("snapshot: MoDeST selection role ", int{role}, " wanted ", s->wanted,
                            " next ", s->next, " of ", s->order.size()));
  }
  s->role = static_cast<ModestRole>(role);
  return s;
}

void ModestNode::Save(SnapshotWriter& out) const {
  out.U64(members_.size());
  for (const Member& m : members_) {
    out.U32(m.incarnation);
    out.Bool(m.alive);
  }
  out.U64(timers_.size());
  for (const auto& [id, timer] : timers_) {
    out.U64(id);
    out.U8(static_cast<uint8_t>(timer.first));
    out.I64(timer.second);
  }
  out.U64(self_inbox_.size());
  for (const std::vector<uint8_t>& bytes : self_inbox_) out.Bytes(bytes);

  out.Bool(training_);
  out.I64(train_round_);
  out.I64(pending_round_);
  SaveModel(out, pending_model_);
  out.F64(last_loss_);
  SaveSelection(out, to_aggregators_.get());
  SaveModel(out, trained_);
  out.I64(unacked_round_);
  out.U64(global_senders_.size());
  for (const auto& [round, senders] : global_senders_) {
    out.I64(round);
    out.Peers(senders);
  }

  out.U64(aggregations_.size());
  for (const auto& [round, aggregation] : aggregations_) {
    out.I64(round);
    out.Doubles(aggregation.sum);
    out.Peers(aggregation.from);
  }
  out.I64(closed_up_to_);
  SaveSelection(out, to_trainers_.get());
  out.I64(awaiting_progress_);

  out.I64(heard_round_);
  out.I64(heard_at_.ns);
  out.Bool(stall_armed_);
  out.Bool(run_done_);
  SaveModel(out, last_average_);
  out.I64(stall_restarts_);
  out.I64s(trained_rounds_);
  out.I64s(aggregated_rounds_);
}

Status ModestNode::Restore(SnapshotReader& in) {
  const int64_t n = options_.num_peers;
  const int64_t rounds = options_.rounds;
  const size_t dim = learner_.params().size();
  const uint64_t members = in.U64("modest.members");
  if (in.ok() && members != members_.size()) {
    return Status::Corrupt("snapshot: MoDeST membership of ", members, " peers, this run has ",
                           members_.size());
  }
  for (Member& m : members_) {
    m.incarnation = in.U32("modest.incarnation");
    m.alive = in.Bool("modest.alive");
  }
  timers_.clear();
  size_t self_deliveries = 0;
  const uint64_t timers = in.Count("modest.timers", 17);
  for (uint64_t i = 0; i < timers && in.ok(); ++i) {
    const uint64_t id = in.U64("modest.timer_id");
    const uint8_t kind = in.U8("modest.timer_kind");
    const auto timer_kind = static_cast<TimerKind>(kind);
    // Every timer but self-delivery and stall names the round it acts on.
    const bool has_round = timer_kind != TimerKind::kSelfDelivery &&
                           timer_kind != TimerKind::kStall;
    const int64_t round = RestoreRound(in, "modest.timer_round", has_round ? 1 : 0, rounds);
    if (in.ok() && kind > kLastTimerKind) {
      in.Fail(Status::Corrupt("snapshot: MoDeST timer kind ", int{kind}));
    }
    if (in.ok() && !timers_.try_emplace(id, timer_kind, round).second) {
      in.Fail(Status::Corrupt("snapshot: MoDeST timer id ", id, " twice"));
    }
    if (timer_kind == TimerKind::kSelfDelivery) ++self_deliveries;
  }
  self_inbox_.clear();
  const uint64_t inbox = in.Count("modest.self_inbox", 8);
  for (uint64_t i = 0; i < inbox && in.ok(); ++i) {
    self_inbox_.push_back(in.Bytes("modest.self_message"));
  }
  // Each self-delivery timer pops one message (OnTimer).
  if (in.ok() && self_deliveries != self_inbox_.size()) {
    in.Fail(Status::Corrupt("snapshot: MoDeST ", self_deliveries, " self-delivery timers for ",
                            self_inbox_.size(), " messages"));
  }

  training_ = in.Bool("modest.training");
  train_round_ = RestoreRound(in, "modest.train_round", 0, rounds);
  pending_round_ = RestoreRound(in, "modest.pending_round", 0, rounds);
  pending_model_ = RestoreModel(in, "modest.pending_model", dim);
  last_loss_ = in.F64("modest.last_loss");
  to_aggregators_ = RestoreSelection(in);
  trained_ = RestoreModel(in, "modest.trained", dim);
  unacked_round_ = RestoreRound(in, "modest.unacked_round", 0, rounds);
  global_senders_.clear();
  const uint64_t globals = in.Count("modest.global_senders", 16);
  for (uint64_t i = 0; i < globals && in.ok(); ++i) {
    const int64_t round = RestoreRound(in, "modest.global_round", 1, rounds);
    global_senders_[round] = RestorePeerSet(in, "modest.global_sender", n);
  }

  aggregations_.clear();
  const uint64_t aggregations = in.Count("modest.aggregations", 24);
  for (uint64_t i = 0; i < aggregations && in.ok(); ++i) {
    const int64_t round = RestoreRound(in, "modest.aggregation_round", 1, rounds);
    Aggregation& aggregation = aggregations_[round];
    aggregation.sum = in.Doubles("modest.aggregation_sum");
    aggregation.from = RestorePeerSet(in, "modest.aggregation_from", n);
    // OnTrained adds `dim` floats to the sum; Close divides by the senders.
    if (in.ok() && (aggregation.sum.size() != dim || aggregation.from.empty())) {
      in.Fail(Status::Corrupt("snapshot: MoDeST aggregation of round ", round, " sums ",
                              aggregation.sum.size(), " values from ", aggregation.from.size(),
                              " peers"));
    }
  }
  closed_up_to_ = RestoreRound(in, "modest.closed_up_to", 0, rounds);
  to_trainers_ = RestoreSelection(in);
  awaiting_progress_ = RestoreRound(in, "modest.awaiting_progress", 0, rounds);

  heard_round_ = RestoreRound(in, "modest.heard_round", 0, rounds);
  heard_at_ = SimTime{in.I64("modest.heard_at")};
  stall_armed_ = in.Bool("modest.stall_armed");
  run_done_ = in.Bool("modest.run_done");
  last_average_ = RestoreModel(in, "modest.last_average", dim);
  stall_restarts_ = in.I64("modest.stall_restarts");
  trained_rounds_ = in.I64s("modest.trained_rounds");
  aggregated_rounds_ = in.I64s("modest.aggregated_rounds");
  MURMUR_RETURN_IF_ERROR(in.status());
  return CheckRestored();
}

Status ModestNode::CheckRestored() const {
  if (heard_at_.ns < 0 || heard_at_.ns > Duration::kMaxNanos) {
    return Status::Corrupt("snapshot: MoDeST heard_at ", heard_at_.ns, " ns out of range");
  }
  // StartTraining copies a pending model over the parameters.
  if (pending_round_ != 0 && pending_model_.empty()) {
    return Status::Corrupt("snapshot: MoDeST pending round ", pending_round_, " without a model");
  }
  if (stall_restarts_ < 0) {
    return Status::Corrupt("snapshot: MoDeST stall restarts ", stall_restarts_);
  }
  return Status::Ok();
}

}  // namespace murmur
