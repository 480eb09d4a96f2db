// The pure parts of Bristle (Verbraeken, de Vos, Pouwelse, 2021, "Bristle:
// Decentralized Federated Learning in Byzantine, Non-i.i.d. Environments").
// Bristle peers share a frozen, pretrained feature extractor and train and
// exchange only the output layer, whose class c parameters (weight row c and
// bias c) are independent of the other classes' given the features. A peer
// combines the output layers it receives with its own in two steps:
//
//  1. Distance-based prioritizer (BristlePrioritize): per class c, the
//     `exploit` received layers whose class c parameters are nearest to the
//     peer's own (Euclidean), plus `explore` drawn at random from the rest
//     (the paper's exploration, so a peer keeps meeting unlike models).
//  2. Performance-based integrator: every prioritized layer is evaluated on
//     the peer's local validation data, class by class (protocol/
//     bristle_combiner.h runs the evaluation). Classes present in that data
//     are "familiar", the others "foreign". With own accuracy a and the
//     candidate's b on a familiar class, d = 10 |b - a| and the score is
//         s = d^(3 + a)         if b > a
//         s = -d^(4 + a)        otherwise,
//     turned into a weight by g(s) = max(0, 10 sigmoid(s / 100) - 4) (1 for
//     an equal model, at most 6, 0 from s < -40.5 on) and scaled by the
//     candidate's certainty max(0, mean - std) of its familiar-class
//     accuracies. Class c's parameters become the weighted average of the
//     own ones (weight 1) and the candidates' prioritized for c. A foreign
//     class, which the peer cannot test, takes each candidate's weight from
//     its summed score over the familiar classes, g(sum_c s_c) * certainty.
//     The formulas follow the authors' reference implementation (TU Delft
//     trustchain-superapp, Bristle.kt); per-class accuracy is the recall
//     the paper reports.
//
// Tolerates any number of Byzantine peers sending arbitrary output layers as
// long as they do not beat the peer's own model on its validation data: a
// worse layer gets weight 0 (sign flipping, label flipping, noise), a
// better one helps. Non-i.i.d. data is handled per class: a peer adopts the
// classes a neighbour is good at and keeps its own where it is better. It
// does not protect a foreign class from an attacker that is good on the
// familiar classes and poisons only the foreign one.
// Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"
#include "murmur/robust/aggregator.h"

namespace murmur {

// An output layer as a flat vector: weight [classes, fan_in] row-major,
// then bias [classes] (learn/model.h OutputLayer).
struct BristleLayout {
  int64_t classes = 0;
  int64_t fan_in = 0;
  int64_t size() const { return classes * (fan_in + 1); }
};

struct BristleOptions {
  int exploit = 20;  // nearest layers kept per class
  int explore = 5;   // random further layers kept per class
};

// Squared Euclidean distance between the class c parameters (weight row c
// and bias c) of two output layers. REQUIRES: both have layout.size()
// elements, 0 <= c < classes.
double BristleClassDistance(std::span<const float> a, std::span<const float> b,
                            const BristleLayout& layout, int64_t c);

// selection[c] = indices into `candidates`, ascending: the
// min(exploit, n) nearest to `own` in class c (ties to the lower index),
// plus min(explore, rest) drawn uniformly from the others with `rng`.
// kInvalidArgument when a vector does not have layout.size() elements or an
// option is negative.
Result<std::vector<std::vector<size_t>>> BristlePrioritize(std::span<const float> own,
                                                           VectorList candidates,
                                                           const BristleLayout& layout,
                                                           const BristleOptions& options,
                                                           Rng& rng);

// The integrator's score of one familiar class (see above). Accuracies in
// [0, 1].
double BristleScore(double own_accuracy, double candidate_accuracy);
// g(s) = max(0, 10 / (1 + exp(-s / 100)) - 4).
double BristleScoreWeight(double score);
// max(0, mean - population std) of a candidate's familiar-class
// accuracies; 0 for none.
double BristleCertainty(std::span<const double> familiar_accuracies);

struct BristleWeights {
  // per_class[j][c]: candidate j's weight for familiar class c (0 for a
  // foreign class).
  std::vector<std::vector<double>> per_class;
  // foreign[j]: candidate j's weight for every foreign class.
  std::vector<double> foreign;
};

// own_accuracy[c] and candidate_accuracy[j][c] per class; familiar[c] says
// whether the validation data has class c. kInvalidArgument for mismatched
// sizes or an accuracy outside [0, 1].
Result<BristleWeights> BristleIntegratorWeights(
    std::span<const double> own_accuracy,
    const std::vector<std::vector<double>>& candidate_accuracy, std::span<const bool> familiar);

// own <- per class c, (own_c + sum_{j in selection[c]} w_jc x_jc) /
// (1 + sum w_jc), with w_jc = weights.per_class[j][c] for a familiar class
// and weights.foreign[j] for a foreign one. The own model always keeps
// weight 1, so the result is finite for finite inputs and equals `own` when
// every weight is 0. kInvalidArgument for mismatched sizes.
Status BristleIntegrate(std::span<float> own, VectorList candidates, const BristleLayout& layout,
                        const std::vector<std::vector<size_t>>& selection,
                        const BristleWeights& weights, std::span<const bool> familiar);

}  // namespace murmur
