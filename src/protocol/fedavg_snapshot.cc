// FedAvgServer and FedAvgClient Save / Restore (fedavg.h): the plain
// configuration, a robust rule (the round's replies) and a server optimizer
// (its moments); compressed and [privacy] runs and Python rules keep state
// these do not save (CanSnapshot is false for them).
#include "murmur/protocol/fedavg.h"

namespace murmur {
namespace {

std::set<PeerId> RestorePeerSet(SnapshotReader& in, const char* field) {
  const std::vector<PeerId> peers = in.Peers(field);
  return {peers.begin(), peers.end()};
}

}  // namespace

bool FedAvgServer::CanSnapshot() const {
  return !options_.compression.enabled() && (combiner_ == nullptr || combiner_->CanSnapshot()) &&
         options_.dp.mode == privacy::DpMode::kNone;
}

void FedAvgServer::Save(SnapshotWriter& out) const {
  out.Floats(global_);
  out.I64(round_);
  out.Bool(done_);
  out.U64(timeout_timer_.value);
  for (const std::set<PeerId>* peers : {&selected_, &replied_, &down_}) out.Peers(*peers);
  out.Doubles(sum_);
  out.F64(total_weight_);
  out.F64(clip_);
  out.I64(within_clip_);
  // The replace optimizer keeps no state; the config, hashed into the
  // snapshot, says whether this part is there.
  if (options_.server_optimizer.kind != ServerOptimizerKind::kReplace) server_optimizer_.Save(out);
  // With a robust rule the round's replies wait for it (AddReply); the
  // config, hashed into the snapshot, says whether this part is there.
  if (combiner_ == nullptr) return;
  out.U64(replies_.size());
  for (const std::vector<float>& reply : replies_) out.Floats(reply);
  out.Doubles(reply_weights_);
}

Status FedAvgServer::Restore(SnapshotReader& in) {
  const size_t size = global_.size();
  in.FloatsInto("fedavg.global", global_);
  round_ = in.I64("fedavg.round");
  done_ = in.Bool("fedavg.done");
  timeout_timer_ = TimerId(in.U64("fedavg.timeout_timer"));
  selected_ = RestorePeerSet(in, "fedavg.selected");
  replied_ = RestorePeerSet(in, "fedavg.replied");
  down_ = RestorePeerSet(in, "fedavg.down");
  sum_ = in.Doubles("fedavg.sum");
  total_weight_ = in.F64("fedavg.total_weight");
  clip_ = in.F64("fedavg.clip");
  within_clip_ = in.I64("fedavg.within_clip");
  if (options_.server_optimizer.kind != ServerOptimizerKind::kReplace) {
    server_optimizer_.Restore(in, size);
  }
  replies_.clear();
  reply_weights_.clear();
  if (combiner_ != nullptr) {
    // At most one reply per selected client (OnMessage drops repeats).
    const uint64_t replies = in.CountAtMost("fedavg.replies", clients_.size(), 8);
    for (uint64_t i = 0; i < replies && in.ok(); ++i) {
      replies_.push_back(in.Floats("fedavg.reply"));
      if (in.ok() && replies_.back().size() != size) {
        in.Fail(Status::Corrupt("snapshot: a FedAvg reply has ", replies_.back().size(),
                                " floats, expected ", size));
      }
    }
    reply_weights_ = in.Doubles("fedavg.reply_weights");
    if (in.ok() && reply_weights_.size() != replies_.size()) {
      in.Fail(Status::Corrupt("snapshot: ", reply_weights_.size(), " FedAvg reply weights for ",
                              replies_.size(), " replies"));
    }
  }
  MURMUR_RETURN_IF_ERROR(in.status());
  if ((!sum_.empty() && sum_.size() != size) || round_ < 0 || round_ > options_.rounds) {
    return Status::Corrupt("snapshot: FedAvg server round ", round_, " or sum does not fit");
  }
  return Status::Ok();
}

bool FedAvgClient::CanSnapshot() const {
  return !options_.compression.enabled() && options_.dp.mode == privacy::DpMode::kNone;
}

void FedAvgClient::Save(SnapshotWriter& out) const {
  out.Bool(training_);
  out.F64(last_loss_);
  out.I64(steps_);
  out.I64(started_.ns);
  out.F64(seconds_per_step_);
  out.Floats(pending_global_);
  out.U32(pending_round_.value);
  out.U32(training_round_.value);
}

Status FedAvgClient::Restore(SnapshotReader& in) {
  training_ = in.Bool("fedavg_client.training");
  last_loss_ = in.F64("fedavg_client.last_loss");
  steps_ = in.I64("fedavg_client.steps");
  started_ = SimTime{in.I64("fedavg_client.started")};
  seconds_per_step_ = in.F64("fedavg_client.seconds_per_step");
  pending_global_ = in.Floats("fedavg_client.pending_global");
  pending_round_ = Round(in.U32("fedavg_client.pending_round"));
  training_round_ = Round(in.U32("fedavg_client.training_round"));
  MURMUR_RETURN_IF_ERROR(in.status());
  if (!pending_global_.empty() && pending_global_.size() != learner_.params().size()) {
    return Status::Corrupt("snapshot: a pending FedAvg global model has ", pending_global_.size(),
                           " floats");
  }
  return Status::Ok();
}

}  // namespace murmur
