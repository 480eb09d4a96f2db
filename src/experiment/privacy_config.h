// Reads a run's [privacy] table (docs/config.md, docs/privacy.md) into its
// ProtocolConfig: the one place privacy keys are read. Whether the protocol
// supports the mode is checked when the run is prepared (registry.cc).
#pragma once

#include "murmur/core/config.h"
#include "murmur/protocol/protocol.h"

namespace murmur {

// kInvalidArgument naming the key and the bad value: an unknown
// privacy.mode, privacy.clip <= 0, privacy.noise_multiplier < 0 or
// privacy.delta outside (0, 1).
Status ReadPrivacyConfig(ConfigReader& r, ProtocolConfig& protocol);

}  // namespace murmur
