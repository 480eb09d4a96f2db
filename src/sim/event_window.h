// What the simulator's parallel windows log per peer (private to sim/; see
// simulator.h and event_window.cc): the events a peer handled in the window
// and, for each, its side effects in call order, applied by the commit.
#pragma once

#include <string>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/sim/simulator.h"

namespace murmur {

// One side effect of a handled event.
struct Simulator::Op {
  enum class Kind : uint8_t {
    kSend,      // event.peer = to, event.message; `flag`: sender was online
    kPush,      // event: a new event at or after the window's end
    kLocal,     // a new event of this peer inside the window: number `index`
    kCompute,   // RunCompute bookkeeping; `flag`: its result is due inside
                // the window (number `index`), else `event` is pushed
    kModel,     // sink ReportModel(round = index, params)
    kLoss,      // sink ReportTrainLoss(round = index, value)
    kCount,     // sink Count(text, index)
    kBadPeer,   // ReportBadPeer(event.from, status)
    kReceived,  // a message of `index` bytes was delivered
    kOffline,   // a message was dropped at an offline or crashed receiver
    kCrashed,   // the peer crashed
  };
  Kind kind;
  bool flag = false;
  int64_t index = 0;
  double value = 0;
  Event event{};
  std::string text;
  std::vector<float> params;
  Status status;
};

// One peer's part of a window.
struct Simulator::PeerLog {
  PeerId peer;
  std::vector<Event> heap;  // its events still to handle (min-heap, Later)
  struct Handled {
    SimTime time;
    uint64_t seq;   // below kLocalSeq: the queue's; else kLocalSeq + local number
    bool live;      // counts in live_events_ (not churn or crash)
    uint32_t ops_end;
  };
  std::vector<Handled> handled;  // in the order handled
  std::vector<Op> ops;
  std::vector<uint64_t> local_seq;  // by local number: the sequence the commit gave it
  size_t next_handled = 0;          // commit cursor
  size_t next_op = 0;
};

struct Simulator::Window {
  static constexpr uint64_t kLocalSeq = uint64_t{1} << 62;
  SimTime end;                       // events before it are in the window
  std::vector<uint32_t> slot_of;     // by peer: index in `logs`, or kNone
  static constexpr uint32_t kNone = ~uint32_t{0};
  std::vector<PeerLog> logs;         // peers with events in this window
  size_t used = 0;                   // logs[0, used) are this window's
};

}  // namespace murmur
