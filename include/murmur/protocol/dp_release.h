// Peer-level differential privacy for decentralized protocols (D-PSGD,
// gossip): what a peer sends is its previous release plus the change of its
// model since then, clipped to L2 norm C, plus N(0, (z C)^2) per coordinate.
// Each release is then a Gaussian mechanism with sensitivity C in the peer's
// data (its local data may change the clipped change by at most C, in the
// add/remove convention of McMahan, Ramage, Talwar, Zhang, 2018, "Learning
// Differentially Private Recurrent Language Models"), and the releases
// compose: T of them are (epsilon, delta)-DP for epsilon of the accountant at
// q = 1, sigma = z, T steps (privacy/accountant.h; docs/privacy.md). The
// reference is the previous release, not the previous true model, so the
// noise does not accumulate: the next change corrects it. What a peer keeps
// and trains on is its true model; only what leaves it is noised.
// Not thread-safe; one per node, used from its event loop.
#pragma once

#include <span>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/privacy/client_dp.h"

namespace murmur {

class DpRelease {
 public:
  // `initial`: the model before the first release (the run's starting
  // model, which carries no data).
  DpRelease(const privacy::DpConfig& config, std::span<const float> initial);

  // The model to send for `model`: draws config.noise_multiplier > 0 ?
  // model.size() : 0 normals from host.privacy_rng() (secret in the
  // runtime, seeded in the simulator) and counts a clipped change as
  // "privacy.clipped_updates". The span stays valid until the next call.
  // REQUIRES: model.size() == initial.size().
  std::span<const float> Release(std::span<const float> model, Host& host);

 private:
  const privacy::DpConfig config_;
  std::vector<float> last_;  // the previous release
};

}  // namespace murmur
