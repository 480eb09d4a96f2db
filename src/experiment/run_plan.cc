#include "murmur/experiment/run_plan.h"

#include <algorithm>

namespace murmur {

bool RunPlan::IsHolder(PeerId peer) const {
  return std::find(holders.begin(), holders.end(), peer) != holders.end();
}

bool RunPlan::Evaluates(PeerId peer) const {
  return std::binary_search(evaluated.begin(), evaluated.end(), peer);
}

RunPlan PlanRun(const EvalConfig& eval, uint64_t seed, const ProtocolLayout& facts) {
  RunPlan plan;
  plan.num_nodes = facts.num_nodes;
  plan.server = facts.server;
  plan.holders = facts.model_holders;
  plan.roles.assign(static_cast<size_t>(facts.num_nodes), facts.server ? "client" : "peer");
  for (PeerId b : facts.byzantine) plan.roles[b.value] = "byzantine";
  if (facts.server) plan.roles[facts.server->value] = "server";
  plan.first_report = facts.round_model == RoundModel::kFirstReport;
  plan.evaluated = SampleEvaluatedPeers(facts.model_holders,
                                        plan.first_report ? 0 : eval.peers, seed);
  plan.peers_per_row = plan.first_report ? 1 : static_cast<int64_t>(plan.evaluated.size());
  return plan;
}

}  // namespace murmur
