#include "murmur/collective/group_events.h"

#include "murmur/collective/collective_message.h"

namespace murmur::collective {

bool RouteGroupMessage(CollectiveGroup& group, StateSync& sync, Host& host, PeerId from,
                       std::span<const uint8_t> message) {
  if (IsStateSyncMessage(message)) {
    sync.OnMessage(host, from, message);
  } else if (IsCollectiveMessage(message)) {
    group.OnMessage(host, from, message);
  } else {
    return false;
  }
  return true;
}

void RouteGroupTimer(CollectiveGroup& group, StateSync& sync, Host& host, TimerId timer) {
  if (!group.OnTimer(host, timer)) (void)sync.OnTimer(host, timer);
}

void RouteGroupPeerDown(CollectiveGroup& group, StateSync& sync, Host& host, PeerId peer) {
  group.OnPeerDown(host, peer);
  sync.OnPeerDown(host, peer);
}

Status NotACollectiveMessage(std::string_view who, PeerId from,
                             std::span<const uint8_t> message) {
  return Status::InvalidArgument(who, ": a message of kind ",
                                 message.empty() ? -1 : int{message[0]}, " from peer ", from,
                                 ", which is not a collective message");
}

}  // namespace murmur::collective
