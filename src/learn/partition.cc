#include "murmur/learn/partition.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <utility>

#include "murmur/core/rng.h"

namespace murmur {
namespace {

constexpr int kMaxDirichletDraws = 1000;

void SortEach(Partition& partition) {
  for (auto& list : partition) std::sort(list.begin(), list.end());
}

Partition IidPartition(int64_t n, int64_t peers, Rng& rng) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  rng.Shuffle(std::span<int64_t>(order));
  Partition out(peers);
  const int64_t base = n / peers;
  const int64_t extra = n % peers;
  int64_t next = 0;
  for (int64_t p = 0; p < peers; ++p) {
    int64_t size = base + (p < extra ? 1 : 0);
    out[p].assign(order.begin() + next, order.begin() + next + size);
    next += size;
  }
  SortEach(out);
  return out;
}

Result<Partition> DirichletPartition(std::span<const int64_t> labels,
                                     int64_t num_classes, int64_t peers,
                                     double alpha, int64_t min_samples,
                                     Rng& rng) {
  const int64_t n = static_cast<int64_t>(labels.size());
  if (min_samples > n / peers) {
    return Status::InvalidArgument(
        "Dirichlet partition: ", peers, " peers with at least ", min_samples,
        " samples each need more than the ", n, " samples there are");
  }
  std::vector<std::vector<int64_t>> by_class(num_classes);
  for (int64_t i = 0; i < n; ++i) by_class[labels[i]].push_back(i);
  // Which samples of a class go to which peer is independent of the
  // proportions, so one shuffle per class serves every draw.
  for (auto& members : by_class) rng.Shuffle(std::span<int64_t>(members));

  std::vector<double> proportions(peers);
  std::vector<int64_t> sizes(peers);
  // cuts[c][p] = first position in by_class[c] that does not go to peers <= p.
  std::vector<std::vector<int64_t>> cuts(num_classes,
                                         std::vector<int64_t>(peers));
  for (int draw = 0; draw < kMaxDirichletDraws; ++draw) {
    std::fill(sizes.begin(), sizes.end(), 0);
    for (int64_t c = 0; c < num_classes; ++c) {
      const int64_t count = static_cast<int64_t>(by_class[c].size());
      double total = 0;
      for (double& p : proportions) {
        p = rng.Gamma(alpha);
        total += p;
      }
      if (!(total > 0) || !std::isfinite(total)) {
        // Tiny alpha can underflow every Gamma draw to zero: the limit of
        // Dir(alpha -> 0) is all mass on one uniformly chosen peer.
        std::fill(proportions.begin(), proportions.end(), 0.0);
        proportions[rng.UniformInt(peers)] = 1.0;
        total = 1.0;
      }
      double cumulative = 0;
      int64_t previous = 0;
      for (int64_t p = 0; p < peers; ++p) {
        cumulative += proportions[p];
        int64_t cut =
            p + 1 == peers
                ? count
                : std::min<int64_t>(
                      count, static_cast<int64_t>(std::llround(
                                 cumulative / total * static_cast<double>(count))));
        cut = std::max(cut, previous);
        cuts[c][p] = cut;
        sizes[p] += cut - previous;
        previous = cut;
      }
    }
    if (*std::min_element(sizes.begin(), sizes.end()) < min_samples) continue;
    Partition out(peers);
    for (int64_t p = 0; p < peers; ++p) out[p].reserve(sizes[p]);
    for (int64_t c = 0; c < num_classes; ++c) {
      int64_t begin = 0;
      for (int64_t p = 0; p < peers; ++p) {
        out[p].insert(out[p].end(), by_class[c].begin() + begin,
                      by_class[c].begin() + cuts[c][p]);
        begin = cuts[c][p];
      }
    }
    SortEach(out);
    return out;
  }
  return Status::InvalidArgument(
      "Dirichlet partition: no draw out of ", kMaxDirichletDraws,
      " with alpha=", alpha, " gave all ", peers, " peers at least ",
      min_samples, " of ", n,
      " samples; raise alpha, lower data.min_samples_per_peer or use fewer "
      "peers");
}

Result<Partition> ShardPartition(std::span<const int64_t> labels,
                                 int64_t peers, int64_t shards_per_peer,
                                 Rng& rng) {
  const int64_t n = static_cast<int64_t>(labels.size());
  if (shards_per_peer > n / peers) {
    return Status::InvalidArgument(
        "shard partition: ", peers, " peers x ", shards_per_peer,
        " shards per peer is more shards than the ", n, " samples");
  }
  const int64_t num_shards = peers * shards_per_peer;
  const int64_t shard_size = n / num_shards;
  std::vector<int64_t> sorted(n);
  std::iota(sorted.begin(), sorted.end(), 0);
  std::stable_sort(sorted.begin(), sorted.end(), [&](int64_t a, int64_t b) {
    return labels[a] < labels[b];
  });
  std::vector<int64_t> shard_ids(num_shards);
  std::iota(shard_ids.begin(), shard_ids.end(), 0);
  rng.Shuffle(std::span<int64_t>(shard_ids));
  Partition out(peers);
  for (int64_t p = 0; p < peers; ++p) {
    out[p].reserve(shard_size * shards_per_peer);
    for (int64_t k = 0; k < shards_per_peer; ++k) {
      int64_t shard = shard_ids[p * shards_per_peer + k];
      out[p].insert(out[p].end(), sorted.begin() + shard * shard_size,
                    sorted.begin() + (shard + 1) * shard_size);
    }
  }
  SortEach(out);
  return out;
}

}  // namespace

Result<Partition> PartitionDataset(std::span<const int64_t> labels,
                                   int64_t num_classes, int64_t peers,
                                   const PartitionConfig& config,
                                   uint64_t seed) {
  const int64_t n = static_cast<int64_t>(labels.size());
  if (peers < 1) {
    return Status::InvalidArgument("partition: peers=", peers,
                                   " must be at least 1");
  }
  if (peers > n) {
    return Status::InvalidArgument("partition: ", peers,
                                   " peers but only ", n, " samples");
  }
  if (num_classes < 1) {
    return Status::InvalidArgument("partition: num_classes=", num_classes,
                                   " must be at least 1");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      return Status::InvalidArgument("partition: label ", labels[i],
                                     " of sample ", i, " is not in [0, ",
                                     num_classes, ")");
    }
  }
  Rng rng(seed, PeerId{0}, RngPurpose::kPartition);
  switch (config.kind) {
    case PartitionKind::kIid:
      return IidPartition(n, peers, rng);
    case PartitionKind::kDirichlet:
      if (!(config.alpha > 0) || !std::isfinite(config.alpha)) {
        return Status::InvalidArgument("Dirichlet partition: alpha=",
                                       config.alpha, " must be positive");
      }
      return DirichletPartition(labels, num_classes, peers, config.alpha,
                                std::max<int64_t>(0, config.min_samples_per_peer),
                                rng);
    case PartitionKind::kNatural:
      return Status::InvalidArgument(
          "natural partition: needs each sample's writer; partition the Dataset");
    case PartitionKind::kShards:
      if (config.shards_per_peer < 1) {
        return Status::InvalidArgument("shard partition: shards_per_peer=",
                                       config.shards_per_peer,
                                       " must be at least 1");
      }
      return ShardPartition(labels, peers, config.shards_per_peer, rng);
  }
  return Status::InvalidArgument("partition: unknown kind ",
                                 static_cast<int>(config.kind));
}

Result<Partition> NaturalPartition(std::span<const int64_t> writers, int64_t num_writers,
                                   int64_t peers, uint64_t seed) {
  if (peers < 1) {
    return Status::InvalidArgument("partition: peers=", peers, " must be at least 1");
  }
  std::vector<int64_t> counts(static_cast<size_t>(std::max<int64_t>(num_writers, 0)), 0);
  for (size_t i = 0; i < writers.size(); ++i) {
    if (writers[i] < 0 || writers[i] >= num_writers) {
      return Status::InvalidArgument("natural partition: writer ", writers[i], " of sample ", i,
                                     " is not in [0, ", num_writers, ")");
    }
    ++counts[writers[i]];
  }
  std::vector<int64_t> order;
  for (int64_t w = 0; w < num_writers; ++w) {
    if (counts[w] > 0) order.push_back(w);
  }
  if (static_cast<int64_t>(order.size()) < peers) {
    return Status::InvalidArgument(
        "natural partition: the dataset has ", order.size(), " writers but there are ", peers,
        " peers, and a writer is never split; use at most ", order.size(), " peers");
  }
  Rng rng(seed, PeerId{0}, RngPurpose::kPartition);
  rng.Shuffle(std::span<int64_t>(order));
  // Least-loaded first: (load, peer) ordered, so ties go to the lower peer.
  std::set<std::pair<int64_t, int64_t>> loads;
  for (int64_t p = 0; p < peers; ++p) loads.insert({0, p});
  std::vector<int64_t> peer_of(counts.size(), -1);
  for (int64_t w : order) {
    auto [load, peer] = *loads.begin();
    loads.erase(loads.begin());
    peer_of[w] = peer;
    loads.insert({load + counts[w], peer});
  }
  Partition out(peers);
  for (size_t i = 0; i < writers.size(); ++i) {
    out[peer_of[writers[i]]].push_back(static_cast<int64_t>(i));
  }
  return out;
}

Result<Partition> PartitionDataset(const Dataset& train, int64_t peers,
                                   const PartitionConfig& config, uint64_t seed) {
  if (config.kind != PartitionKind::kNatural) {
    return PartitionDataset(train.labels, train.num_classes, peers, config, seed);
  }
  if (train.writers.empty()) {
    return Status::InvalidArgument(
        "data.partition = \"natural\" needs a dataset that records who wrote each sample "
        "(data.dataset = \"leaf\", or \"npz\" with a writer_train array); the '", train.name,
        "' training set has none: use data.partition = \"iid\", \"dirichlet\" or \"shards\"");
  }
  if (train.writers.size() != train.labels.size()) {
    return Status::InvalidArgument("natural partition: ", train.writers.size(),
                                   " writer ids for ", train.labels.size(), " samples");
  }
  return NaturalPartition(train.writers, train.num_writers, peers, seed);
}

std::vector<std::vector<int64_t>> ClassHistograms(
    std::span<const int64_t> labels, int64_t num_classes,
    const Partition& partition) {
  std::vector<std::vector<int64_t>> out(
      partition.size(), std::vector<int64_t>(num_classes, 0));
  for (size_t p = 0; p < partition.size(); ++p) {
    for (int64_t index : partition[p]) {
      MURMUR_CHECK(index >= 0 && index < static_cast<int64_t>(labels.size()));
      int64_t label = labels[index];
      MURMUR_CHECK(label >= 0 && label < num_classes);
      ++out[p][label];
    }
  }
  return out;
}

}  // namespace murmur
