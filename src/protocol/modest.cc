#include "murmur/protocol/modest.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "murmur/core/bytes.h"
#include "murmur/protocol/modest_message.h"
#include "murmur/protocol/train_task.h"

namespace murmur {
namespace {

using Type = ModestMessageType;

uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// How long a peer that holds no round waits to hear of a newer round before
// it restarts the run: longer than the ack (2x) and progress (3x) waits, so
// that the peers holding a round recover it first when any of them is alive.
Duration StallTimeout(const ModestOptions& options) {
  return Duration::Nanos(4 * options.round_timeout.ns);
}

}  // namespace

std::vector<PeerId> ModestCandidates(uint64_t seed, int64_t round, ModestRole role,
                                     std::span<const PeerId> view) {
  MURMUR_CHECK(round >= 1 && round < (int64_t{1} << 22));
  // Step 0 of (seed, peer, kProtocol) is the peer's own protocol stream;
  // ranks use steps from 1 on.
  const uint64_t step = 1 + static_cast<uint64_t>(round) * 2 + static_cast<uint64_t>(role);
  std::vector<std::pair<uint64_t, PeerId>> ranked;
  ranked.reserve(view.size());
  for (PeerId peer : view) {
    ranked.emplace_back(Rng::ForStep(seed, peer, RngPurpose::kProtocol, step).NextU64(), peer);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<PeerId> out;
  out.reserve(ranked.size());
  for (const auto& [rank, peer] : ranked) out.push_back(peer);
  return out;
}

ModestNode::ModestNode(Learner& learner, const ModestOptions& options)
    : learner_(learner),
      options_(options),
      members_(static_cast<size_t>(options.num_peers)) {
  MURMUR_CHECK(options_.num_peers >= 1 && options_.trainers >= 1 && options_.aggregators >= 1);
}

ModestNode::~ModestNode() = default;

std::vector<PeerId> ModestNode::View() const {
  std::vector<PeerId> view;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].alive) view.push_back(PeerOf(i));
  }
  return view;
}

std::vector<uint8_t> ModestNode::Frame(ModestMessageType type, int64_t round, ModestRole role,
                                       std::span<const float> params) const {
  // Piggyback every entry that differs from the initial "all alive".
  std::vector<ModestMembershipUpdate> updates;
  for (size_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    if (m.incarnation == 0 && m.alive) continue;
    updates.push_back({.peer = static_cast<uint32_t>(i), .incarnation = m.incarnation,
                       .alive = m.alive});
  }
  return EncodeModestFrame(type, round, role, updates, params);
}

void ModestNode::Send(Host& host, PeerId to, std::vector<uint8_t> bytes) {
  if (to == host.self()) {
    self_inbox_.push_back(std::move(bytes));
    timers_[host.StartTimer(Duration::Nanos(0)).value] = {TimerKind::kSelfDelivery, 0};
    return;
  }
  host.Send(to, std::move(bytes));
}

void ModestNode::MarkDead(PeerId peer) {
  // A peer that hears from nobody is more likely cut off itself than the
  // last one alive: it keeps enough others in its view to find its way back
  // instead of running rounds alone.
  const auto alive = static_cast<int64_t>(View().size());
  if (alive - 1 <= options_.aggregators) return;
  members_[peer.value].alive = false;
}

void ModestNode::MergeMembership(Host& host, PeerId from, std::span<const uint8_t> updates) {
  // A message is proof of life: a peer believed dead is back (a rejoin).
  Member& sender = members_[from.value];
  if (!sender.alive) {
    sender = Member{.incarnation = sender.incarnation + 1, .alive = true};
    host.metrics().Count("modest.rejoins", 1);
  }
  for (size_t off = 0; off < updates.size(); off += kModestUpdateBytes) {
    const uint32_t peer = LoadU32(updates.data() + off);
    const uint32_t incarnation = LoadU32(updates.data() + off + 4);
    const bool alive = updates[off + 8] != 0;
    Member& m = members_[peer];
    if (PeerId(peer) == host.self()) {
      // Refute a rumour of our own death with a newer incarnation.
      if (!alive && incarnation >= m.incarnation) m.incarnation = incarnation + 1;
      continue;
    }
    if (PeerId(peer) == from) continue;  // direct evidence above wins
    if (incarnation > m.incarnation || (incarnation == m.incarnation && !alive && m.alive)) {
      m = Member{.incarnation = incarnation, .alive = alive};
    }
  }
}

void ModestNode::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), learner_.params());
  if (options_.rounds <= 0) return;
  heard_at_ = host.now();
  ArmStall(host, StallTimeout(options_));
  const std::vector<PeerId> view = View();
  const std::vector<PeerId> order = ModestCandidates(options_.seed, 1, ModestRole::kTrainer, view);
  const auto s = std::min<size_t>(static_cast<size_t>(options_.trainers), order.size());
  if (std::find(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(s), host.self()) !=
      order.begin() + static_cast<std::ptrdiff_t>(s)) {
    StartTraining(host, 1, learner_.params());
  }
}

void ModestNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (from.value >= members_.size()) {
    host.ReportBadPeer(from, Status::InvalidArgument("MoDeST: message from unknown peer ", from));
    return;
  }
  Dispatch(host, from, bytes);
}

void ModestNode::Dispatch(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  Result<ModestFrame> frame =
      DecodeModestFrame(bytes, options_.num_peers, learner_.params().size());
  if (!frame.ok()) {
    host.ReportBadPeer(from, frame.status());
    return;
  }
  if (frame->round > options_.rounds) {
    host.ReportBadPeer(from, Status::Corrupt("MoDeST: message for round ", frame->round,
                                             " of a ", options_.rounds, "-round run"));
    return;
  }
  MergeMembership(host, from, frame->updates);
  Heard(host, frame->round);
  switch (frame->type) {
    case Type::kPing:
      Send(host, from, Frame(Type::kPong, frame->round, frame->role, {}));
      break;
    case Type::kPong:
      OnPong(host, from, frame->round, frame->role);
      break;
    case Type::kTrained:
      OnTrained(host, from, frame->round, std::move(frame->params));
      break;
    case Type::kGlobal:
      OnGlobal(host, from, frame->round, std::move(frame->params));
      break;
    case Type::kAck:
      if (frame->round >= options_.rounds) run_done_ = true;
      OnAck(host, frame->round);
      break;
    case Type::kProgress:
      // Progress for a later round (a trainer already past ours) ends the
      // wait too.
      if (awaiting_progress_ != 0 && frame->round >= awaiting_progress_) awaiting_progress_ = 0;
      break;
  }
}

void ModestNode::StartSelection(Host& host, std::unique_ptr<Selection>& slot, int64_t round,
                                ModestRole role, int64_t wanted, std::vector<uint8_t> payload) {
  slot = std::make_unique<Selection>();
  slot->round = round;
  slot->role = role;
  slot->wanted = wanted;
  slot->order = ModestCandidates(options_.seed, round, role, View());
  slot->payload = std::move(payload);
  PingMore(host, *slot);
}

void ModestNode::PingMore(Host& host, Selection& selection) {
  while (static_cast<int64_t>(selection.confirmed.size() + selection.awaiting.size()) <
             selection.wanted &&
         selection.next < selection.order.size()) {
    const PeerId candidate = selection.order[selection.next++];
    if (!members_[candidate.value].alive) continue;
    if (candidate == host.self()) {
      selection.confirmed.push_back(candidate);
      Send(host, candidate, selection.payload);
      continue;
    }
    selection.awaiting.insert(candidate);
    Send(host, candidate,
         Frame(Type::kPing, selection.round, selection.role, {}));
  }
  if (!selection.awaiting.empty()) {
    const TimerKind kind = selection.role == ModestRole::kAggregator
                               ? TimerKind::kPingAggregators
                               : TimerKind::kPingTrainers;
    timers_[host.StartTimer(options_.ping_timeout).value] = {kind, selection.round};
  } else if (selection.confirmed.empty()) {
    host.metrics().Count("modest.selection_exhausted", 1);
  }
}

void ModestNode::OnPong(Host& host, PeerId from, int64_t round, ModestRole role) {
  Selection* selection =
      (role == ModestRole::kAggregator ? to_aggregators_ : to_trainers_).get();
  if (selection == nullptr || selection->round != round || !selection->awaiting.erase(from)) {
    return;  // a late pong: that selection moved on
  }
  if (static_cast<int64_t>(selection->confirmed.size()) < selection->wanted) {
    selection->confirmed.push_back(from);
    Send(host, from, selection->payload);
  }
}

void ModestNode::StartTraining(Host& host, int64_t round, std::span<const float> model) {
  std::span<float> x = learner_.params();
  if (model.data() != x.data()) std::copy(model.begin(), model.end(), x.begin());
  learner_.ResetOptimizer();
  training_ = true;
  train_round_ = round;
  Heard(host, round);
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_,
                            static_cast<uint64_t>(round)));
}

void ModestNode::OnComputeDone(Host& host, uint64_t tag) {
  const auto round = static_cast<int64_t>(tag);
  MURMUR_CHECK(training_ && round == train_round_);
  training_ = false;
  trained_rounds_.push_back(round);
  host.metrics().Count("modest.trainings", 1);
  host.metrics().ReportTrainLoss(RoundOf(round), last_loss_);
  std::span<const float> x = learner_.params();
  trained_.assign(x.begin(), x.end());
  unacked_round_ = round;
  StartSelection(host, to_aggregators_, round, ModestRole::kAggregator, options_.aggregators,
                 Frame(Type::kTrained, round, ModestRole::kTrainer, trained_));
  timers_[host.StartTimer(options_.round_timeout + options_.round_timeout).value] = {
      TimerKind::kAckWait, round};
  if (pending_round_ > round) {
    std::vector<float> model = std::move(pending_model_);
    const int64_t next = pending_round_;
    pending_model_.clear();
    pending_round_ = 0;
    StartTraining(host, next, model);
  }
}

void ModestNode::OnGlobal(Host& host, PeerId from, int64_t round, std::vector<float> params) {
  const bool done = !training_ && unacked_round_ != train_round_;  // train_round_ aggregated
  if (round < train_round_ || (round == train_round_ && done)) {
    // A restart (OnStall) from a peer with an older model: this trainer is
    // past `round`, so the sender may stop waiting for it.
    Send(host, from,
         Frame(Type::kProgress, done ? train_round_ : train_round_ - 1, ModestRole::kTrainer, {}));
    return;
  }
  global_senders_[round].insert(from);
  if (round <= train_round_ || round <= pending_round_) return;  // another aggregator's copy
  if (training_) {
    pending_round_ = round;
    pending_model_ = std::move(params);
    return;
  }
  StartTraining(host, round, params);
}

void ModestNode::OnAck(Host& host, int64_t round) {
  if (round != unacked_round_) return;
  unacked_round_ = 0;
  trained_.clear();
  auto it = global_senders_.find(round);
  if (it != global_senders_.end()) {
    for (PeerId sender : it->second) {
      Send(host, sender, Frame(Type::kProgress, round, ModestRole::kTrainer, {}));
    }
  }
  global_senders_.erase(global_senders_.begin(), global_senders_.upper_bound(round));
}

void ModestNode::OnTrained(Host& host, PeerId from, int64_t round, std::vector<float> params) {
  if (round <= closed_up_to_) {
    // Already aggregated (or the run moved past it): the trainer may stop
    // resending.
    Send(host, from, Frame(Type::kAck, round, ModestRole::kTrainer, {}));
    return;
  }
  Aggregation& aggregation = aggregations_[round];
  if (!aggregation.from.insert(from).second) return;
  if (aggregation.sum.empty()) {
    aggregation.sum.assign(params.size(), 0.0);
    timers_[host.StartTimer(options_.round_timeout).value] = {TimerKind::kClose, round};
  }
  for (size_t i = 0; i < params.size(); ++i) aggregation.sum[i] += params[i];
  const auto alive = static_cast<double>(View().size());
  const double expected = std::min(static_cast<double>(options_.trainers), alive);
  const auto needed =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(options_.success_fraction * expected)));
  if (static_cast<int64_t>(aggregation.from.size()) >= needed) Close(host, round);
}

void ModestNode::Close(Host& host, int64_t round) {
  auto it = aggregations_.find(round);
  MURMUR_CHECK(it != aggregations_.end());
  Aggregation aggregation = std::move(it->second);
  // Older unfinished aggregations are stale now; their trainers get an ack
  // on their next resend.
  aggregations_.erase(aggregations_.begin(), std::next(it));
  closed_up_to_ = round;
  Heard(host, round);
  if (round >= options_.rounds) run_done_ = true;
  aggregated_rounds_.push_back(round);
  host.metrics().Count("modest.aggregations", 1);
  const auto count = static_cast<double>(aggregation.from.size());
  std::vector<float> average(aggregation.sum.size());
  for (size_t i = 0; i < average.size(); ++i) {
    average[i] = static_cast<float>(aggregation.sum[i] / count);
  }
  host.metrics().ReportModel(RoundOf(round), average);
  for (PeerId trainer : aggregation.from) {
    Send(host, trainer, Frame(Type::kAck, round, ModestRole::kTrainer, {}));
  }
  if (round >= options_.rounds) return;
  HandToTrainers(host, round + 1, average);
  last_average_ = std::move(average);
}

void ModestNode::HandToTrainers(Host& host, int64_t round, std::span<const float> model) {
  StartSelection(host, to_trainers_, round, ModestRole::kTrainer, options_.trainers,
                 Frame(Type::kGlobal, round, ModestRole::kTrainer, model));
  awaiting_progress_ = round;
  timers_[host.StartTimer(options_.round_timeout + options_.round_timeout +
                          options_.round_timeout)
              .value] = {TimerKind::kProgressWait, round};
}

void ModestNode::OnTimer(Host& host, TimerId timer) {
  auto found = timers_.find(timer.value);
  if (found == timers_.end()) return;
  const auto [kind, round] = found->second;
  timers_.erase(found);
  switch (kind) {
    case TimerKind::kSelfDelivery: {
      std::vector<uint8_t> bytes = std::move(self_inbox_.front());
      self_inbox_.erase(self_inbox_.begin());
      Dispatch(host, host.self(), bytes);
      break;
    }
    case TimerKind::kPingAggregators:
    case TimerKind::kPingTrainers: {
      Selection* selection =
          (kind == TimerKind::kPingAggregators ? to_aggregators_ : to_trainers_).get();
      if (selection == nullptr || selection->round != round) break;
      for (PeerId silent : selection->awaiting) MarkDead(silent);
      host.metrics().Count("modest.ping_timeouts", static_cast<int64_t>(selection->awaiting.size()));
      selection->awaiting.clear();
      PingMore(host, *selection);
      break;
    }
    case TimerKind::kAckWait:
      if (unacked_round_ != round) break;
      // The aggregators took the model and went silent: try others.
      if (to_aggregators_ && to_aggregators_->round == round) {
        for (PeerId p : to_aggregators_->confirmed) {
          if (p != host.self()) MarkDead(p);
        }
      }
      host.metrics().Count("modest.resends", 1);
      StartSelection(host, to_aggregators_, round, ModestRole::kAggregator, options_.aggregators,
                     Frame(Type::kTrained, round, ModestRole::kTrainer, trained_));
      timers_[host.StartTimer(options_.round_timeout + options_.round_timeout).value] = {
          TimerKind::kAckWait, round};
      break;
    case TimerKind::kClose:
      if (round > closed_up_to_ && aggregations_.count(round)) {
        host.metrics().Count("modest.partial_rounds", 1);
        Close(host, round);
      }
      break;
    case TimerKind::kStall:
      stall_armed_ = false;
      OnStall(host);
      break;
    case TimerKind::kProgressWait:
      if (awaiting_progress_ != round || !to_trainers_ || to_trainers_->round != round) break;
      // Every trainer we handed the model to went silent: hand it to others.
      for (PeerId p : to_trainers_->confirmed) {
        if (p != host.self()) MarkDead(p);
      }
      host.metrics().Count("modest.redistributions", 1);
      StartSelection(host, to_trainers_, round, ModestRole::kTrainer, options_.trainers,
                     std::move(to_trainers_->payload));
      timers_[host.StartTimer(options_.round_timeout + options_.round_timeout +
                              options_.round_timeout)
                  .value] = {TimerKind::kProgressWait, round};
      break;
  }
}

void ModestNode::Heard(Host& host, int64_t round) {
  if (round <= heard_round_) return;
  heard_round_ = round;
  heard_at_ = host.now();
}

void ModestNode::ArmStall(Host& host, Duration after) {
  if (stall_armed_ || run_done_) return;
  stall_armed_ = true;
  timers_[host.StartTimer(after).value] = {TimerKind::kStall, 0};
}

bool ModestNode::HoldsRound() const {
  // Each of these has its own timer that moves the round on.
  return training_ || unacked_round_ != 0 || awaiting_progress_ != 0 || !aggregations_.empty();
}

void ModestNode::OnStall(Host& host) {
  if (run_done_) return;
  const Duration stall = StallTimeout(options_);
  const SimTime due = heard_at_ + stall;
  if (host.now() < due) {  // heard of a newer round since the timer was set
    ArmStall(host, due - host.now());
    return;
  }
  if (HoldsRound()) {
    ArmStall(host, stall);
    return;
  }
  // Nobody told us of a newer round for a whole stall timeout and we hold
  // none: hand our newest model on as an aggregator of its round would. The
  // round number is the model's age, so peers with equally new models
  // restart the same round with the same sample, and a restart with an
  // older model than some trainer's ends at that trainer (OnGlobal).
  const bool average_is_newer = !last_average_.empty() && closed_up_to_ >= train_round_;
  const int64_t model_round = average_is_newer ? closed_up_to_ : train_round_;
  const int64_t round = std::min(model_round + 1, options_.rounds);
  host.metrics().Count("modest.stall_restarts", 1);
  ++stall_restarts_;
  const std::vector<float> model =
      average_is_newer ? last_average_
                       : std::vector<float>(learner_.params().begin(), learner_.params().end());
  Heard(host, round);
  heard_at_ = host.now();
  HandToTrainers(host, round, model);
  ArmStall(host, stall);
}

}  // namespace murmur
