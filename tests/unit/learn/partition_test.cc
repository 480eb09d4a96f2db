#include "murmur/learn/partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/rng.h"

namespace murmur {
namespace {

// `per_class` samples of each class; label-sorted when `sorted`, else
// interleaved 0,1,...,C-1,0,1,...
enum class LabelOrder { kSorted, kInterleaved };
std::vector<int64_t> Labels(int64_t classes, int64_t per_class,
                            LabelOrder order) {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < classes * per_class; ++i) {
    labels.push_back(order == LabelOrder::kSorted ? i / per_class
                                                  : i % classes);
  }
  return labels;
}

// Every index in [0, n) appears exactly once and each list is sorted.
void ExpectExactCover(const Partition& partition, int64_t n) {
  std::vector<int> seen(n, 0);
  for (const auto& list : partition) {
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
    for (int64_t i : list) {
      ASSERT_GE(i, 0);
      ASSERT_LT(i, n);
      ++seen[i];
    }
  }
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(seen[i], 1) << "index " << i;
}

double MeanTopClassShare(const std::vector<std::vector<int64_t>>& hist) {
  double total = 0;
  for (const auto& h : hist) {
    int64_t size = 0;
    for (int64_t c : h) size += c;
    total += static_cast<double>(*std::max_element(h.begin(), h.end())) /
             static_cast<double>(size);
  }
  return total / static_cast<double>(hist.size());
}

TEST(PartitionDataset, IidSizesDifferByAtMostOneAndCoverAll) {
  std::vector<int64_t> labels = Labels(10, 100, LabelOrder::kSorted);
  labels.resize(1003, 0);
  PartitionConfig config;
  config.kind = PartitionKind::kIid;
  Result<Partition> p = PartitionDataset(labels, 10, 7, config, 42);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->size(), 7u);
  ExpectExactCover(*p, 1003);
  size_t lo = 1003, hi = 0;
  for (const auto& list : *p) {
    lo = std::min(lo, list.size());
    hi = std::max(hi, list.size());
  }
  EXPECT_EQ(lo, 143u);  // 1003 = 7 * 143 + 2
  EXPECT_EQ(hi, 144u);
}

TEST(PartitionDataset, IidMixesLabelSortedData) {
  std::vector<int64_t> labels = Labels(10, 100, LabelOrder::kSorted);
  Result<Partition> p = PartitionDataset(labels, 10, 5, {}, 1);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  for (const auto& h : ClassHistograms(labels, 10, *p)) {
    for (int64_t c : h) EXPECT_GT(c, 0);
  }
}

TEST(PartitionDataset, SinglePeerGetsEverything) {
  std::vector<int64_t> labels = Labels(3, 4, LabelOrder::kInterleaved);
  Result<Partition> p = PartitionDataset(labels, 3, 1, {}, 1);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->size(), 1u);
  ExpectExactCover(*p, 12);
}

TEST(PartitionDataset, DirichletSmallAlphaSkewsClasses) {
  std::vector<int64_t> labels = Labels(10, 500, LabelOrder::kInterleaved);
  PartitionConfig config;
  config.kind = PartitionKind::kDirichlet;
  config.alpha = 0.1;
  config.min_samples_per_peer = 10;
  for (uint64_t seed : {1, 2, 3}) {
    Result<Partition> p = PartitionDataset(labels, 10, 20, config, seed);
    ASSERT_TRUE(p.ok()) << "seed " << seed << ": " << p.status().ToString();
    ExpectExactCover(*p, 5000);
    for (const auto& list : *p) EXPECT_GE(list.size(), 10u);
    // Uniform class mixing would give 0.1.
    EXPECT_GT(MeanTopClassShare(ClassHistograms(labels, 10, *p)), 0.5)
        << "seed " << seed;
  }
}

TEST(PartitionDataset, DirichletLargeAlphaIsNearUniform) {
  std::vector<int64_t> labels = Labels(10, 500, LabelOrder::kSorted);
  PartitionConfig config;
  config.kind = PartitionKind::kDirichlet;
  config.alpha = 1000;
  Result<Partition> p = PartitionDataset(labels, 10, 10, config, 5);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ExpectExactCover(*p, 5000);
  // Each class is split ~50 per peer; Dir(1000) proportions deviate ~3%.
  for (const auto& h : ClassHistograms(labels, 10, *p)) {
    for (int64_t c : h) {
      EXPECT_GT(c, 35);
      EXPECT_LT(c, 65);
    }
  }
}

TEST(PartitionDataset, DirichletGivesUpWhenMinimumIsUnreachable) {
  // With alpha -> 0 each class lands on one peer, so of 10 peers at most 2
  // are non-empty, and no draw can give all of them 10 samples.
  std::vector<int64_t> labels = Labels(2, 500, LabelOrder::kInterleaved);
  PartitionConfig config;
  config.kind = PartitionKind::kDirichlet;
  config.alpha = 1e-3;
  config.min_samples_per_peer = 10;
  Result<Partition> p = PartitionDataset(labels, 2, 10, config, 1);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("1000"), std::string::npos)
      << p.status().message();
}

TEST(PartitionDataset, DirichletTinyAlphaStillCoversAll) {
  std::vector<int64_t> labels = Labels(10, 50, LabelOrder::kInterleaved);
  PartitionConfig config;
  config.kind = PartitionKind::kDirichlet;
  config.alpha = 1e-6;
  config.min_samples_per_peer = 0;
  Result<Partition> p = PartitionDataset(labels, 10, 4, config, 3);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ExpectExactCover(*p, 500);
  // Each class goes whole to one peer.
  for (const auto& h : ClassHistograms(labels, 10, *p)) {
    for (int64_t c : h) EXPECT_TRUE(c == 0 || c == 50) << c;
  }
}

TEST(PartitionDataset, ShardsGiveEachPeerAtMostKClasses) {
  std::vector<int64_t> labels = Labels(10, 100, LabelOrder::kSorted);
  PartitionConfig config;
  config.kind = PartitionKind::kShards;
  config.shards_per_peer = 2;
  for (uint64_t seed : {1, 2, 3, 4}) {
    Result<Partition> p = PartitionDataset(labels, 10, 5, config, seed);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ExpectExactCover(*p, 1000);
    for (const auto& h : ClassHistograms(labels, 10, *p)) {
      int classes = 0;
      int64_t size = 0;
      for (int64_t c : h) {
        classes += c > 0;
        size += c;
      }
      EXPECT_LE(classes, 2) << "seed " << seed;
      EXPECT_EQ(size, 200);
    }
  }
}

TEST(PartitionDataset, ShardsDropTheRemainder) {
  std::vector<int64_t> labels = Labels(10, 100, LabelOrder::kInterleaved);
  labels.resize(1003, 1);
  PartitionConfig config;
  config.kind = PartitionKind::kShards;
  config.shards_per_peer = 2;
  Result<Partition> p = PartitionDataset(labels, 10, 5, config, 1);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::vector<int> seen(1003, 0);
  size_t total = 0;
  for (const auto& list : *p) {
    EXPECT_EQ(list.size(), 200u);  // shard size 1003 / 10 = 100
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
    for (int64_t i : list) EXPECT_EQ(++seen[i], 1);
    total += list.size();
  }
  EXPECT_EQ(total, 1000u);
}

TEST(PartitionDataset, SameSeedSamePartitionDifferentSeedDifferent) {
  std::vector<int64_t> labels = Labels(10, 100, LabelOrder::kInterleaved);
  for (PartitionKind kind :
       {PartitionKind::kIid, PartitionKind::kDirichlet, PartitionKind::kShards}) {
    PartitionConfig config;
    config.kind = kind;
    Result<Partition> a = PartitionDataset(labels, 10, 5, config, 11);
    Result<Partition> b = PartitionDataset(labels, 10, 5, config, 11);
    Result<Partition> c = PartitionDataset(labels, 10, 5, config, 12);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(*a, *b) << static_cast<int>(kind);
    EXPECT_NE(*a, *c) << static_cast<int>(kind);
  }
}

TEST(PartitionDataset, RejectsInvalidArguments) {
  std::vector<int64_t> labels = Labels(10, 10, LabelOrder::kSorted);
  auto code = [&](std::span<const int64_t> l, int64_t peers,
                  PartitionConfig config) {
    return PartitionDataset(l, 10, peers, config, 1).status().code();
  };
  const StatusCode kBad = StatusCode::kInvalidArgument;
  EXPECT_EQ(code(labels, 0, {}), kBad);
  EXPECT_EQ(code(labels, -3, {}), kBad);
  EXPECT_EQ(code(labels, 101, {}), kBad);
  PartitionConfig dirichlet{.kind = PartitionKind::kDirichlet, .alpha = 0};
  EXPECT_EQ(code(labels, 2, dirichlet), kBad);
  dirichlet.alpha = -1;
  EXPECT_EQ(code(labels, 2, dirichlet), kBad);
  dirichlet.alpha = 1;
  dirichlet.min_samples_per_peer = 60;  // 2 x 60 > 100 samples
  EXPECT_EQ(code(labels, 2, dirichlet), kBad);
  PartitionConfig shards{.kind = PartitionKind::kShards,
                         .shards_per_peer = 0};
  EXPECT_EQ(code(labels, 2, shards), kBad);
  shards.shards_per_peer = 11;  // 10 peers x 11 shards > 100 samples
  EXPECT_EQ(code(labels, 10, shards), kBad);
  shards.shards_per_peer = 10;
  EXPECT_TRUE(PartitionDataset(labels, 10, 10, shards, 1).ok());
  std::vector<int64_t> bad = labels;
  bad[5] = 10;
  EXPECT_EQ(code(bad, 2, {}), kBad);
  bad[5] = -1;
  EXPECT_EQ(code(bad, 2, {}), kBad);
}

TEST(ClassHistograms, CountsLabelsPerPeer) {
  std::vector<int64_t> labels = {0, 1, 1, 2, 2};
  Partition partition = {{0, 1}, {2, 3, 4}, {}};
  EXPECT_EQ(ClassHistograms(labels, 3, partition),
            (std::vector<std::vector<int64_t>>{{1, 1, 0}, {0, 1, 2}, {0, 0, 0}}));
}


// Writers of random sizes 1..40 in a random order over `n_writers`.
std::vector<int64_t> RandomWriters(int64_t n_writers, uint64_t seed) {
  Rng rng(seed, PeerId{0}, RngPurpose::kSynthetic);
  std::vector<int64_t> writers;
  for (int64_t w = 0; w < n_writers; ++w) {
    const int64_t count = 1 + static_cast<int64_t>(rng.UniformInt(40));
    writers.insert(writers.end(), count, w);
  }
  rng.Shuffle(std::span<int64_t>(writers));
  return writers;
}

TEST(NaturalPartition, EachWriterWholeOnOnePeerAllSamplesUsedBalancedOverSeeds) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const int64_t n_writers = 5 + static_cast<int64_t>(seed % 23);
    const int64_t peers = 1 + static_cast<int64_t>(seed % 5);
    const std::vector<int64_t> writers = RandomWriters(n_writers, seed);
    Result<Partition> p = NaturalPartition(writers, n_writers, peers, seed);
    ASSERT_TRUE(p.ok()) << p.status().message();
    ASSERT_EQ(static_cast<int64_t>(p->size()), peers);
    ExpectExactCover(*p, static_cast<int64_t>(writers.size()));
    std::vector<int64_t> owner(n_writers, -1);
    std::vector<int64_t> count(n_writers, 0);
    for (int64_t w : writers) ++count[w];
    for (int64_t peer = 0; peer < peers; ++peer) {
      EXPECT_FALSE((*p)[peer].empty());
      for (int64_t i : (*p)[peer]) {
        const int64_t w = writers[i];
        ASSERT_TRUE(owner[w] == -1 || owner[w] == peer) << "writer " << w << " split";
        owner[w] = peer;
      }
    }
    // Greedy to the least-loaded peer: loads differ by at most one writer.
    size_t lo = writers.size(), hi = 0;
    for (const auto& list : *p) {
      lo = std::min(lo, list.size());
      hi = std::max(hi, list.size());
    }
    EXPECT_LE(static_cast<int64_t>(hi - lo), *std::max_element(count.begin(), count.end()));
    Result<Partition> again = NaturalPartition(writers, n_writers, peers, seed);
    EXPECT_EQ(*again, *p);
  }
}

TEST(NaturalPartition, TheSeedChoosesWhichWritersGoTogether) {
  const std::vector<int64_t> writers = RandomWriters(12, 3);
  std::set<Partition> seen;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    seen.insert(NaturalPartition(writers, 12, 3, seed).value());
  }
  EXPECT_GE(seen.size(), 5u);
}

TEST(NaturalPartition, OneWriterPerPeerWhenCountsMatch) {
  const std::vector<int64_t> writers = {2, 0, 1, 2, 0, 1};
  Partition p = NaturalPartition(writers, 3, 3, 7).value();
  std::multiset<std::vector<int64_t>> lists(p.begin(), p.end());
  EXPECT_EQ(lists, (std::multiset<std::vector<int64_t>>{{0, 3}, {1, 4}, {2, 5}}));
}

TEST(NaturalPartition, RejectsFewerWritersThanPeersAndDatasetsWithoutWriters) {
  const std::vector<int64_t> writers = {0, 1, 1, 0};
  Result<Partition> few = NaturalPartition(writers, 2, 3, 1);
  EXPECT_EQ(few.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(few.status().message().find("2 writers but there are 3 peers"), std::string::npos)
      << few.status().message();
  EXPECT_EQ(NaturalPartition(writers, 1, 1, 1).status().code(), StatusCode::kInvalidArgument);

  Dataset data;
  data.name = "synthetic";
  data.num_classes = 2;
  data.labels = {0, 1, 0, 1};
  const PartitionConfig natural{.kind = PartitionKind::kNatural};
  Result<Partition> none = PartitionDataset(data, 2, natural, 1);
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("'synthetic'"), std::string::npos);
  EXPECT_NE(none.status().message().find("natural"), std::string::npos);
  EXPECT_EQ(PartitionDataset(data.labels, 2, 2, natural, 1).status().code(),
            StatusCode::kInvalidArgument);

  data.writers = {1, 0, 1, 0};
  data.num_writers = 2;
  Partition by_writer = PartitionDataset(data, 2, natural, 1).value();
  std::multiset<std::vector<int64_t>> lists(by_writer.begin(), by_writer.end());
  EXPECT_EQ(lists, (std::multiset<std::vector<int64_t>>{{0, 2}, {1, 3}}));
  // Other kinds ignore the writers.
  EXPECT_EQ(PartitionDataset(data, 2, PartitionConfig{}, 1).value(),
            PartitionDataset(data.labels, 2, 2, PartitionConfig{}, 1).value());
}

}  // namespace
}  // namespace murmur
