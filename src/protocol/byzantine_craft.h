// The model a decentralized Byzantine peer (D-PSGD, gossip) sends one
// receiver, shared by ByzantineDpsgdNode and ByzantineGossipNode so both
// protocols carry out every attack the same way (protocol/byzantine.h).
#pragma once

#include <span>
#include <vector>

#include "murmur/protocol/byzantine.h"
#include "murmur/robust/aggregator.h"

namespace murmur {

struct CraftInput {
  std::span<const float> base;     // the attacker's model before training
  std::span<const float> trained;  // ...and after (= base for free riders)
  VectorList honest;               // honest models it knows, possibly empty
  std::span<const float> receiver; // the receiver's model if known, else empty
  std::span<const float> noise;    // gaussian: the draw to add to base
};

// Attacks that need honest models fall back to the trained model when
// `honest` is empty. REQUIRES: base, trained (and noise for gaussian) of
// one size; every honest model and the receiver of that size.
std::vector<float> CraftModel(const ByzantineConfig& config, const CraftInput& in);

}  // namespace murmur
