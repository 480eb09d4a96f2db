// Who does what in a run, decided once for both backends: the simulator's
// driver (sim_run) and the network peer's (net_run) ask PlanRun, so a
// protocol's roles, model holders, server and evaluated peers are the same
// whichever backend runs it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/experiment/eval_collector.h"
#include "murmur/experiment/run_config.h"
#include "murmur/protocol/protocol.h"

namespace murmur {

struct RunPlan {
  int64_t num_nodes = 0;
  std::optional<PeerId> server;
  std::vector<PeerId> holders;
  // Per node: "peer", "client", "server" or "byzantine" (the names of
  // peers.csv).
  std::vector<std::string> roles;
  // The peers whose reported models are evaluated, sorted. A first-report
  // protocol (MoDeST) watches every holder, since any of them may hold a
  // round's model; otherwise a seeded sample of eval.peers holders (all
  // when eval.peers is 0).
  std::vector<PeerId> evaluated;
  // Whether a round's row is emitted at its first evaluated report.
  bool first_report = false;
  // How many peers each evaluation row should cover: 1 for a first-report
  // protocol, evaluated.size() otherwise.
  int64_t peers_per_row = 0;
  // Runs with [privacy]: the epsilon spent by a round (EpsilonOfRound);
  // empty otherwise.
  std::function<double(int64_t round)> epsilon_of_round;

  bool IsHolder(PeerId peer) const;
  bool Evaluates(PeerId peer) const;
};

// The plan of a run with evaluation `eval` and seed `seed` whose protocol
// setup has `layout`. REQUIRES: every id in facts is below layout.num_nodes.
RunPlan PlanRun(const EvalConfig& eval, uint64_t seed, const ProtocolLayout& layout);

// For a run with [privacy] on a protocol that supports it: the epsilon at
// privacy.delta after `round` rounds, each a step of the subsampled Gaussian
// mechanism with the protocol's sampling rate (ProtocolSpec::
// dp_sampling_rate) and privacy.noise_multiplier; +infinity without noise.
// With privacy.secagg_encoding = "rqm" (RqmEpsilonOfRound) the smaller of
// that and RQM's epsilon, each a bound on the same releases. Empty when
// neither applies. Memoized per round.
std::function<double(int64_t round)> EpsilonOfRound(const RunConfig& config,
                                                    int64_t model_dimension);

// For a run with privacy.secagg_encoding = "rqm": the epsilon at
// privacy.delta of `round` RQM releases of `model_dimension` coordinates
// (privacy/rqm_accountant.h), i.e. of a client that took part in every
// round so far: one that took part in fewer has spent less, so this bounds
// every client (exact for client_fraction = 1). The bound is on each
// client's own release; the server sees only the sum of the selected
// clients' releases, post-processing of them (docs/privacy.md). The same
// for CHOCO with compress.codec = "rqm:..." (exactly that codec; not
// chained with zstd): a peer releases one frame a round, sent to every
// neighbour, so this is each peer's epsilon against an observer of all its
// frames. +infinity when keep_probability is 1. Empty otherwise.
// REQUIRES: model_dimension >= 1 when RQM applies.
std::function<double(int64_t round)> RqmEpsilonOfRound(const RunConfig& config,
                                                       int64_t model_dimension);

// Whether the run's reported epsilon includes RQM's (RqmEpsilonOfRound is
// not empty).
bool ReportsRqmEpsilon(const RunConfig& config);

// The smaller of two epsilon-of-round functions, each an upper bound on the
// same run; either may be empty.
std::function<double(int64_t round)> SmallerEpsilon(std::function<double(int64_t)> a,
                                                    std::function<double(int64_t)> b);

// For a run with privacy.dp_sgd: the per-peer sample-level epsilon at
// privacy.delta, the largest over `learners` of the accountant's epsilon
// for the learner's DP-SGD steps so far at its sampling rate and noise
// multiplier (+infinity without noise), whatever `round` is asked: it is
// read when a row is emitted, so it covers every step the row's models saw
// (and, in a decentralized run, possibly a peer's steps of the next round).
// Empty without DP-SGD. The learners must outlive the function; it may run
// while they train (the step counts are atomic).
std::function<double(int64_t round)> DpSgdEpsilonOf(const RunConfig& config,
                                                    std::vector<const Learner*> learners);

// The plan of a run of `config` whose protocol setup has `layout`.
inline RunPlan PlanRun(const RunConfig& config, const ProtocolLayout& layout) {
  RunPlan plan = PlanRun(config.eval, config.seed, layout);
  plan.epsilon_of_round = EpsilonOfRound(config, layout.model_dimension);
  return plan;
}

}  // namespace murmur
