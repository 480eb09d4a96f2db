#include "murmur/protocol/byzantine.h"

#include <algorithm>
#include <cmath>

#include "murmur/core/check.h"
#include "murmur/core/rng.h"

namespace murmur {
namespace {

// Indexed by AttackKind.
const char* const kAttackNames[] = {"none",  "sign-flip", "gaussian", "label-flip", "alie",
                                    "ipm",   "mimic",     "nan",      "inf",        "crash",
                                    "omission", "free-ride", "sybil",  "equivocation"};

}  // namespace

std::vector<std::string> AttackNames() {
  return std::vector<std::string>(std::begin(kAttackNames), std::end(kAttackNames));
}

std::string AttackName(AttackKind kind) { return kAttackNames[static_cast<int>(kind)]; }

Result<AttackKind> ParseAttackKind(const std::string& name) {
  for (size_t i = 0; i < std::size(kAttackNames); ++i) {
    if (name == kAttackNames[i]) return static_cast<AttackKind>(i);
  }
  std::string known;
  for (const char* n : kAttackNames) known += (known.empty() ? "" : ", ") + std::string(n);
  return Status::InvalidArgument("unknown attack '", name, "'; known: ", known);
}

Result<int64_t> ByzantineCount(const ByzantineConfig& config, int64_t peers) {
  if (config.attack == AttackKind::kNone) return 0;
  if (config.count > 0 && config.fraction > 0) {
    return Status::InvalidArgument("byzantine.count = ", config.count, " and byzantine.fraction = ",
                                   config.fraction, " are both set; set only one");
  }
  const int64_t count =
      config.count > 0
          ? config.count
          : static_cast<int64_t>(std::floor(config.fraction * static_cast<double>(peers) + 1e-9));
  if (count >= peers) {
    return Status::InvalidArgument(count, " Byzantine peers out of ", peers,
                                   " leave no honest peer; lower byzantine.count or "
                                   "byzantine.fraction");
  }
  return count;
}

std::vector<PeerId> ChooseByzantinePeers(const ByzantineConfig& config, int64_t peers,
                                         uint64_t seed) {
  const Result<int64_t> count = ByzantineCount(config, peers);
  MURMUR_CHECK(count.ok());
  std::vector<PeerId> all;
  for (int64_t i = 0; i < peers; ++i) all.push_back(PeerOf(i));
  Rng rng(seed, PeerId(0), RngPurpose::kByzantine);
  rng.Shuffle(std::span<PeerId>(all));
  std::vector<PeerId> chosen(all.begin(), all.begin() + *count);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

bool PoisonsData(AttackKind kind) {
  return kind == AttackKind::kLabelFlip || kind == AttackKind::kSybil;
}

Dataset MakePoisonedDataset(const Dataset& train, std::span<const int64_t> shard,
                            const ByzantineConfig& config) {
  MURMUR_CHECK(PoisonsData(config.attack));
  Dataset out;
  out.name = train.name + " (poisoned)";
  out.channels = train.channels;
  out.height = train.height;
  out.width = train.width;
  out.num_classes = train.num_classes;
  const int64_t dim = train.sample_dim();
  out.features.resize(shard.size() * static_cast<size_t>(dim));
  float* x = out.features.data();
  for (int64_t index : shard) {
    MURMUR_CHECK(index >= 0 && index < train.size());
    train.CopySample(index, x);
    x += dim;
    int64_t y = train.labels[index];
    if (config.attack == AttackKind::kLabelFlip) {
      y = train.num_classes - 1 - y;
    } else if (y == config.source_class) {
      y = config.target_class;
    }
    out.labels.push_back(y);
  }
  return out;
}

}  // namespace murmur
