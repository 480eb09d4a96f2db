// Merging the metrics of a run whose peers evaluated themselves in separate
// processes (`murmur launch`): each peer's metrics.csv holds one row per
// evaluation round for the models it holds; MergePeerRows turns them into
// the rows one simulated run would have written.
#pragma once

#include <string>
#include <vector>

#include "murmur/experiment/eval_collector.h"
#include "murmur/experiment/run_config.h"

namespace murmur {

// How a round's rows from several peers become one.
enum class RowMerge {
  kEveryPeer,    // the round's row covers every peer that evaluated it
  kFirstReport,  // it is the first report's (RunPlan::first_report), as in sim_run
};

// One row per round that any peer reported, sorted by round. The traffic
// columns add up each peer's own traffic at its report: bytes_sent,
// msgs_sent and bytes_received are sums, max_peer_bytes the largest.
// kEveryPeer: peers_evaluated is a sum; acc_mean and loss_mean are means
// weighted by peers_evaluated; acc_min/acc_max are the extremes;
// train_loss is the mean of the finite ones (NaN if none); time_s is the
// latest. kFirstReport: the accuracy, loss, time_s and
// peers_evaluated are those of the round's earliest row (the lowest peer's
// on a tie). consensus_dist is NaN, because models never leave their
// processes. A round a peer reports more than once (a restarted peer's file
// holds both lives, MetricsWriter::OpenAppending) counts its first row.
std::vector<EvalRow> MergePeerRows(const std::vector<std::vector<EvalRow>>& per_peer,
                                   RowMerge merge = RowMerge::kEveryPeer);

// Sets the epsilon of `merged` (MergePeerRows' rows of a run of `config`)
// as a simulated run reports it. Client-level DP (privacy.mode): the
// accountant's for the row's round (EpsilonOfRound). DP-SGD: the largest
// epsilon any peer's own metrics.jsonl, in `peer_dirs`, reported for the
// round (a server's rows carry none, so a federated run's rows may have no
// epsilon; its summary takes the peers' final ones). RQM under secure
// aggregation: likewise the largest the peers' files reported for the round
// (the server's rows carry RQM's epsilon, which needs the model's
// dimension). Otherwise unchanged.
void SetMergedEpsilon(const RunConfig& config, const std::vector<std::string>& peer_dirs,
                      std::vector<EvalRow>& merged);

}  // namespace murmur
