// Building blocks of the topology generators (topology.h): adjacency lists
// from edges, complete graphs and complements, and the random generators
// (random d-regular by Steger-Wormald pairing, Erdos-Renyi by geometric
// skipping). Private to protocol/; topology.h documents the papers and the
// guarantees. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"
#include "murmur/protocol/topology.h"

namespace murmur {

using Edge = std::pair<uint32_t, uint32_t>;

// Refuse graphs whose adjacency lists would exceed this many entries
// (8 GiB of uint32): such a config is a mistake, not a workload.
inline constexpr int64_t kMaxAdjacencyEntries = int64_t{1} << 31;

// Adjacency lists from an edge list that may hold repeats and reversals.
// REQUIRES: every id < n, no self-loops.
Graph FromEdges(int64_t n, const std::vector<Edge>& edges);

// Every peer linked to every other.
Graph Complete(int64_t n);

// The complement of `g` (no self-loops).
Graph Complement(const Graph& g);

// A connected random d-regular graph drawn from `rng`; kInvalidArgument for
// a degree that cannot give one (odd n * d, d >= n, d <= 1 with n > 2, too
// many adjacency entries) or no connected sample in 100 tries.
Result<Graph> RandomRegular(int64_t n, int64_t d, Rng& rng);

// A connected G(n, p) drawn from `rng`; kInvalidArgument for p outside
// (0, 1], too many expected adjacency entries, or no connected sample in
// 100 tries.
Result<Graph> ErdosRenyi(int64_t n, double p, Rng& rng);

}  // namespace murmur
