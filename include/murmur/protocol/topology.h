// Communication topologies and gossip mixing weights for decentralized
// learning.
//
// A topology is an undirected simple graph over peers 0..n-1: who averages
// with whom each round. D-PSGD (Lian, Zhang, Zhang, Hsieh, Zhang, Liu, 2017,
// "Can Decentralized Algorithms Outperform Centralized Algorithms? A Case
// Study for Decentralized Parallel Stochastic Gradient Descent") runs on
// exactly these graphs: its convergence depends on the spectral gap of the
// mixing matrix W built from the graph.
//
// Generators:
//   * ring, torus, fully connected: deterministic.
//   * exponential graph (Ying, Yuan, Chen, Hu, Pan, Yin, 2021, "Exponential
//     Graph is Provably Efficient for Decentralized Deep Training"): peer i
//     links to i +- 2^k mod n for every 2^k < n. The paper's static graph is
//     directed (i -> i + 2^k); here it is symmetrized so that Metropolis-
//     Hastings weights apply. Degree O(log n), spectral gap O(1/log n).
//   * random d-regular (Steger and Wormald, 1999, "Generating random regular
//     graphs quickly"): the pairing model with incremental rejection of loops
//     and multi-edges; asymptotically uniform for small d. Dense requests
//     (d > (n-1)/2) draw the (n-1-d)-regular complement instead.
//   * Erdos-Renyi G(n, p), sampled in O(n + m) by geometric edge skipping
//     (Batagelj and Brandes, 2005, "Efficient generation of large random
//     networks").
//   * an edge list read from a text file.
// Random generators draw only from Rng(seed, PeerId{0}, RngPurpose::kTopology),
// so a topology is reproducible from its seed on every machine. Random
// generators (regular, Erdos-Renyi) resample until the graph is connected:
// a disconnected topology never reaches consensus.
//
// Mixing weights: Metropolis-Hastings (Xiao and Boyd, 2004, "Fast linear
// iterations for distributed averaging"; Boyd, Diaconis, Xiao, 2004,
// "Fastest mixing Markov chain on a graph"). Each peer computes its weights
// from its own and its neighbours' degrees only; W is symmetric and doubly
// stochastic with a positive diagonal, so x <- W x converges to the exact
// average on any connected graph (no bipartite oscillation).
//
// All functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

enum class TopologyKind {
  kRing,
  kTorus,
  kFullyConnected,
  kRegular,
  kErdosRenyi,
  kExponential,
  kEdgeList,
};

// Parses "ring", "torus", "full", "regular", "erdos-renyi", "exponential",
// "edge-list" (exact, case-sensitive). Returns kInvalidArgument listing the
// valid names otherwise.
Result<TopologyKind> ParseTopologyKind(std::string_view name);

// The name ParseTopologyKind accepts for `kind`.
std::string_view TopologyKindName(TopologyKind kind);

struct TopologyConfig {
  TopologyKind kind = TopologyKind::kRing;
  int64_t degree = 6;          // kRegular
  double edge_prob = 0.1;      // kErdosRenyi
  std::string edge_list_path;  // kEdgeList
};

// An undirected simple graph over peers 0..size()-1: no self-loops, no
// multi-edges, j in neighbours[i] iff i in neighbours[j], and every
// neighbours[i] sorted ascending. A plain value; thread-compatible.
struct Graph {
  std::vector<std::vector<uint32_t>> neighbours;

  int64_t size() const { return static_cast<int64_t>(neighbours.size()); }
  // Number of undirected edges (sum of degrees / 2).
  int64_t num_edges() const;
};

// True iff every peer reaches every other. Graphs of 0 or 1 peers are
// connected.
bool IsConnected(const Graph& g);

// Builds the topology `config.kind` over n peers. `seed` matters only for the
// random kinds (regular, Erdos-Renyi). Per kind:
//   ring:        n >= 1. n == 1 has no edges, n == 2 is a single edge, n >= 3
//                is the cycle 0-1-...-(n-1)-0 (every degree 2).
//   torus:       the 2-D wrap-around grid r x c = n with r <= c, r, c >= 3 and
//                r as large as possible (most square); peer id = row * c +
//                col; every degree 4. kInvalidArgument when no such
//                factorization exists (e.g. prime n, n = 2 * prime).
//   full:        every pair; n >= 1.
//   regular:     uniform-ish random d-regular graph, d = config.degree.
//                Needs 0 <= d < n, n * d even, and a connected result:
//                d == 1 with n > 2 is rejected up front; otherwise up to 100
//                samples are drawn and kInvalidArgument returned if none is
//                connected (only plausible for d == 2).
//   erdos-renyi: each pair independently with p = config.edge_prob in (0, 1];
//                resamples (up to 100 tries) until connected, else
//                kInvalidArgument suggesting p above ln(n)/n.
//   exponential: i ~ i +- 2^k mod n for all 2^k < n, deduplicated; n >= 1.
//   edge-list:   reads config.edge_list_path with ParseEdgeList; kNotFound if
//                the file cannot be opened. The graph may be disconnected;
//                check IsConnected if that matters.
// Every kind: kInvalidArgument if n < 1 or n >= 2^32, or if the graph would
// hold more than 2^31 adjacency entries (full or regular with huge n * d).
Result<Graph> MakeTopology(const TopologyConfig& config, int64_t n,
                           uint64_t seed);

// Parses an edge list over peers 0..n-1: one "u v" pair per line (0-based,
// whitespace-separated), '#' starts a comment (whole-line or trailing), blank
// lines and CRLF endings are allowed. An edge and its reverse or repeat are
// merged into one undirected edge. Returns kInvalidArgument naming the 1-based
// line number for an unparsable line (not exactly two non-negative integers),
// an id >= n, or a self-loop; kInvalidArgument if n < 1 or n >= 2^32.
Result<Graph> ParseEdgeList(std::string_view text, int64_t n);

// The Metropolis-Hastings mixing matrix of g, stored along g's adjacency:
//   W_ij = 1 / (1 + max(deg_i, deg_j))  for each edge {i, j},
//   W_ii = 1 - sum_j W_ij,               W_ij = 0 otherwise.
// W is symmetric and doubly stochastic with W_ii >= 1 / (1 + deg_i) > 0, so
// on a connected graph W^t x converges to the average of x (every entry) for
// any x. An isolated peer gets W_ii = 1.
struct MixingWeights {
  // self[i] = W_ii.
  std::vector<double> self;
  // neighbour[i][k] = W_{i, g.neighbours[i][k]}, aligned with g's adjacency.
  std::vector<std::vector<double>> neighbour;
};
MixingWeights MetropolisHastingsWeights(const Graph& g);

}  // namespace murmur
