// Byzantine and Sybil peers as protocol participants: which peers are
// Byzantine, what they do, and the data they train on. The nodes that carry
// the attacks out are ByzantineFedAvgClient (byzantine_fedavg.h),
// ByzantineDpsgdNode (byzantine_dpsgd.h) and ByzantineGossipNode
// (byzantine_gossip.h); the vectors they craft come from robust/attacks.h.
//
// Attacks (ByzantineConfig::attack), and what the attacker knows:
//   sign-flip     sends base - scale * (its own honestly trained update)
//   gaussian      sends base + N(0, sigma^2 I)
//   label-flip    trains on its shard with labels y -> C - 1 - y and sends
//                 what it trained (Fang, Cao, Jia, Gong, 2020, "Local Model
//                 Poisoning Attacks to Byzantine-Robust Federated Learning";
//                 Tolpegin et al. 2020, "Data Poisoning Attacks Against
//                 Federated Learning Systems")
//   alie          A Little Is Enough (Baruch et al. 2019) over the honest
//                 updates the adversary knows (below)
//   ipm           inner-product manipulation (Xie et al. 2020), same
//                 knowledge
//   mimic         every attacker sends one honest update (Karimireddy, He,
//                 Jaggi, 2022, "Byzantine-Robust Learning on Heterogeneous
//                 Datasets via Bucketing"), over-weighting one data shard
//   nan, inf      every coordinate NaN (resp. +Inf): must be dropped
//   crash         honest until round crash_round, then silent for good
//   omission      honest, but drops each message it should send with
//                 probability omission_prob
//   free-ride     never trains: sends the model it was given (FedAvg: a
//                 zero update claiming its sample count; D-PSGD: its
//                 round-start model)
//   sybil         many identities pushing one targeted poisoning: each
//                 trains with labels source_class -> target_class and all
//                 send the same vector (FedAvg: the coalition's mean
//                 poisoned update; Fung, Yoon, Beschastnikh, 2020, "The
//                 Limitations of Federated Learning in Sybil Settings")
//   equivocation  D-PSGD, gossip: a different model to every neighbour, each
//                 pushed away from the honest mean (the dissensus attack of
//                 He, Karimireddy, Jaggi, 2022, "Byzantine-robust
//                 Decentralized Learning via ClippedGossip")
//
// Knowledge (the omniscience the literature assumes, made concrete):
//  * FedAvg: Byzantine clients are one coalition. Each trains honestly on
//    its own (true) data from the global model; alie, ipm, mimic and sybil
//    wait until every coalition member selected for the round has trained
//    and craft one vector from the coalition's own honest updates, as ALIE's
//    paper does ("the attackers use their own data to estimate mu and
//    sigma"). They never see honest clients' updates.
//  * D-PSGD: a Byzantine peer waits for the round's models of its honest
//    neighbours (or round_timeout) and crafts from those: updates are
//    x_j - base, with base its own model at the start of the round. After
//    sending, it sets its model to the plain mean of its trained model and
//    the honest models it received, so it stays near consensus. Messages
//    between Byzantine peers are ignored.
//  * Gossip: a Byzantine peer crafts each push from the latest model of
//    each honest neighbour it holds (byzantine_gossip.h).
// Byzantine peers report no models or losses: accuracy is measured over
// honest peers only (FedAvg: the server's model, which is never Byzantine).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/core/status.h"
#include "murmur/learn/dataset.h"

namespace murmur {

enum class AttackKind {
  kNone,
  kSignFlip,
  kGaussian,
  kLabelFlip,
  kAlie,
  kIpm,
  kMimic,
  kNan,
  kInf,
  kCrash,
  kOmission,
  kFreeRide,
  kSybil,
  kEquivocation,
};

struct ByzantineConfig {
  int64_t count = 0;      // Byzantine peers; or
  double fraction = 0;    // floor(fraction * peers) of them (not both)
  AttackKind attack = AttackKind::kNone;
  double scale = 1.0;     // sign-flip, equivocation
  double sigma = 1.0;     // gaussian
  double z = 0;           // alie; 0: AlieZ(peers, byzantine count)
  double epsilon = 0.1;   // ipm
  int64_t crash_round = 10;      // crash: last round it takes part in is crash_round - 1
  double omission_prob = 0.5;    // omission
  int64_t source_class = 0;      // sybil: relabel this class...
  int64_t target_class = 1;      // ...as this one
};

// Attack names as configs spell them ("sign-flip", "alie", ...), in the
// order of AttackKind; "none" first.
std::vector<std::string> AttackNames();
// kInvalidArgument listing the known names.
Result<AttackKind> ParseAttackKind(const std::string& name);
std::string AttackName(AttackKind kind);

// The number of Byzantine peers among `peers`. kInvalidArgument when both
// count and fraction are set, or when that leaves no honest peer.
Result<int64_t> ByzantineCount(const ByzantineConfig& config, int64_t peers);

// A seeded uniform choice of ByzantineCount peers among PeerId(0..peers-1),
// sorted; empty for attack "none". The same (config, peers, seed) always
// gives the same set. REQUIRES: ByzantineCount(config, peers) is ok.
std::vector<PeerId> ChooseByzantinePeers(const ByzantineConfig& config, int64_t peers,
                                         uint64_t seed);

// True for attacks that poison the attacker's training data (label-flip,
// sybil): its learner is built over MakePoisonedDataset.
bool PoisonsData(AttackKind kind);

// The samples of `train` at `shard`, copied, with labels relabelled by the
// attack: label-flip maps y -> num_classes - 1 - y; sybil maps source_class
// to target_class. The attacker's shard in the result is 0..shard.size()-1.
// REQUIRES: PoisonsData(config.attack); indices in shard valid.
Dataset MakePoisonedDataset(const Dataset& train, std::span<const int64_t> shard,
                            const ByzantineConfig& config);

}  // namespace murmur
