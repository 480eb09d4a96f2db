#include "murmur/collective/allreduce_job.h"

#include "murmur/collective/collective_message.h"
#include "murmur/collective/retry.h"

namespace murmur::collective {

AllReduceJob::AllReduceJob(AllReduceJobOptions options, std::unique_ptr<CollectiveGroup> group)
    : options_(std::move(options)), group_(std::move(group)), buffer_(options_.length) {}

void AllReduceJob::OnStart(Host& host) { StartIteration(host); }

void AllReduceJob::StartIteration(Host& host) {
  if (finished()) return;
  const int k = completed_;
  if (options_.fill) options_.fill(k, buffer_);
  AllReduceWithRetry(*group_, host, buffer_, options_.reduce, options_.max_attempts,
                     [this, k](Host& h, const Status& status) {
                       ++completed_;
                       if (options_.on_result) {
                         options_.on_result(h, k, status, buffer_, group_->members());
                       }
                       StartIteration(h);
                     });
}

void AllReduceJob::OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) {
  if (!IsCollectiveMessage(message)) {
    host.metrics().Count("collective.foreign_messages", 1);
    return;
  }
  group_->OnMessage(host, from, message);
}

void AllReduceJob::OnTimer(Host& host, TimerId timer) { (void)group_->OnTimer(host, timer); }

void AllReduceJob::OnPeerDown(Host& host, PeerId peer) { group_->OnPeerDown(host, peer); }

}  // namespace murmur::collective
