#include "murmur/protocol/topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace murmur {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Graph MustMake(TopologyKind kind, int64_t n, uint64_t seed = 1) {
  TopologyConfig config;
  config.kind = kind;
  auto g = MakeTopology(config, n, seed);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *g : Graph{};
}

// Asserts the Graph contract: ids in range, sorted, no loops, no repeats,
// symmetric adjacency.
void ExpectSimpleUndirected(const Graph& g) {
  const int64_t n = g.size();
  for (int64_t i = 0; i < n; ++i) {
    const auto& list = g.neighbours[i];
    for (size_t k = 0; k < list.size(); ++k) {
      ASSERT_LT(list[k], n) << "peer " << i;
      ASSERT_NE(list[k], i) << "self-loop at " << i;
      if (k > 0) {
        ASSERT_LT(list[k - 1], list[k]) << "unsorted/repeat at " << i;
      }
      const auto& back = g.neighbours[list[k]];
      ASSERT_TRUE(std::binary_search(back.begin(), back.end(),
                                     static_cast<uint32_t>(i)))
          << "edge " << i << "-" << list[k] << " not symmetric";
    }
  }
}

void ExpectAllDegrees(const Graph& g, size_t degree) {
  for (int64_t i = 0; i < g.size(); ++i) {
    ASSERT_EQ(g.neighbours[i].size(), degree) << "peer " << i;
  }
}

// W as a dense matrix, for checking properties against the definition.
std::vector<std::vector<double>> Dense(const Graph& g, const MixingWeights& w) {
  const auto n = static_cast<size_t>(g.size());
  std::vector<std::vector<double>> m(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) {
    m[i][i] = w.self[i];
    for (size_t k = 0; k < g.neighbours[i].size(); ++k) {
      m[i][g.neighbours[i][k]] = w.neighbour[i][k];
    }
  }
  return m;
}

void ExpectSymmetricDoublyStochastic(const Graph& g) {
  MixingWeights w = MetropolisHastingsWeights(g);
  ASSERT_EQ(w.self.size(), static_cast<size_t>(g.size()));
  ASSERT_EQ(w.neighbour.size(), static_cast<size_t>(g.size()));
  auto m = Dense(g, w);
  const size_t n = m.size();
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(w.neighbour[i].size(), g.neighbours[i].size());
    double row = 0.0;
    double col = 0.0;
    for (size_t j = 0; j < n; ++j) {
      EXPECT_EQ(m[i][j], m[j][i]) << i << "," << j;
      EXPECT_GE(m[i][j], 0.0) << i << "," << j;
      row += m[i][j];
      col += m[j][i];
    }
    EXPECT_NEAR(row, 1.0, 1e-12) << "row " << i;
    EXPECT_NEAR(col, 1.0, 1e-12) << "column " << i;
    EXPECT_GT(w.self[i], 0.0) << "peer " << i;
  }
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out << text;
  return path;
}

TEST(ParseTopologyKind, ParsesEveryName) {
  const std::pair<const char*, TopologyKind> cases[] = {
      {"ring", TopologyKind::kRing},
      {"torus", TopologyKind::kTorus},
      {"full", TopologyKind::kFullyConnected},
      {"regular", TopologyKind::kRegular},
      {"erdos-renyi", TopologyKind::kErdosRenyi},
      {"exponential", TopologyKind::kExponential},
      {"edge-list", TopologyKind::kEdgeList},
  };
  for (const auto& [name, kind] : cases) {
    auto parsed = ParseTopologyKind(name);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, kind) << name;
    EXPECT_EQ(TopologyKindName(kind), name);
  }
}

TEST(ParseTopologyKind, RejectsUnknownNameListingValidOnes) {
  for (const char* bad : {"", "Ring", "star", "erdos_renyi"}) {
    auto parsed = ParseTopologyKind(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(),
                HasSubstr("ring, torus, full, regular, erdos-renyi, "
                          "exponential, edge-list"));
  }
}

TEST(MakeTopology, RingHasDegreeTwoAndIsConnected) {
  for (int64_t n : {3, 4, 10, 101}) {
    SCOPED_TRACE(n);
    Graph g = MustMake(TopologyKind::kRing, n);
    ASSERT_EQ(g.size(), n);
    ExpectSimpleUndirected(g);
    ExpectAllDegrees(g, 2);
    EXPECT_EQ(g.num_edges(), n);
    EXPECT_TRUE(IsConnected(g));
  }
  Graph g = MustMake(TopologyKind::kRing, 5);
  EXPECT_THAT(g.neighbours[0], ElementsAre(1, 4));
  EXPECT_THAT(g.neighbours[2], ElementsAre(1, 3));
}

TEST(MakeTopology, TinyRingsAreASingleEdgeOrASinglePeer) {
  Graph two = MustMake(TopologyKind::kRing, 2);
  EXPECT_THAT(two.neighbours[0], ElementsAre(1));
  EXPECT_THAT(two.neighbours[1], ElementsAre(0));
  EXPECT_EQ(two.num_edges(), 1);

  Graph one = MustMake(TopologyKind::kRing, 1);
  EXPECT_EQ(one.size(), 1);
  EXPECT_EQ(one.num_edges(), 0);
  EXPECT_TRUE(IsConnected(one));
}

TEST(MakeTopology, RejectsSizesOutsideRange) {
  TopologyConfig config;
  for (int64_t n : {int64_t{0}, int64_t{-3}, int64_t{1} << 32}) {
    auto g = MakeTopology(config, n, 1);
    ASSERT_FALSE(g.ok()) << n;
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(MakeTopology, TorusFourByFourHasDegreeFour) {
  Graph g = MustMake(TopologyKind::kTorus, 16);
  ExpectSimpleUndirected(g);
  ExpectAllDegrees(g, 4);
  EXPECT_EQ(g.num_edges(), 32);
  EXPECT_TRUE(IsConnected(g));
  // Peer 0 at (0,0): right 1, left 3, down 4, up 12.
  EXPECT_THAT(g.neighbours[0], ElementsAre(1, 3, 4, 12));
  // Peer 5 at (1,1).
  EXPECT_THAT(g.neighbours[5], ElementsAre(1, 4, 6, 9));
}

TEST(MakeTopology, TorusUsesMostSquareFactorization) {
  // 36 = 6 x 6 (not 3 x 12): peer 0 links to 1, 5, 6, 30.
  Graph g36 = MustMake(TopologyKind::kTorus, 36);
  ExpectAllDegrees(g36, 4);
  EXPECT_THAT(g36.neighbours[0], ElementsAre(1, 5, 6, 30));
  // 12 = 3 x 4: peer 0 links to 1, 3 (row) and 4, 8 (column).
  Graph g12 = MustMake(TopologyKind::kTorus, 12);
  ExpectAllDegrees(g12, 4);
  EXPECT_THAT(g12.neighbours[0], ElementsAre(1, 3, 4, 8));
}

TEST(MakeTopology, TorusRejectsSizesWithoutFactorizationSuggestingRing) {
  TopologyConfig config;
  config.kind = TopologyKind::kTorus;
  for (int64_t n : {1, 4, 7, 8, 10, 13, 22}) {
    auto g = MakeTopology(config, n, 1);
    ASSERT_FALSE(g.ok()) << n;
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(g.status().message(), HasSubstr("ring"));
  }
}

TEST(MakeTopology, FullGraphHasEveryPair) {
  for (int64_t n : {1, 2, 7, 30}) {
    SCOPED_TRACE(n);
    Graph g = MustMake(TopologyKind::kFullyConnected, n);
    ExpectSimpleUndirected(g);
    ExpectAllDegrees(g, static_cast<size_t>(n - 1));
    EXPECT_EQ(g.num_edges(), n * (n - 1) / 2);
  }
}

TEST(MakeTopology, RegularGraphIsSimpleSixRegularAndConnected) {
  TopologyConfig config;
  config.kind = TopologyKind::kRegular;
  config.degree = 6;
  auto g = MakeTopology(config, 1000, 42);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(g->size(), 1000);
  ExpectSimpleUndirected(*g);
  ExpectAllDegrees(*g, 6);
  EXPECT_EQ(g->num_edges(), 3000);
  EXPECT_TRUE(IsConnected(*g));
}

TEST(MakeTopology, RegularGraphIsReproducibleFromSeed) {
  TopologyConfig config;
  config.kind = TopologyKind::kRegular;
  config.degree = 6;
  auto a = MakeTopology(config, 1000, 7);
  auto b = MakeTopology(config, 1000, 7);
  auto c = MakeTopology(config, 1000, 8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->neighbours, b->neighbours);
  EXPECT_NE(a->neighbours, c->neighbours);
}

TEST(MakeTopology, RegularGraphIsValidOverManySeedsAndSizes) {
  TopologyConfig config;
  config.kind = TopologyKind::kRegular;
  const std::pair<int64_t, int64_t> cases[] = {
      {4, 3}, {6, 3}, {10, 3}, {10, 4}, {11, 4}, {50, 7}, {64, 5}};
  for (const auto& [n, d] : cases) {
    config.degree = d;
    for (uint64_t seed = 0; seed < 20; ++seed) {
      SCOPED_TRACE(::testing::Message()
                   << "n=" << n << " d=" << d << " seed=" << seed);
      auto g = MakeTopology(config, n, seed);
      ASSERT_TRUE(g.ok()) << g.status().ToString();
      ExpectSimpleUndirected(*g);
      ExpectAllDegrees(*g, static_cast<size_t>(d));
      EXPECT_TRUE(IsConnected(*g));
    }
  }
}

TEST(MakeTopology, DenseRegularGraphIsExact) {
  // d > (n-1)/2 goes through the complement; d = n-1 is the complete graph.
  TopologyConfig config;
  config.kind = TopologyKind::kRegular;
  for (int64_t d : {12, 15, 19}) {
    config.degree = d;
    for (uint64_t seed = 0; seed < 5; ++seed) {
      SCOPED_TRACE(::testing::Message() << "d=" << d << " seed=" << seed);
      auto g = MakeTopology(config, 20, seed);
      ASSERT_TRUE(g.ok()) << g.status().ToString();
      ExpectSimpleUndirected(*g);
      ExpectAllDegrees(*g, static_cast<size_t>(d));
      EXPECT_TRUE(IsConnected(*g));
    }
  }
}

TEST(MakeTopology, RegularRejectsImpossibleDegrees) {
  TopologyConfig config;
  config.kind = TopologyKind::kRegular;
  const std::pair<int64_t, int64_t> bad[] = {
      {5, 3},    // n * d odd
      {10, 10},  // d >= n
      {10, -1},  // negative
      {10, 1},   // perfect matching, never connected
      {10, 0},   // no edges
  };
  for (const auto& [n, d] : bad) {
    config.degree = d;
    auto g = MakeTopology(config, n, 1);
    ASSERT_FALSE(g.ok()) << "n=" << n << " d=" << d;
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  }
  config.degree = 3;
  auto odd = MakeTopology(config, 5, 1);
  EXPECT_THAT(odd.status().message(), HasSubstr("even"));
}

TEST(MakeTopology, ErdosRenyiWithProbabilityOneIsComplete) {
  TopologyConfig config;
  config.kind = TopologyKind::kErdosRenyi;
  config.edge_prob = 1.0;
  auto g = MakeTopology(config, 25, 3);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ExpectSimpleUndirected(*g);
  ExpectAllDegrees(*g, 24);
  EXPECT_EQ(g->num_edges(), 25 * 24 / 2);
}

TEST(MakeTopology, ErdosRenyiIsConnectedAndReproducible) {
  TopologyConfig config;
  config.kind = TopologyKind::kErdosRenyi;
  config.edge_prob = 0.05;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    SCOPED_TRACE(seed);
    auto a = MakeTopology(config, 200, seed);
    auto b = MakeTopology(config, 200, seed);
    ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString();
    ExpectSimpleUndirected(*a);
    EXPECT_TRUE(IsConnected(*a));
    EXPECT_EQ(a->neighbours, b->neighbours);
  }
}

TEST(MakeTopology, ErdosRenyiEdgeCountMatchesExpectation) {
  // Dense enough to be connected on the first sample, so the count is a
  // single Binomial(n(n-1)/2, p): mean 19990, sd ~141. Allow 6 sd.
  TopologyConfig config;
  config.kind = TopologyKind::kErdosRenyi;
  config.edge_prob = 0.01;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    SCOPED_TRACE(seed);
    auto g = MakeTopology(config, 2000, seed);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_NEAR(static_cast<double>(g->num_edges()), 19990.0, 6 * 141.0);
  }
}

TEST(MakeTopology, ErdosRenyiRejectsProbabilityOutsideUnitInterval) {
  TopologyConfig config;
  config.kind = TopologyKind::kErdosRenyi;
  for (double p : {0.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    config.edge_prob = p;
    auto g = MakeTopology(config, 10, 1);
    ASSERT_FALSE(g.ok()) << p;
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(MakeTopology, ErdosRenyiFailsWhenNeverConnected) {
  TopologyConfig config;
  config.kind = TopologyKind::kErdosRenyi;
  config.edge_prob = 1e-4;  // far below ln(1000)/1000 ~ 0.0069
  auto g = MakeTopology(config, 1000, 1);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(g.status().message(), HasSubstr("ln(n)/n"));
}

TEST(MakeTopology, ExponentialGraphMatchesHandCount) {
  // n = 16: offsets +-1, +-2, +-4, +8 (== -8): 7 distinct neighbours.
  Graph g16 = MustMake(TopologyKind::kExponential, 16);
  ExpectSimpleUndirected(g16);
  ExpectAllDegrees(g16, 7);
  EXPECT_THAT(g16.neighbours[0], ElementsAre(1, 2, 4, 8, 12, 14, 15));
  EXPECT_THAT(g16.neighbours[5], ElementsAre(1, 3, 4, 6, 7, 9, 13));
  EXPECT_TRUE(IsConnected(g16));
  // n = 12: +-1 -> 1, 11; +-2 -> 2, 10; +-4 -> 4, 8; +-8 -> 8, 4 (repeats).
  Graph g12 = MustMake(TopologyKind::kExponential, 12);
  ExpectAllDegrees(g12, 6);
  EXPECT_THAT(g12.neighbours[0], ElementsAre(1, 2, 4, 8, 10, 11));
  // Tiny sizes.
  EXPECT_EQ(MustMake(TopologyKind::kExponential, 1).num_edges(), 0);
  EXPECT_EQ(MustMake(TopologyKind::kExponential, 2).num_edges(), 1);
  ExpectAllDegrees(MustMake(TopologyKind::kExponential, 3), 2);
}

TEST(ParseEdgeList, AcceptsCommentsBlankLinesAndMergesDuplicates) {
  const std::string text =
      "# a path 0-1-2 plus 3-0\n"
      "\n"
      "0 1\n"
      "1\t2   # trailing comment\r\n"
      "   \n"
      "1 0\n"  // reverse of 0 1
      "0 1\n"  // repeat
      "3 0";   // no final newline
  auto g = ParseEdgeList(text, 5);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ExpectSimpleUndirected(*g);
  EXPECT_EQ(g->size(), 5);
  EXPECT_EQ(g->num_edges(), 3);
  EXPECT_THAT(g->neighbours[0], ElementsAre(1, 3));
  EXPECT_THAT(g->neighbours[1], ElementsAre(0, 2));
  EXPECT_THAT(g->neighbours[2], ElementsAre(1));
  EXPECT_THAT(g->neighbours[3], ElementsAre(0));
  EXPECT_TRUE(g->neighbours[4].empty());
  EXPECT_FALSE(IsConnected(*g));
}

TEST(ParseEdgeList, RejectsBadLinesNamingTheLineNumber) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"0 1\n# c\n0 x\n", "line 3"},
      {"0 1\n1\n", "line 2"},
      {"0 1 2\n", "line 1"},
      {"0 -1\n", "line 1"},
      {"0 1.5\n", "line 1"},
      {"\n\n\n\n2 10\n", "line 5"},
      {"0 1\n0 99999999999999999999999\n", "line 2"},
      {"0 1\n1 2\n2 2\n", "line 3"},
  };
  for (const auto& c : cases) {
    auto g = ParseEdgeList(c.text, 10);
    ASSERT_FALSE(g.ok()) << c.text;
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(g.status().message(), HasSubstr(c.expect)) << c.text;
  }
  EXPECT_THAT(ParseEdgeList("2 10\n", 10).status().message(),
              HasSubstr("peer id 10"));
  EXPECT_THAT(ParseEdgeList("2 2\n", 10).status().message(),
              HasSubstr("self-loop"));
}

TEST(MakeTopology, ReadsEdgeListFile) {
  TopologyConfig config;
  config.kind = TopologyKind::kEdgeList;
  config.edge_list_path =
      WriteTempFile("murmur_topology_star.txt", "# star\n0 1\n0 2\n0 3\n");
  auto g = MakeTopology(config, 4, 1);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_THAT(g->neighbours[0], ElementsAre(1, 2, 3));
  EXPECT_TRUE(IsConnected(*g));
  std::remove(config.edge_list_path.c_str());
}

TEST(MakeTopology, EdgeListErrorsNameFileAndLine) {
  TopologyConfig config;
  config.kind = TopologyKind::kEdgeList;
  config.edge_list_path =
      WriteTempFile("murmur_topology_bad.txt", "0 1\n1 7\n");
  auto bad = MakeTopology(config, 4, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("murmur_topology_bad.txt"));
  EXPECT_THAT(bad.status().message(), HasSubstr("line 2"));
  std::remove(config.edge_list_path.c_str());

  config.edge_list_path = ::testing::TempDir() + "/no_such_murmur_edges.txt";
  auto missing = MakeTopology(config, 4, 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  config.edge_list_path.clear();
  auto empty = MakeTopology(config, 4, 1);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
}

TEST(IsConnected, DetectsSeparateComponents) {
  auto g = ParseEdgeList("0 1\n2 3\n", 4);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(IsConnected(*g));
  auto joined = ParseEdgeList("0 1\n2 3\n1 2\n", 4);
  ASSERT_TRUE(joined.ok());
  EXPECT_TRUE(IsConnected(*joined));
  EXPECT_TRUE(IsConnected(Graph{}));
}

TEST(MetropolisHastingsWeights, MatchHandComputedPathGraph) {
  // 0-1-2: degrees 1, 2, 1. W01 = W12 = 1/(1+2) = 1/3; W00 = W22 = 2/3;
  // W11 = 1 - 2/3 = 1/3.
  auto g = ParseEdgeList("0 1\n1 2\n", 3);
  ASSERT_TRUE(g.ok());
  MixingWeights w = MetropolisHastingsWeights(*g);
  EXPECT_NEAR(w.self[0], 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(w.self[1], 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(w.self[2], 2.0 / 3.0, 1e-15);
  ASSERT_THAT(w.neighbour[0], ::testing::SizeIs(1));
  ASSERT_THAT(w.neighbour[1], ::testing::SizeIs(2));
  EXPECT_NEAR(w.neighbour[0][0], 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(w.neighbour[1][0], 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(w.neighbour[1][1], 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(w.neighbour[2][0], 1.0 / 3.0, 1e-15);
}

TEST(MetropolisHastingsWeights, MatchHandComputedStar) {
  // Star with centre 0 and 4 leaves: W0j = 1/5, W00 = 1/5, Wjj = 4/5.
  auto g = ParseEdgeList("0 1\n0 2\n0 3\n0 4\n", 5);
  ASSERT_TRUE(g.ok());
  MixingWeights w = MetropolisHastingsWeights(*g);
  EXPECT_NEAR(w.self[0], 0.2, 1e-15);
  for (int j = 1; j <= 4; ++j) {
    EXPECT_NEAR(w.self[j], 0.8, 1e-15);
    EXPECT_NEAR(w.neighbour[0][j - 1], 0.2, 1e-15);
    EXPECT_NEAR(w.neighbour[j][0], 0.2, 1e-15);
  }
}

TEST(MetropolisHastingsWeights, AreSymmetricAndDoublyStochastic) {
  {
    SCOPED_TRACE("ring");
    ExpectSymmetricDoublyStochastic(MustMake(TopologyKind::kRing, 10));
  }
  {
    SCOPED_TRACE("torus");
    ExpectSymmetricDoublyStochastic(MustMake(TopologyKind::kTorus, 20));
  }
  {
    SCOPED_TRACE("exponential");
    ExpectSymmetricDoublyStochastic(MustMake(TopologyKind::kExponential, 23));
  }
  {
    SCOPED_TRACE("full");
    ExpectSymmetricDoublyStochastic(MustMake(TopologyKind::kFullyConnected, 9));
  }
  {
    SCOPED_TRACE("lollipop");  // K4 on 0..3 with a tail 3-4-5-6
    auto g = ParseEdgeList("0 1\n0 2\n0 3\n1 2\n1 3\n2 3\n3 4\n4 5\n5 6\n", 7);
    ASSERT_TRUE(g.ok());
    ExpectSymmetricDoublyStochastic(*g);
  }
  {
    SCOPED_TRACE("with isolated peer");
    auto g = ParseEdgeList("0 1\n1 2\n", 4);
    ASSERT_TRUE(g.ok());
    ExpectSymmetricDoublyStochastic(*g);
    EXPECT_EQ(MetropolisHastingsWeights(*g).self[3], 1.0);
  }
  TopologyConfig config;
  config.kind = TopologyKind::kErdosRenyi;
  config.edge_prob = 0.15;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    SCOPED_TRACE(::testing::Message() << "erdos-renyi seed=" << seed);
    auto g = MakeTopology(config, 60, seed);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    ExpectSymmetricDoublyStochastic(*g);
  }
}

// x <- W x, using W stored along the adjacency lists.
std::vector<double> Mix(const Graph& g, const MixingWeights& w,
                        const std::vector<double>& x) {
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double acc = w.self[i] * x[i];
    for (size_t k = 0; k < g.neighbours[i].size(); ++k) {
      acc += w.neighbour[i][k] * x[g.neighbours[i][k]];
    }
    out[i] = acc;
  }
  return out;
}

void ExpectMixingReachesAverage(const Graph& g, int iterations) {
  MixingWeights w = MetropolisHastingsWeights(g);
  std::vector<double> x(static_cast<size_t>(g.size()));
  double average = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<double>((i * 37) % 11) - 3.5 + 0.25 * i;
    average += x[i];
  }
  average /= static_cast<double>(x.size());
  for (int t = 0; t < iterations; ++t) x = Mix(g, w, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(x[i], average, 1e-9) << "peer " << i;
  }
}

TEST(MetropolisHastingsWeights, RepeatedMixingConvergesToExactAverage) {
  {
    SCOPED_TRACE("ring of 10");
    ExpectMixingReachesAverage(MustMake(TopologyKind::kRing, 10), 500);
  }
  {
    SCOPED_TRACE("lollipop");
    auto g = ParseEdgeList("0 1\n0 2\n0 3\n1 2\n1 3\n2 3\n3 4\n4 5\n5 6\n", 7);
    ASSERT_TRUE(g.ok());
    ExpectMixingReachesAverage(*g, 2000);
  }
  {
    SCOPED_TRACE("regular n=100 d=4");
    TopologyConfig config;
    config.kind = TopologyKind::kRegular;
    config.degree = 4;
    auto g = MakeTopology(config, 100, 5);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    ExpectMixingReachesAverage(*g, 500);
  }
}

}  // namespace
}  // namespace murmur
