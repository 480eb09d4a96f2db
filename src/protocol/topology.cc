#include "murmur/protocol/topology.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "murmur/core/check.h"
#include "murmur/core/ids.h"
#include "murmur/core/rng.h"
#include "protocol/graph_builders.h"

namespace murmur {
namespace {

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
