// The evaluation side of Bristle (robust/bristle.h; Verbraeken, de Vos,
// Pouwelse, 2021, "Bristle: Decentralized Federated Learning in Byzantine,
// Non-i.i.d. Environments"): how one peer merges the output layers its
// neighbours sent into its own model. The peer's parameters are a frozen
// body shared by every peer (a pretrained checkpoint) and an output layer
// (OutputLayerOf(model)), the only part peers train and exchange. Combine
//  1. drops non-finite layers (they are Byzantine by proof),
//  2. prioritizes per class by distance (BristlePrioritize),
//  3. evaluates the own model and every prioritized layer on top of the own
//     body on the peer's validation split, class by class,
//  4. weights and averages per class (BristleIntegratorWeights,
//     BristleIntegrate).
// What it tolerates: robust/bristle.h.
//
// One per peer (it holds that peer's validation data). Combine is const and
// keeps its scratch buffers on the stack, so it may run on any thread.
// `model` and `validation` must outlive the combiner.
#pragma once

#include <memory>
#include <span>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/model.h"
#include "murmur/robust/aggregator.h"
#include "murmur/robust/bristle.h"
#include "murmur/robust/factory.h"

namespace murmur {

// The rule name that selects Bristle in a [robust] table.
inline constexpr const char* kBristleRule = "bristle";

// Bristle's options from a [robust] rule config (rule "bristle"; options
// exploit and explore, robust/bristle.h). kInvalidArgument for
// pre-aggregators (Bristle weighs whole classes, it has no span input to
// pre-process), an unknown option or a negative or non-integer value.
Result<BristleOptions> BristleOptionsFrom(const AggregatorConfig& config);

class BristleCombiner {
 public:
  // REQUIRES: validation has at least one sample and the model's classes.
  BristleCombiner(const Model& model, const Dataset& validation, const BristleOptions& options);

  const OutputLayer& output_layer() const { return layer_; }

  // `own` is the peer's whole parameter buffer; its output layer is
  // replaced by the integrated one, the body is left as it is. `others` are
  // received output layers (output_layer().size() values each).
  // kInvalidArgument for a layer of the wrong size; `own` is then unchanged.
  // No received layer (or only non-finite ones) leaves `own` unchanged and
  // is Ok.
  Status Combine(std::span<float> own, VectorList others, Rng& rng) const;

 private:
  const Model& model_;
  const Dataset& validation_;
  const BristleOptions options_;
  const OutputLayer layer_;
  std::unique_ptr<bool[]> familiar_;  // [classes]: the validation data has it
};

}  // namespace murmur
