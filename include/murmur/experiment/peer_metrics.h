// Merging the metrics of a run whose peers evaluated themselves in separate
// processes (`murmur launch`): each peer's metrics.csv holds one row per
// evaluation round for the models it holds; MergePeerRows turns them into
// the rows one simulated run would have written.
#pragma once

#include <vector>

#include "murmur/experiment/eval_collector.h"

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
// processes.
std::vector<EvalRow> MergePeerRows(const std::vector<std::vector<EvalRow>>& per_peer,
                                   RowMerge merge = RowMerge::kEveryPeer);

}  // namespace murmur
