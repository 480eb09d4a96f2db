// EvalCollector::Save and Restore (eval_collector.h).
#include "murmur/experiment/eval_collector.h"

namespace murmur {
namespace {

constexpr uint32_t kCollectorSection = 0x4c4c4f43;  // "COLL"

void SaveOptional(SnapshotWriter& out, const std::optional<uint64_t>& v) {
  out.Bool(v.has_value());
  out.U64(v.value_or(0));
}

std::optional<uint64_t> RestoreOptional(SnapshotReader& in, const char* field) {
  const bool has = in.Bool(field);
  const uint64_t v = in.U64(field);
  return has ? std::optional<uint64_t>(v) : std::nullopt;
}

void SaveRow(SnapshotWriter& out, const EvalRow& r) {
  out.I64(r.round);
  for (double v : {r.time_s, r.acc_mean, r.acc_min, r.acc_max, r.loss_mean, r.train_loss,
                   r.consensus_dist}) {
    out.F64(v);
  }
  for (uint64_t v : {r.bytes_sent, r.msgs_sent, r.bytes_received, r.max_peer_bytes}) out.U64(v);
  out.I64(r.peers_evaluated);
  SaveOptional(out, r.bytes_up);
  SaveOptional(out, r.bytes_down);
  out.U64(r.stage_bytes.size());
  for (const auto& [name, bytes] : r.stage_bytes) {
    out.String(name);
    out.U64(bytes);
  }
  out.Bool(r.epsilon.has_value());
  out.F64(r.epsilon.value_or(0));
}

EvalRow RestoreRow(SnapshotReader& in) {
  EvalRow r;
  r.round = in.I64("row.round");
  for (double* v : {&r.time_s, &r.acc_mean, &r.acc_min, &r.acc_max, &r.loss_mean, &r.train_loss,
                    &r.consensus_dist}) {
    *v = in.F64("row");
  }
  for (uint64_t* v : {&r.bytes_sent, &r.msgs_sent, &r.bytes_received, &r.max_peer_bytes}) {
    *v = in.U64("row");
  }
  r.peers_evaluated = in.I64("row.peers_evaluated");
  r.bytes_up = RestoreOptional(in, "row.bytes_up");
  r.bytes_down = RestoreOptional(in, "row.bytes_down");
  const uint64_t stages = in.Count("row.stage_bytes", 16);
  for (uint64_t i = 0; i < stages && in.ok(); ++i) {
    std::string name = in.String("row.stage_name");
    r.stage_bytes[std::move(name)] = in.U64("row.stage_bytes");
  }
  const bool has_epsilon = in.Bool("row.epsilon");
  const double epsilon = in.F64("row.epsilon");
  if (has_epsilon) r.epsilon = epsilon;
  return r;
}

}  // namespace

void EvalCollector::Save(SnapshotWriter& out) const {
  out.Section(kCollectorSection);
  out.I64(max_round_);
  out.U64(counters_.size());
  for (const auto& [name, count] : counters_) {
    out.String(name);
    out.I64(count);
  }
  out.U64(pending_.size());
  for (const auto& [round, pending] : pending_) {
    out.I64(round);
    out.I64(pending.last_report.ns);
    out.U64(pending.models.size());
    for (const auto& [peer, params] : pending.models) {
      out.U32(peer);
      out.Floats(params);
    }
  }
  out.U64(losses_.size());
  for (const auto& [round, loss] : losses_) {
    out.I64(round);
    out.F64(loss.sum);
    out.I64(loss.count);
  }
  out.U64(rows_.size());
  for (const EvalRow& row : rows_) SaveRow(out, row);
  out.Bool(finished_);
  out.U8(static_cast<uint8_t>(ended_by_));
  out.Bool(final_round_.has_value());
  out.I64(final_round_.value_or(0));
  out.U8(static_cast<uint8_t>(final_reason_));
  out.Bool(target_reached_.has_value());
  const TargetReached target = target_reached_.value_or(TargetReached{});
  out.I64(target.round);
  out.F64(target.time_s);
  out.U64(target.bytes_sent);
}

Status EvalCollector::Restore(SnapshotReader& in) {
  in.Section(kCollectorSection, "evaluation collector");
  max_round_ = in.I64("collector.max_round");
  const uint64_t counters = in.Count("collector.counters", 16);
  for (uint64_t i = 0; i < counters && in.ok(); ++i) {
    std::string name = in.String("collector.counter_name");
    counters_[std::move(name)] = in.I64("collector.counter");
  }
  const auto num_params = static_cast<size_t>(model_.num_params());
  const uint64_t pending = in.Count("collector.pending", 24);
  for (uint64_t i = 0; i < pending && in.ok(); ++i) {
    Pending& p = pending_[in.I64("collector.pending_round")];
    p.last_report = SimTime{in.I64("collector.last_report")};
    const uint64_t models = in.Count("collector.models", 12);
    for (uint64_t j = 0; j < models && in.ok(); ++j) {
      const uint32_t peer = in.U32("collector.model_peer");
      std::vector<float> params = in.Floats("collector.model");
      if (in.ok() && (params.size() != num_params || peer >= is_evaluated_.size())) {
        in.Fail(Status::Corrupt("snapshot: a reported model does not fit this run"));
      }
      p.models[peer] = std::move(params);
    }
  }
  const uint64_t losses = in.Count("collector.losses", 24);
  for (uint64_t i = 0; i < losses && in.ok(); ++i) {
    LossSum& loss = losses_[in.I64("collector.loss_round")];
    loss.sum = in.F64("collector.loss_sum");
    loss.count = in.I64("collector.loss_count");
  }
  const uint64_t rows = in.Count("collector.rows", 100);
  for (uint64_t i = 0; i < rows && in.ok(); ++i) rows_.push_back(RestoreRow(in));
  finished_ = in.Bool("collector.finished");
  const uint8_t ended_by = in.U8("collector.ended_by");
  const bool has_final = in.Bool("collector.final_round");
  const int64_t final_round = in.I64("collector.final_round");
  const uint8_t final_reason = in.U8("collector.final_reason");
  const bool has_target = in.Bool("collector.target_reached");
  TargetReached target{.round = in.I64("collector.target_round"),
                       .time_s = in.F64("collector.target_time"),
                       .bytes_sent = in.U64("collector.target_bytes")};
  MURMUR_RETURN_IF_ERROR(in.status());
  constexpr auto kLast = static_cast<uint8_t>(RunEnd::kByteBudget);
  if (ended_by > kLast || final_reason > kLast) {
    return Status::Corrupt("snapshot: unknown run ending ", int{ended_by});
  }
  ended_by_ = static_cast<RunEnd>(ended_by);
  final_reason_ = static_cast<RunEnd>(final_reason);
  if (has_final) final_round_ = final_round;
  if (has_target) target_reached_ = target;
  return Status::Ok();
}

}  // namespace murmur
