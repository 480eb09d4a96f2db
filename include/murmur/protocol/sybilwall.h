// SybilWall's protocol part (Werthenbach, Pouwelse, 2023, "Towards Sybil
// Resilience in Decentralized Learning"): the update histories a peer keeps
// and the probabilistic gossip that spreads them, so a peer can tell that
// its neighbour resembles a peer it has never met. Used by DpsgdNode when
// robust.rule = "sybilwall"; the scoring and averaging are
// robust/sybilwall.h.
//
// Records. Per peer it knows of, a peer holds one record (origin, round,
// distance in hops, received_from, history):
//  * a neighbour's own record (distance 1) accumulates the neighbour's
//    updates as seen from here: the first model received, then each model
//    minus the previous one received from that neighbour (the reference
//    implementation's definition; the sum telescopes to the latest model
//    received, up to rounding). It is replaced by each new model and never
//    by gossip.
//  * a distant record arrives by gossip from neighbour `received_from` and
//    is stored one hop further than the sender had it. It replaces the
//    stored one when there is none, or when it is of a newer round and the
//    stored record is not a neighbour's own (distance > 1), as in the
//    reference code.
// A peer keeps no record of itself.
//
// Gossip. Each round, after sending its model, a peer sends each neighbour
// one record drawn among those it holds with weight
// lambda * exp(-lambda * (distance - 1)), leaving out the receiver's own
// record and the records it received from that receiver.
//
// What it does not defend: a Byzantine neighbour may gossip fabricated
// records (e.g. copies of an honest peer's history under other names) to
// make honest peers look alike; the paper leaves spoofing out of scope.
// Memory grows to one model-sized history per peer of the network.
//
// Not thread-safe; owned by one node.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/core/rng.h"
#include "murmur/core/snapshot.h"
#include "murmur/core/status.h"
#include "murmur/robust/sybilwall.h"

namespace murmur {

struct SybilWallRecord {
  PeerId origin;
  uint32_t round = 0;
  uint32_t distance = 0;   // 1: a neighbour's own record
  PeerId received_from;    // = origin for a neighbour's own record
  std::vector<float> history;
  // False once a neighbour's finite models summed to an overflow: such a
  // record is never gossiped (the receiver would reject it and blame us).
  bool finite = true;
};

class SybilWallHistory {
 public:
  // REQUIRES: lambda > 0.
  SybilWallHistory(PeerId self, double lambda) : self_(self), lambda_(lambda) {}

  // A neighbour's model of `round` arrived: its own record's history grows
  // by model - (the previous model received from it), or starts as the
  // model. REQUIRES: neighbour != self; every model of one size.
  void AddNeighbourModel(PeerId neighbour, uint32_t round, std::span<const float> model);

  // A record gossiped by neighbour `from`, with the sender's distance.
  // Returns whether it was stored (see the header comment); records of this
  // peer itself, and records already kSybilWallMaxDistance or more hops
  // away (one more hop would make them undecodable), are never stored.
  bool AddGossiped(PeerId from, PeerId origin, uint32_t round, uint32_t distance,
                   std::vector<float> history);

  // The probability that ChooseFor(receiver) picks each eligible record (not
  // the receiver's own, not received from it, finite, with a preference
  // that does not underflow to 0), by origin
  // (ascending); empty when none is eligible.
  std::vector<std::pair<PeerId, double>> SelectionProbabilities(PeerId receiver) const;
  // One record drawn with those probabilities (one rng draw), or null.
  const SybilWallRecord* ChooseFor(PeerId receiver, Rng& rng) const;

  // SybilWallAggregate over `arrived` (neighbour, model) pairs: their own
  // records' histories first, in that order, then every other record.
  // REQUIRES: each arrived neighbour has a record (AddNeighbourModel).
  Status Aggregate(std::span<float> own,
                   std::span<const std::pair<PeerId, std::span<const float>>> arrived,
                   const SimilarityScoreOptions& score,
                   std::vector<double>* weights = nullptr) const;

  const std::map<PeerId, SybilWallRecord>& records() const { return records_; }

  // Snapshots (core/snapshot.h): every record and every neighbour's last
  // model. Restore reads into a history built for the same peer and
  // lambda, replacing what it held; it fails `in` (kCorrupt) for a record
  // of this peer itself, a history or model not of `dim` floats, a
  // distance outside [1, kSybilWallMaxDistance], or a neighbour's own
  // record (distance 1) that is not its last model's sender.
  void Save(SnapshotWriter& out) const;
  void Restore(SnapshotReader& in, size_t dim);

 private:
  double Preference(uint32_t distance) const;

  const PeerId self_;
  const double lambda_;
  std::map<PeerId, SybilWallRecord> records_;          // by origin
  std::map<PeerId, std::vector<float>> last_model_;    // by neighbour
};

}  // namespace murmur
