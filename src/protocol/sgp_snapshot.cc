// SgpNode::Save and Restore (sgp.h): the push-sum state a learner does not
// hold (the numerator x and weight w), the shares buffered with their
// weights, and the peers down that get no share.
#include <cmath>

#include "murmur/core/snapshot.h"
#include "murmur/protocol/sgp.h"

namespace murmur {
namespace {

// A share's weight as a sender may send it (SgpNode::OnMessage).
bool ValidWeight(double w) { return std::isfinite(w) && w > 0; }

}  // namespace

void SgpNode::Save(SnapshotWriter& out) const {
  out.U8(static_cast<uint8_t>(phase_));
  out.U32(round_.value);
  out.F64(last_loss_);
  out.Floats(x_);
  out.F64(w_);
  barrier_.Save(out);
  out.U64(weights_.size());
  for (const auto& [round, by_peer] : weights_) {
    out.U32(round.value);
    out.U64(by_peer.size());
    for (const auto& [peer, w] : by_peer) {
      out.U32(peer.value);
      out.F64(w);
    }
  }
  out.U64(ahead_weights_.size());
  for (const auto& [peer, kept] : ahead_weights_) {
    out.U32(peer.value);
    out.U32(kept.first.value);
    out.F64(kept.second);
  }
  out.Peers(down_);
}

Status SgpNode::Restore(SnapshotReader& in) {
  const uint8_t phase = in.U8("sgp.phase");
  round_ = Round(in.U32("sgp.round"));
  last_loss_ = in.F64("sgp.last_loss");
  x_ = in.Floats("sgp.numerator");
  w_ = in.F64("sgp.weight");
  if (in.ok() && (x_.size() != learner_.params().size() || !ValidWeight(w_))) {
    in.Fail(Status::Corrupt("snapshot: SGP numerator of ", x_.size(), " floats (expected ",
                            learner_.params().size(), ") and weight ", w_));
  }
  // The schedule names the in-peers of rounds in 1..rounds only.
  if (in.ok() && round_.value > options_.rounds) {
    in.Fail(Status::Corrupt("snapshot: SGP round ", round_.value, " after the run's last (",
                            options_.rounds, ")"));
  }
  if (in.ok()) barrier_.Restore(in, x_.size());
  // Weights only of rounds still to mix, and of peers of the run (a bound
  // on what a snapshot can make this node hold).
  const auto bad_entry = [&](Round round, PeerId peer, double w) {
    return round <= round_ || round.value > options_.rounds || peer.value >= options_.num_peers ||
           !ValidWeight(w);
  };
  weights_.clear();
  const uint64_t rounds = in.Count("sgp.weight_rounds", 12);
  for (uint64_t r = 0; in.ok() && r < rounds; ++r) {
    const Round round(in.U32("sgp.weight_round"));
    const uint64_t peers = in.Count("sgp.weight_peers", 12);
    for (uint64_t p = 0; in.ok() && p < peers; ++p) {
      const PeerId peer(in.U32("sgp.weight_peer"));
      const double w = in.F64("sgp.share_weight");
      if (in.ok() && (bad_entry(round, peer, w) || !weights_[round].emplace(peer, w).second)) {
        in.Fail(Status::Corrupt("snapshot: SGP share weight ", w, " of peer ", peer.value,
                                " for round ", round.value, " at round ", round_.value));
      }
    }
  }
  ahead_weights_.clear();
  const uint64_t ahead = in.Count("sgp.ahead_weights", 16);
  for (uint64_t k = 0; in.ok() && k < ahead; ++k) {
    const PeerId peer(in.U32("sgp.ahead_peer"));
    const Round round(in.U32("sgp.ahead_round"));
    const double w = in.F64("sgp.ahead_weight");
    if (in.ok() &&
        (bad_entry(round, peer, w) || !ahead_weights_.try_emplace(peer, round, w).second)) {
      in.Fail(Status::Corrupt("snapshot: SGP kept share weight ", w, " of peer ", peer.value,
                              " for round ", round.value, " at round ", round_.value));
    }
  }
  down_.clear();
  for (PeerId peer : in.Peers("sgp.peers_down")) {
    if (in.ok() && (peer.value >= options_.num_peers || !down_.insert(peer).second)) {
      in.Fail(Status::Corrupt("snapshot: SGP peer down ", peer.value, " of ",
                              options_.num_peers, " peers, or twice"));
    }
  }
  MURMUR_RETURN_IF_ERROR(in.status());
  // The barrier collects the round after the last one mixed.
  if (phase > static_cast<uint8_t>(Phase::kDone) || barrier_.open_round() != NextRound(round_)) {
    return Status::Corrupt("snapshot: SGP phase ", int{phase}, " round ", round_.value,
                           " collecting round ", barrier_.open_round().value);
  }
  phase_ = static_cast<Phase>(phase);
  restored_ = true;
  return Status::Ok();
}

}  // namespace murmur
