// Routing a node's Host events to its all-reduce group and its shared-state
// check (docs/collective.md). DiLoCo, Streaming DiLoCo and murmur.Group each
// own one CollectiveGroup and one StateSync on one Host; a message, timer or
// failure notice belongs to whichever of the two recognises it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "murmur/collective/collective_group.h"
#include "murmur/collective/state_sync.h"
#include "murmur/core/host.h"
#include "murmur/core/status.h"

namespace murmur::collective {

// Hands `message` to `sync` or `group`; false when it is neither's (the
// caller decides what a foreign message means).
bool RouteGroupMessage(CollectiveGroup& group, StateSync& sync, Host& host, PeerId from,
                       std::span<const uint8_t> message);
void RouteGroupTimer(CollectiveGroup& group, StateSync& sync, Host& host, TimerId timer);
void RouteGroupPeerDown(CollectiveGroup& group, StateSync& sync, Host& host, PeerId peer);

// The error for a peer that sent `who` a message that is not a collective one.
Status NotACollectiveMessage(std::string_view who, PeerId from,
                             std::span<const uint8_t> message);

}  // namespace murmur::collective
