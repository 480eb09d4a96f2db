// Reads a run's [privacy] table (docs/config.md, docs/privacy.md) into its
// ProtocolConfig: the one place privacy keys are read. Whether the protocol
// supports the mode is checked when the run is prepared (registry.cc).
#pragma once

#include "murmur/core/config.h"
#include "murmur/experiment/run_config.h"
#include "murmur/protocol/protocol.h"

namespace murmur {

// kInvalidArgument naming the key and the bad value: an unknown
// privacy.mode, privacy.clip <= 0, privacy.noise_multiplier < 0 or
// privacy.delta outside (0, 1).
Status ReadPrivacyConfig(ConfigReader& r, ProtocolConfig& protocol);

// Reads the DP-SGD keys of [privacy] into train.dp_sgd (run_config.h).
// kInvalidArgument naming the key: dp_sgd_clip <= 0, a negative noise
// multiplier, target_epsilon <= 0, both a noise multiplier and a target, or
// DP-SGD together with client-level DP (privacy.mode) or SAM, whose
// epsilons the run could not report as one.
Status ReadDpSgdConfig(ConfigReader& r, const ProtocolConfig& protocol, TrainConfig& train);

}  // namespace murmur
