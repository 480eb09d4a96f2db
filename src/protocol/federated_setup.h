// MakeProtocol's builder for the federated protocols beyond FedAvg: FedProx,
// FedAsync, FedBuff, FedCompass. Clients are PeerId(0..n-1), the server is
// PeerId(n), the only model holder.
#pragma once

#include "murmur/protocol/protocol.h"

namespace murmur {

// Returns kInvalidArgument for option values the protocol cannot run with
// (naming the config key).
Result<ProtocolSetup> MakeFederatedProtocol(const ProtocolConfig& config,
                                            std::span<Learner* const> learners,
                                            const Model& model, uint64_t seed);

}  // namespace murmur
