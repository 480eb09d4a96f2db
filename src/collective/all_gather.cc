#include "murmur/collective/all_gather.h"

#include <algorithm>
#include <memory>

#include "murmur/collective/retry.h"

namespace murmur::collective {
namespace {

struct GatherState {
  CollectiveGroup* group;
  std::vector<float>* gathered;
  std::vector<PeerId> members;
  size_t length = 0;
  size_t next = 0;      // next member whose broadcast to start
  size_t reported = 0;  // broadcasts that called back
  Status first_failure = Status::Ok();
  bool finished = false;
  OpCallback done;
};

void StartNext(const std::shared_ptr<GatherState>& s, Host& host) {
  const size_t k = s->next++;
  std::span<float> segment(s->gathered->data() + k * s->length, s->length);
  s->group->Broadcast(host, segment, s->members[k], [s](Host& h, const Status& status) {
    ++s->reported;
    if (!status.ok() && s->first_failure.ok()) s->first_failure = status;
    // A failure breaks the epoch: the rest would fail at once, so only the
    // started ones are waited for.
    if (s->first_failure.ok() && s->next < s->members.size()) StartNext(s, h);
    if (!s->finished && s->reported == s->next &&
        (s->next == s->members.size() || !s->first_failure.ok())) {
      s->finished = true;
      s->done(h, s->first_failure);
    }
  });
}

}  // namespace

void AllGather(CollectiveGroup& group, Host& host, std::span<const float> mine,
               std::vector<float>* gathered, OpCallback done) {
  auto s = std::make_shared<GatherState>();
  s->group = &group;
  s->gathered = gathered;
  s->members = group.members();
  s->length = mine.size();
  s->done = std::move(done);
  const auto self = std::find(s->members.begin(), s->members.end(), group.self());
  if (self == s->members.end()) {
    return s->done(host, Status::InvalidArgument("all-gather: peer ", group.self(),
                                                 " is not a member of epoch ", group.epoch()));
  }
  gathered->assign(s->members.size() * s->length, 0.0f);
  std::copy(mine.begin(), mine.end(),
            gathered->begin() + static_cast<ptrdiff_t>((self - s->members.begin()) * s->length));
  const size_t wave = std::min(kAllGatherWave, s->members.size());
  for (size_t i = 0; i < wave && s->first_failure.ok(); ++i) StartNext(s, host);
}

void AllGatherWithRetry(CollectiveGroup& group, Host& host, std::span<const float> mine,
                        std::vector<float>* gathered, std::vector<PeerId>* members,
                        int max_attempts, OpCallback done) {
  RunWithRetry(
      group, host,
      [&group, mine, gathered, members](Host& h, OpCallback cb) {
        *members = group.members();
        AllGather(group, h, mine, gathered, std::move(cb));
      },
      max_attempts, std::move(done));
}

}  // namespace murmur::collective
