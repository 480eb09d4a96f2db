// How a node combines its own model with models from other peers through a
// robust rule (robust/), when a run's [robust] table asks for one.
//
// Every rule sees vectors relative to the combining node's own model: input
// j is x_j - own, the node's own model (when it is an input) is the zero
// vector, the reference (for MoNNA and centered clipping) is the zero vector
// (= the own model), and the result is own + Rule(...). For rules that are
// translation-equivariant (mean, median, trimmed mean, Krum, Bulyan,
// geometric median...) this equals aggregating the models themselves; for
// clipping (static clip, ARC, centered clipping) it clips each peer's
// distance from the own model, as ClippedGossip does (He, Karimireddy,
// Jaggi, 2022, "Byzantine-robust Decentralized Learning via ClippedGossip"),
// and for FedAvg it clips client updates (model - global).
//
// The default configuration (rule "mean", no pre-aggregator) is
// is_plain_average(): protocols then keep their own weighted average
// (FedAvg's sample weights, D-PSGD's Metropolis-Hastings weights, gossip's
// pairwise average) bit for bit and never call Combine.
//
// Thread-safety: Combine is const and the rule is built without a pool, so
// one combiner may be shared by all nodes of a simulation.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"
#include "murmur/robust/aggregator.h"
#include "murmur/robust/factory.h"
#include "murmur/robust/sybilwall.h"

namespace murmur {

enum class OwnModel { kIsInput, kReferenceOnly };

// The [robust] rules a protocol builds itself rather than MakeAggregator --
// "sybilwall" (options lambda, pardoning, logit from the [sybilwall] table)
// and "bristle" (exploit, explore; protocol/bristle_combiner.h) -- for
// ReadAggregatorConfig.
std::vector<RuleSpec> CombinerRuleSpecs();

class ModelCombiner {
 public:
  // kInvalidArgument from MakeAggregator (unknown rule, bad option, f < 0).
  static Result<std::shared_ptr<const ModelCombiner>> Make(const AggregatorConfig& config);

  bool is_plain_average() const { return plain_average_; }
  // Whether a node combining with this rule can be snapshotted
  // (Node::CanSnapshot): every built-in rule is a pure function of its
  // inputs and the caller's rng, whose position the simulator saves; a
  // Python rule ("py:...", robust/external_rules.h) may keep state inside
  // its callable, out of a snapshot's reach, so it cannot.
  bool CanSnapshot() const;
  const Aggregator& rule() const { return *rule_; }

  // robust.rule = "sybilwall" is SybilWall (robust/sybilwall.h), which is
  // not a stateless rule over one round's inputs: D-PSGD keeps the update
  // histories and gossips them (protocol/sybilwall.h) and calls
  // SybilWallAggregate itself. Its options: lambda (> 0, default 0.8),
  // pardoning and logit (0 or 1, default 1); it takes no pre-aggregators.
  // sybilwall() returns them for that rule, else null; rule() is then the
  // similarity score's weighted mean with the same score options (used only
  // by D-PSGD's final merge, which has no histories).
  static constexpr std::string_view kSybilWallRule = "sybilwall";
  const SybilWallOptions* sybilwall() const {
    return sybilwall_ ? &*sybilwall_ : nullptr;
  }

  // own <- own + Rule(inputs), inputs = {0 if kIsInput} + {x_j - own}.
  // `weights` (one per input, own first when it is an input) are passed to
  // rules that accept weights and ignored by the others. `rng` feeds
  // randomized pre-aggregators (bucketing). On error (the rule's
  // precondition fails for this many inputs, or every input is non-finite)
  // `own` is left unchanged and the rule's status is returned.
  Status Combine(std::span<float> own, VectorList others, OwnModel own_model,
                 std::span<const double> weights, Rng& rng) const;

 private:
  ModelCombiner(std::unique_ptr<Aggregator> rule, bool plain_average)
      : rule_(std::move(rule)), plain_average_(plain_average) {}
  static Result<std::shared_ptr<const ModelCombiner>> MakeSybilWall(
      const AggregatorConfig& config);

  std::unique_ptr<Aggregator> rule_;
  bool plain_average_;
  std::optional<SybilWallOptions> sybilwall_;
};

}  // namespace murmur
