// FedProx (Li, Sahu, Zaheer, Sanjabi, Talwalkar, Smith, 2020, "Federated
// Optimization in Heterogeneous Networks"). The server is FedAvg's
// (fedavg.h: sample-weighted average of the replies of a random fraction of
// clients per round, through the server optimizer). A FedProx client is a
// FedAvgClient with FedAvgOptions::fedprox set, which differs from a FedAvg
// client in two ways:
//  * it minimizes the proximal local objective
//    F_k(w) + mu/2 ||w - w_global||^2 (Learner::SetProximalTerm), which keeps
//    local models near the global one on heterogeneous data;
//  * with a `local_time_budget` it tolerates partial work (the paper's
//    gamma-inexact solutions): it runs as many of its E epochs' steps as fit
//    the budget at the speed it measured on its previous round (host.now()
//    around training; at least one step, the full count on its first round)
//    and sends what it finished instead of being dropped as a straggler.
// With mu = 0 and no budget it is exactly a FedAvg client. Tolerates what
// FedAvg tolerates, plus slow clients (their partial updates still count);
// not Byzantine robust.
#pragma once

// protocol.kind = "fedprox" is the "fedavg" spec's variant with these
// options (fedavg_spec.cc); there is no separate client class.
#include "murmur/protocol/fedavg.h"
