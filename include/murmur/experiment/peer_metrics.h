// Merging the metrics of a run whose peers evaluated themselves in separate
// processes (`murmur launch`): each peer's metrics.csv holds one row per
// evaluation round for the models it holds; MergePeerRows turns them into
// the rows one simulated run would have written.
#pragma once

#include <vector>

#include "murmur/experiment/eval_collector.h"

namespace murmur {

// One row per round that any peer reported, sorted by round:
// peers_evaluated, bytes_sent and msgs_sent are sums; acc_mean and
// loss_mean are means weighted by peers_evaluated; acc_min/acc_max are the
// extremes; train_loss is the mean of the finite ones (NaN if none);
// time_s is the latest; consensus_dist is NaN, because models never leave
// their processes.
std::vector<EvalRow> MergePeerRows(const std::vector<std::vector<EvalRow>>& per_peer);

}  // namespace murmur
