// The vectors Byzantine peers craft, as pure functions over float spans (the
// peers themselves are protocol/ nodes: see protocol/byzantine.h). Every
// attack works in update space: it returns the update u the attacker sends,
// and the node adds its base (FedAvg: the global model; D-PSGD: its model at
// the start of the round), except Equivocation, which is already a model.
//
//  * SignFlip: -scale * own update (Damaskinos et al. 2018, "Asynchronous
//    Byzantine Machine Learning"; Li et al. 2019 "RSA"): the attacker trains
//    honestly and sends the reverse.
//  * GaussianNoise: u ~ N(0, sigma^2 I) (Blanchard, El Mhamdi, Guerraoui,
//    Stainer, 2017, "Machine Learning with Adversaries: Byzantine Tolerant
//    Gradient Descent").
//  * ALittleIsEnough: u = mu - z * sigma, coordinate-wise over the honest
//    updates the attacker knows (Baruch, Baruch, Goldberg, 2019, "A Little
//    Is Enough: Circumventing Defenses For Distributed Learning"). z from
//    AlieZ(n, f) unless given.
//  * InnerProductManipulation: u = -epsilon * mu (Xie, Koyejo, Gupta, 2020,
//    "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner Product
//    Manipulation"): small epsilon (0.1) defeats median and Krum, large
//    epsilon (> (n - f) / f) reverses the mean.
//  * Dissensus (an equivocation: a different model to every receiver):
//    receiver + scale * (receiver - honest mean), which pushes every
//    receiver away from consensus (He, Karimireddy, Jaggi, 2022,
//    "Byzantine-robust Decentralized Learning via ClippedGossip").
// All statistics are accumulated in double. Stateless and thread-safe.
#pragma once

#include <span>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"
#include "murmur/robust/aggregator.h"

namespace murmur {

// out = -scale * own. REQUIRES: out.size() == own.size().
void SignFlip(std::span<const float> own, double scale, std::span<float> out);

// out[i] ~ N(0, sigma^2), drawn from `rng` in coordinate order.
void GaussianNoise(double sigma, Rng& rng, std::span<float> out);

// ALIE's z for n participants of which f are Byzantine: with
// s = floor(n / 2 + 1) - f honest inputs the attacker needs on its side,
// z = Phi^-1((n - s) / n) (the paper's Algorithm 3). Returns 0 when s <= 0
// or the quantile is not in (0, 1), in which case the attack is the mean.
double AlieZ(int n, int f);

// out = mu - z * sigma over `honest` (sigma: the unbiased coordinate-wise
// standard deviation; 0 for one input). kInvalidArgument for no inputs or
// sizes that differ from out.size().
Status ALittleIsEnough(VectorList honest, double z, std::span<float> out);

// out = -epsilon * mu over `honest`. Errors as for ALittleIsEnough.
Status InnerProductManipulation(VectorList honest, double epsilon, std::span<float> out);

// out = receiver + scale * (receiver - honest_mean). REQUIRES: equal sizes.
void Dissensus(std::span<const float> receiver, std::span<const float> honest_mean,
               double scale, std::span<float> out);

// out = coordinate-wise mean of `vectors`. Errors as for ALittleIsEnough.
Status MeanOf(VectorList vectors, std::span<float> out);

}  // namespace murmur
