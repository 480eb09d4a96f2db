#include "murmur/protocol/topology.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_set>
#include <utility>

#include "murmur/core/check.h"
#include "murmur/core/ids.h"
#include "murmur/core/rng.h"

namespace murmur {
namespace {

using Edge = std::pair<uint32_t, uint32_t>;

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
// Refuse graphs whose adjacency lists would exceed this many entries
// (8 GiB of uint32): such a config is a mistake, not a workload.
constexpr int64_t kMaxAdjacencyEntries = int64_t{1} << 31;
constexpr int64_t kMaxPeers = int64_t{1} << 32;

constexpr std::string_view kValidNames =
    "ring, torus, full, regular, erdos-renyi, exponential, edge-list";

Status CheckSize(std::string_view what, int64_t n) {
  if (n < 1 || n >= kMaxPeers) {
    return Status::InvalidArgument(what, ": number of peers n=", n,
                                   " must be in [1, 2^32)");
  }
  return Status::Ok();
}

uint64_t EdgeKey(uint32_t u, uint32_t v) {
  if (u > v) std::swap(u, v);
  return (uint64_t{u} << 32) | v;
}

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

Graph Ring(int64_t n) {
  std::vector<Edge> edges;
  if (n == 2) edges.emplace_back(0, 1);
  if (n >= 3) {
    for (int64_t i = 0; i < n; ++i) {
      edges.emplace_back(static_cast<uint32_t>(i),
                         static_cast<uint32_t>((i + 1) % n));
    }
  }
  return FromEdges(n, edges);
}

Result<Graph> Torus(int64_t n) {
  // Most square: the largest r <= sqrt(n) dividing n with r >= 3 (c >= r
  // follows). Wrap-around needs r, c >= 3, else row +-1 coincide.
  auto r = static_cast<int64_t>(std::sqrt(static_cast<double>(n)));
  while (r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  for (; r >= 3 && n % r != 0; --r) {
  }
  if (r < 3) {
    return Status::InvalidArgument(
        "torus: n=", n,
        " has no factorization r x c = n with r, c >= 3 (e.g. n prime or "
        "below 9); use topology \"ring\" or a size like 9, 12, 16");
  }
  const int64_t c = n / r;
  std::vector<Edge> edges;
  edges.reserve(static_cast<size_t>(2 * n));
  for (int64_t row = 0; row < r; ++row) {
    for (int64_t col = 0; col < c; ++col) {
      auto id = static_cast<uint32_t>(row * c + col);
      edges.emplace_back(id, static_cast<uint32_t>(row * c + (col + 1) % c));
      edges.emplace_back(id, static_cast<uint32_t>(((row + 1) % r) * c + col));
    }
  }
  return FromEdges(n, edges);
}

Graph Exponential(int64_t n) {
  std::vector<Edge> edges;
  for (int64_t offset = 1; offset < n; offset *= 2) {
    for (int64_t i = 0; i < n; ++i) {
      // i - offset mod n is covered as the +offset edge of i - offset.
      edges.emplace_back(static_cast<uint32_t>(i),
                         static_cast<uint32_t>((i + offset) % n));
    }
  }
  return FromEdges(n, edges);
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

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\v\f";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

}  // namespace

Result<TopologyKind> ParseTopologyKind(std::string_view name) {
  for (auto kind : {TopologyKind::kRing, TopologyKind::kTorus,
                    TopologyKind::kFullyConnected, TopologyKind::kRegular,
                    TopologyKind::kErdosRenyi, TopologyKind::kExponential,
                    TopologyKind::kEdgeList}) {
    if (name == TopologyKindName(kind)) return kind;
  }
  return Status::InvalidArgument("unknown topology \"", name,
                                 "\"; valid names: ", kValidNames);
}

std::string_view TopologyKindName(TopologyKind kind) {
  switch (kind) {
    case TopologyKind::kRing:
      return "ring";
    case TopologyKind::kTorus:
      return "torus";
    case TopologyKind::kFullyConnected:
      return "full";
    case TopologyKind::kRegular:
      return "regular";
    case TopologyKind::kErdosRenyi:
      return "erdos-renyi";
    case TopologyKind::kExponential:
      return "exponential";
    case TopologyKind::kEdgeList:
      return "edge-list";
  }
  MURMUR_CHECK(false && "unknown TopologyKind");
  return {};
}

int64_t Graph::num_edges() const {
  int64_t degrees = 0;
  for (const auto& list : neighbours) {
    degrees += static_cast<int64_t>(list.size());
  }
  return degrees / 2;
}

bool IsConnected(const Graph& g) {
  const int64_t n = g.size();
  if (n <= 1) return true;
  std::vector<char> seen(static_cast<size_t>(n), 0);
  std::vector<uint32_t> stack = {0};
  seen[0] = 1;
  int64_t reached = 1;
  while (!stack.empty()) {
    uint32_t u = stack.back();
    stack.pop_back();
    for (uint32_t v : g.neighbours[u]) {
      if (!seen[v]) {
        seen[v] = 1;
        ++reached;
        stack.push_back(v);
      }
    }
  }
  return reached == n;
}

Result<Graph> MakeTopology(const TopologyConfig& config, int64_t n,
                           uint64_t seed) {
  const std::string_view name = TopologyKindName(config.kind);
  MURMUR_RETURN_IF_ERROR(CheckSize(name, n));
  Rng rng(seed, PeerId{0}, RngPurpose::kTopology);
  switch (config.kind) {
    case TopologyKind::kRing:
      return Ring(n);
    case TopologyKind::kTorus:
      return Torus(n);
    case TopologyKind::kFullyConnected:
      if (n * (n - 1) > kMaxAdjacencyEntries) {
        return Status::InvalidArgument(
            "full: n=", n,
            " needs more than 2^31 adjacency entries; use a sparse topology "
            "such as \"exponential\" or \"regular\"");
      }
      return Complete(n);
    case TopologyKind::kRegular:
      return RandomRegular(n, config.degree, rng);
    case TopologyKind::kErdosRenyi:
      return ErdosRenyi(n, config.edge_prob, rng);
    case TopologyKind::kExponential:
      return Exponential(n);
    case TopologyKind::kEdgeList: {
      if (config.edge_list_path.empty()) {
        return Status::InvalidArgument(
            "edge-list: edge_list_path is empty; set it to a file of \"u v\" "
            "lines");
      }
      std::ifstream in(config.edge_list_path, std::ios::binary);
      if (!in) {
        return Status::NotFound("edge-list: cannot open \"",
                                config.edge_list_path,
                                "\"; check protocol.edge_list");
      }
      std::ostringstream text;
      text << in.rdbuf();
      auto graph = ParseEdgeList(text.str(), n);
      if (!graph.ok()) {
        return Status(graph.status().code(),
                      Status::Concat(config.edge_list_path, ": ",
                                     graph.status().message()));
      }
      return graph;
    }
  }
  MURMUR_CHECK(false && "unknown TopologyKind");
  return Status::Internal("unreachable");
}

Result<Graph> ParseEdgeList(std::string_view text, int64_t n) {
  MURMUR_RETURN_IF_ERROR(CheckSize("edge list", n));
  std::vector<Edge> edges;
  int64_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);

    std::string_view content = Trim(line.substr(0, line.find('#')));
    if (content.empty()) continue;

    uint64_t ids[2];
    std::string_view id_text[2];
    int parsed = 0;
    bool malformed = false;
    while (!content.empty() && !malformed) {
      size_t token_end = content.find_first_of(" \t\r\v\f");
      std::string_view token = content.substr(0, token_end);
      content = Trim(content.substr(token.size()));
      if (parsed == 2) {
        malformed = true;
        break;
      }
      uint64_t value = 0;
      auto [ptr, ec] =
          std::from_chars(token.data(), token.data() + token.size(), value);
      if (ec == std::errc::result_out_of_range) {
        value = std::numeric_limits<uint64_t>::max();
      } else if (ec != std::errc() || ptr != token.data() + token.size()) {
        malformed = true;
        break;
      }
      id_text[parsed] = token;
      ids[parsed++] = value;
    }
    if (malformed || parsed != 2) {
      return Status::InvalidArgument(
          "edge list line ", line_number,
          ": expected two non-negative integer peer ids \"u v\", got \"",
          Trim(line), "\"");
    }
    for (int k = 0; k < 2; ++k) {
      if (ids[k] >= static_cast<uint64_t>(n)) {
        return Status::InvalidArgument("edge list line ", line_number,
                                       ": peer id ", id_text[k],
                                       " out of range; ids must be < n=", n);
      }
    }
    if (ids[0] == ids[1]) {
      return Status::InvalidArgument("edge list line ", line_number,
                                     ": self-loop ", ids[0], " ", ids[1],
                                     " is not allowed");
    }
    edges.emplace_back(static_cast<uint32_t>(ids[0]),
                       static_cast<uint32_t>(ids[1]));
  }
  return FromEdges(n, edges);
}

MixingWeights MetropolisHastingsWeights(const Graph& g) {
  const int64_t n = g.size();
  MixingWeights w;
  w.self.resize(static_cast<size_t>(n));
  w.neighbour.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto& list = g.neighbours[i];
    const size_t deg_i = list.size();
    auto& row = w.neighbour[i];
    row.reserve(deg_i);
    double sum = 0.0;
    for (uint32_t j : list) {
      const size_t deg_j = g.neighbours[j].size();
      // The same expression on both ends, so W_ij == W_ji bit for bit.
      double wij = 1.0 / (1.0 + static_cast<double>(std::max(deg_i, deg_j)));
      row.push_back(wij);
      sum += wij;
    }
    w.self[i] = 1.0 - sum;
  }
  return w;
}

}  // namespace murmur
