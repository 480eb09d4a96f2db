#include "protocol/graph_builders.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "murmur/core/check.h"

namespace murmur {
namespace {

// Random generators resample a disconnected graph at most this often.
constexpr int kMaxConnectTries = 100;
// A pairing that dead-ends is restarted; with rejection of loops and
// multi-edges a restart is rare (Steger-Wormald), so hitting this means a bug.
constexpr int kMaxPairingRestarts = 1000;
// A pairing step tries this many random picks, plus one per remaining point,
// before scanning the remaining points exhaustively: the scan costs
// O(remaining vertices^2), so it should run only when acceptable pairs are
// scarce, which in practice means near the end of a pairing.
constexpr size_t kRandomPicksBeforeScan = 8;

uint64_t EdgeKey(uint32_t u, uint32_t v) {
  if (u > v) std::swap(u, v);
  return (uint64_t{u} << 32) | v;
}

// One run of the Steger-Wormald pairing for a simple d-regular graph:
// n * d points, point of vertex v labelled v; repeatedly pair two uniformly
// random remaining points, accepting only pairs that make neither a loop nor
// a repeated edge. Returns false when no acceptable pair remains (dead end).
bool TryPairing(int64_t n, int64_t d, Rng& rng, std::vector<Edge>* edges) {
  std::vector<uint32_t> remaining;
  remaining.reserve(static_cast<size_t>(n * d));
  for (int64_t v = 0; v < n; ++v) {
    remaining.insert(remaining.end(), static_cast<size_t>(d),
                     static_cast<uint32_t>(v));
  }
  std::unordered_set<uint64_t> present;
  present.reserve(static_cast<size_t>(n * d / 2));
  edges->clear();
  edges->reserve(static_cast<size_t>(n * d / 2));

  auto take = [&](size_t i, size_t j) {
    uint32_t u = remaining[i];
    uint32_t v = remaining[j];
    present.insert(EdgeKey(u, v));
    edges->emplace_back(u, v);
    // Swap-remove the larger index first so the smaller stays valid.
    if (i < j) std::swap(i, j);
    remaining[i] = remaining.back();
    remaining.pop_back();
    remaining[j] = remaining.back();
    remaining.pop_back();
  };
  auto acceptable = [&](uint32_t u, uint32_t v) {
    return u != v && !present.contains(EdgeKey(u, v));
  };

  while (!remaining.empty()) {
    const size_t count = remaining.size();  // even, >= 2
    bool paired = false;
    for (size_t pick = 0; pick < kRandomPicksBeforeScan + count && !paired;
         ++pick) {
      auto i = static_cast<size_t>(rng.UniformInt(count));
      auto j = static_cast<size_t>(rng.UniformInt(count - 1));
      if (j >= i) ++j;
      if (acceptable(remaining[i], remaining[j])) {
        take(i, j);
        paired = true;
      }
    }
    if (paired) continue;

    // Many rejections in a row: few acceptable pairs are left, if any. Draw
    // one exactly, uniformly over acceptable point pairs (the same law as
    // rejection sampling), or report the dead end.
    std::vector<uint32_t> sorted = remaining;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::pair<uint32_t, uint64_t>> stubs;  // (vertex, points)
    for (uint32_t v : sorted) {
      if (stubs.empty() || stubs.back().first != v) stubs.emplace_back(v, 0);
      ++stubs.back().second;
    }
    struct Candidate {
      uint32_t u, v;
      uint64_t weight;
    };
    std::vector<Candidate> candidates;
    uint64_t total = 0;
    for (size_t a = 0; a < stubs.size(); ++a) {
      for (size_t b = a + 1; b < stubs.size(); ++b) {
        if (acceptable(stubs[a].first, stubs[b].first)) {
          uint64_t w = stubs[a].second * stubs[b].second;
          candidates.push_back({stubs[a].first, stubs[b].first, w});
          total += w;
        }
      }
    }
    if (total == 0) return false;
    uint64_t r = rng.UniformInt(total);
    const Candidate* chosen = nullptr;
    for (const auto& cand : candidates) {
      if (r < cand.weight) {
        chosen = &cand;
        break;
      }
      r -= cand.weight;
    }
    MURMUR_CHECK(chosen != nullptr);
    auto i = static_cast<size_t>(
        std::find(remaining.begin(), remaining.end(), chosen->u) -
        remaining.begin());
    auto j = static_cast<size_t>(
        std::find(remaining.begin(), remaining.end(), chosen->v) -
        remaining.begin());
    take(i, j);
  }
  return true;
}

// A random d-regular graph, not necessarily connected.
Result<Graph> SampleRegular(int64_t n, int64_t d, Rng& rng) {
  // Rejection in the pairing gets slow as the graph fills up; a dense graph is
  // the complement of a sparse one, and complementing is a bijection between
  // d-regular and (n-1-d)-regular graphs, so the law carries over.
  const int64_t sparse_d = std::min(d, n - 1 - d);
  std::vector<Edge> edges;
  for (int restart = 0;; ++restart) {
    if (restart == kMaxPairingRestarts) {
      return Status::Internal("regular: pairing for n=", n, " d=", sparse_d,
                              " dead-ended ", restart, " times");
    }
    if (TryPairing(n, sparse_d, rng, &edges)) break;
  }
  Graph g = FromEdges(n, edges);
  if (sparse_d != d) return Complement(g);
  return g;
}

// G(n, p) by geometric skipping over the pairs (v, w), w < v, in row order
// (Batagelj and Brandes 2005): the gap to the next edge is geometric, so the
// cost is O(n + edges) rather than O(n^2).
Graph SampleErdosRenyi(int64_t n, double p, Rng& rng) {
  std::vector<Edge> edges;
  const double log_q = std::log1p(-p);
  int64_t v = 1;
  int64_t w = -1;
  // Tiny p gives astronomically long skips; any skip past the n^2/2 pairs
  // ends the loop, so cap it where the int64 arithmetic stays exact.
  constexpr double kMaxSkip = 0x1p62;
  while (v < n) {
    // 1 - Uniform() is in (0, 1], so the log is finite and <= 0.
    double skip = std::floor(std::log(1.0 - rng.Uniform()) / log_q);
    w += 1 + static_cast<int64_t>(std::min(skip, kMaxSkip));
    while (w >= v && v < n) {
      w -= v;
      ++v;
    }
    if (v < n) {
      edges.emplace_back(static_cast<uint32_t>(v), static_cast<uint32_t>(w));
    }
  }
  return FromEdges(n, edges);
}

}  // namespace

// Adjacency lists from an edge list that may hold repeats and reversals.
// REQUIRES: every id < n, no self-loops.
Graph FromEdges(int64_t n, const std::vector<Edge>& edges) {
  Graph g;
  g.neighbours.resize(static_cast<size_t>(n));
  for (const auto& [u, v] : edges) {
    MURMUR_CHECK(u != v && u < n && v < n);
    g.neighbours[u].push_back(v);
    g.neighbours[v].push_back(u);
  }
  for (auto& list : g.neighbours) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  return g;
}

Graph Complete(int64_t n) {
  Graph g;
  g.neighbours.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto& list = g.neighbours[i];
    list.reserve(static_cast<size_t>(n - 1));
    for (int64_t j = 0; j < n; ++j) {
      if (j != i) list.push_back(static_cast<uint32_t>(j));
    }
  }
  return g;
}

Graph Complement(const Graph& g) {
  const int64_t n = g.size();
  Graph out;
  out.neighbours.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto& has = g.neighbours[i];  // sorted
    auto& list = out.neighbours[i];
    list.reserve(static_cast<size_t>(n - 1) - has.size());
    size_t k = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (k < has.size() && has[k] == j) {
        ++k;
      } else if (j != i) {
        list.push_back(static_cast<uint32_t>(j));
      }
    }
  }
  return out;
}

Result<Graph> RandomRegular(int64_t n, int64_t d, Rng& rng) {
  if (d < 0 || d >= n) {
    return Status::InvalidArgument("regular: degree=", d,
                                   " must satisfy 0 <= degree < n=", n);
  }
  if (n % 2 != 0 && d % 2 != 0) {
    return Status::InvalidArgument(
        "regular: n * degree must be even, got n=", n, " degree=", d,
        "; change n or degree by one");
  }
  if (n * d > kMaxAdjacencyEntries) {
    return Status::InvalidArgument("regular: n=", n, " degree=", d,
                                   " needs more than 2^31 adjacency entries");
  }
  if (n > 2 && d <= 1) {
    return Status::InvalidArgument(
        "regular: a ", d, "-regular graph on n=", n,
        " peers is never connected; use degree >= 3");
  }
  for (int attempt = 0; attempt < kMaxConnectTries; ++attempt) {
    MURMUR_ASSIGN_OR_RETURN(Graph g, SampleRegular(n, d, rng));
    if (IsConnected(g)) return g;
  }
  return Status::InvalidArgument("regular: no connected ", d,
                                 "-regular graph on n=", n, " in ",
                                 kMaxConnectTries,
                                 " samples; use degree >= 3 or topology "
                                 "\"ring\"");
}

Result<Graph> ErdosRenyi(int64_t n, double p, Rng& rng) {
  if (!(p > 0.0 && p <= 1.0)) {
    return Status::InvalidArgument("erdos-renyi: edge_prob=", p,
                                   " must be in (0, 1]");
  }
  // Expected adjacency entries p*n*(n-1): the same bound as "full".
  if (p * static_cast<double>(n) * static_cast<double>(n - 1) >
      static_cast<double>(kMaxAdjacencyEntries)) {
    return Status::InvalidArgument("erdos-renyi: n=", n, " with edge_prob=", p,
                                   " needs more than 2^31 adjacency entries; lower edge_prob");
  }
  if (p == 1.0) return Complete(n);
  for (int attempt = 0; attempt < kMaxConnectTries; ++attempt) {
    Graph g = SampleErdosRenyi(n, p, rng);
    if (IsConnected(g)) return g;
  }
  return Status::InvalidArgument(
      "erdos-renyi: no connected graph with n=", n, " edge_prob=", p, " in ",
      kMaxConnectTries, " samples; use edge_prob well above ln(n)/n = ",
      std::log(static_cast<double>(n)) / static_cast<double>(n));
}
}  // namespace murmur
