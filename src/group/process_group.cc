// ProcessGroup: options, the background thread, the request queue and the
// Node plumbing (group_impl.h). The calls themselves: group_calls.cc.
#include "murmur/group/process_group.h"

#include <algorithm>
#include <chrono>

#include "group_impl.h"
#include "murmur/collective/collective_message.h"
#include "murmur/collective/group_events.h"
#include "murmur/collective/retry.h"

namespace murmur::group {
namespace {

constexpr uint64_t kWakeTag = 0x6d75726d;  // the compute task that waits for requests

Status CheckOptions(const GroupOptions& o) {
  if (o.world_size == 0 || o.rank >= o.world_size) {
    return Status::InvalidArgument("group: rank ", o.rank, " is not below world_size ",
                                   o.world_size);
  }
  if (o.world_size > 1 && o.peers.empty() && o.rank != 0 && !o.rejoin) {
    return Status::InvalidArgument("group: rank ", o.rank, " needs the address of another peer");
  }
  if (o.min_members > o.world_size) {
    return Status::InvalidArgument("group: min_members ", o.min_members, " exceeds world_size ",
                                   o.world_size);
  }
  if (!(o.timeout_s > 0) || !(o.start_timeout_s > 0) || o.chunk_floats == 0 ||
      o.max_attempts < 1) {
    return Status::InvalidArgument(
        "group: timeout_s, start_timeout_s, chunk_floats and max_attempts must be positive");
  }
  return Status::Ok();
}

}  // namespace

ProcessGroup::Impl::~Impl() { Stop(); }

Status ProcessGroup::Impl::Start(collective::CollectiveOptions co, net::NetOptions no,
                                 net::NetSecurity security) {
  Result<std::unique_ptr<net::NetHost>> host = net::NetHost::Create(no, std::move(security), *this);
  if (!host.ok()) return host.status();
  host_ = std::move(host).value();
  listen_address_ = host_->listen_address();
  const PeerId self(options_.rank);
  std::vector<PeerId> everyone;
  for (uint32_t i = 0; i < options_.world_size; ++i) everyone.push_back(PeerId(i));
  if (options_.rejoin) {
    // An incarnation above any this slot had: the restart is admitted even
    // if the others have not noticed the old process died yet.
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    group_ = CollectiveGroup::Joining(co, self, everyone, static_cast<uint64_t>(ms.count()));
  } else {
    group_ = std::make_unique<CollectiveGroup>(co, self, everyone);
  }
  collective::StateSyncOptions so;
  so.chunk_floats = co.chunk_floats;
  so.timeout = co.timeout;
  sync_ = std::make_unique<StateSync>(so, self);
  sync_->Serve(shared_);
  membership_ = Membership{group_->epoch(), options_.rejoin ? std::vector<PeerId>{}
                                                            : group_->members()};
  thread_ = std::thread([this] {
    const Status run = host_->Run(*this, [this] {
      std::lock_guard lock(mu_);
      return stopping_;
    });
    std::deque<std::pair<Request, std::shared_ptr<std::promise<Status>>>> left;
    {
      std::lock_guard lock(mu_);
      loop_done_ = true;
      left.swap(queue_);
    }
    for (auto& [request, promise] : left) {
      promise->set_value(Status::Aborted("group: the network loop ended: ", run.ToString()));
    }
  });
  return Status::Ok();
}

void ProcessGroup::Impl::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (host_) host_->Shutdown();
  if (thread_.joinable()) thread_.join();
}

Status ProcessGroup::Impl::Call(Request request) {
  std::lock_guard call(call_mu_);
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> result = promise->get_future();
  {
    std::lock_guard lock(mu_);
    if (loop_done_ || stopping_) return Status::Aborted("group: the network loop has ended");
    queue_.emplace_back(std::move(request), promise);
  }
  cv_.notify_all();
  return result.get();
}

void ProcessGroup::Impl::OnStart(Host& host) {
  started_ = true;
  OnComputeDone(host, kWakeTag);
}

void ProcessGroup::Impl::OnComputeDone(Host& host, uint64_t tag) {
  if (tag != kWakeTag) return;
  std::deque<std::pair<Request, std::shared_ptr<std::promise<Status>>>> todo;
  {
    std::lock_guard lock(mu_);
    todo.swap(queue_);
    if (stopping_) return;
  }
  for (auto& [request, promise] : todo) {
    request(host, [promise](Status s) { promise->set_value(std::move(s)); });
  }
  // The next wake-up: a compute task that returns once a request is queued.
  host.RunCompute(ComputeTask{.flops = 0, .work = [this] {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
  }, .tag = kWakeTag});
}

void ProcessGroup::Impl::OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) {
  if (!collective::RouteGroupMessage(*group_, *sync_, host, from, message)) {
    host.metrics().Count("group.foreign_messages", 1);
  }
}

void ProcessGroup::Impl::OnTimer(Host& host, TimerId timer) {
  collective::RouteGroupTimer(*group_, *sync_, host, timer);
}

void ProcessGroup::Impl::OnPeerDown(Host& host, PeerId peer) {
  collective::RouteGroupPeerDown(*group_, *sync_, host, peer);
}

void ProcessGroup::Impl::NoteMembership(const std::vector<PeerId>& members, uint32_t epoch) {
  // Called as a call's collectives finish: the epoch this peer last acted in.
  called_ = true;
  last_call_epoch_ = group_->epoch();
  std::lock_guard lock(mu_);
  const std::vector<PeerId>& before = membership_.members;
  for (PeerId p : members) {
    if (!std::binary_search(before.begin(), before.end(), p)) {
      events_.push_back({MembershipEvent::Kind::kJoined, p, epoch});
    }
  }
  for (PeerId p : before) {
    if (!std::binary_search(members.begin(), members.end(), p)) {
      events_.push_back({MembershipEvent::Kind::kLeft, p, epoch});
    }
  }
  if (events_.size() > 4096) events_.erase(events_.begin(), events_.end() - 4096);
  membership_ = Membership{epoch, members};
}

// ---- ProcessGroup ----

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() { impl_->Stop(); }

Result<std::unique_ptr<ProcessGroup>> ProcessGroup::Create(const GroupOptions& options) {
  MURMUR_RETURN_IF_ERROR(CheckOptions(options));
  net::NetSecurity security{.identity = net::Identity::Generate(), .network_key = {}, .allowlist = {}};
  if (!options.key_file.empty()) {
    Result<net::Identity> id = net::Identity::LoadOrCreate(options.key_file);
    if (!id.ok()) return id.status();
    security.identity = std::move(id).value();
  }
  if (!options.network_key_file.empty()) {
    Result<net::NetworkKey> key = net::LoadNetworkKey(options.network_key_file);
    if (!key.ok()) return key.status();
    security.network_key = *key;
  }
  net::NetOptions no;
  no.self = PeerId(options.rank);
  no.num_slots = options.world_size;
  no.listen = options.listen;
  no.bootstrap = options.peers;
  no.seed = 1 + options.rank;
  // A restarted peer cannot count on a full mesh (the others may not
  // redial a slot they saw die); it starts after one operation timeout
  // and its Join, resent every timeout, gets it admitted.
  no.start_timeout = Duration::Seconds(
      options.rejoin ? std::min(options.start_timeout_s, options.timeout_s)
                     : options.start_timeout_s);
  no.backoff_min = Duration::Seconds(0.02);
  no.backoff_max = Duration::Seconds(0.5);
  if (!options.key_file.empty()) no.incarnation_file = options.key_file + ".incarnation";
  collective::CollectiveOptions co;
  co.chunk_floats = options.chunk_floats;
  co.timeout = Duration::Seconds(options.timeout_s);
  co.max_members = std::max<size_t>(co.max_members, options.world_size);
  co.min_members = options.min_members > 0 ? options.min_members : options.world_size / 2 + 1;
  auto impl = std::make_unique<Impl>(options);
  MURMUR_RETURN_IF_ERROR(impl->Start(co, no, std::move(security)));
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

std::string ProcessGroup::listen_address() const { return impl_->listen_address_; }
uint32_t ProcessGroup::rank() const { return impl_->options_.rank; }

Membership ProcessGroup::members() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->membership_;
}

std::vector<MembershipEvent> ProcessGroup::PollEvents() {
  std::lock_guard lock(impl_->mu_);
  return std::exchange(impl_->events_, {});
}

Result<Membership> ProcessGroup::AllReduce(std::span<float> data, collective::ReduceOp op) {
  Status s = impl_->Call([this, data, op](Host& h, Impl::Finish f) {
    impl_->AllReduce(h, data, op, std::move(f));
  });
  if (!s.ok()) return s;
  return members();
}

Result<Membership> ProcessGroup::BroadcastState(std::span<float> state,
                                                std::optional<PeerId> root) {
  Status s = impl_->Call([this, state, root](Host& h, Impl::Finish f) {
    if (root) return impl_->BroadcastFromRoot(h, state, *root, std::move(f));
    impl_->Agree(h, [this, state, f](Host& h2, Status agreed) {
      if (!agreed.ok()) return f(agreed);
      Impl& m = *impl_;
      // Serve a copy: the caller's buffer is pulled into when this peer is
      // in the minority.
      m.served_copy_.assign(state.begin(), state.end());
      m.sync_->Serve(m.served_copy_);
      m.SyncToMajority(h2, state, true, [&m, f](Host& h3, Status st, Impl::SyncResult) {
        // A barrier: holders keep serving until every puller is done.
        m.barrier_ = 0;
        collective::AllReduceWithRetry(
            *m.group_, h3, std::span<float>(&m.barrier_, 1), collective::ReduceOp::kSum,
            m.options_.max_attempts, [&m, f, st](Host&, const Status& b) {
              m.sync_->Serve(m.shared_);
              m.NoteMembership(m.group_->members(), m.group_->epoch());
              f(st.ok() ? b : st);
            });
      });
    });
  });
  if (!s.ok()) return s;
  return members();
}

Status ProcessGroup::DilocoInit(std::span<const float> params) {
  return impl_->Call([this, params](Host&, Impl::Finish f) {
    Impl& m = *impl_;
    m.shared_.assign(2 * params.size() + 1, 0.0f);  // parameters | momentum | step
    std::copy(params.begin(), params.end(), m.shared_.begin());
    m.has_state_ = !m.options_.rejoin;
    m.sync_->Serve(m.shared_);
    f(Status::Ok());
  });
}

Result<OuterStepReport> ProcessGroup::DilocoOuterStep(std::span<float> local,
                                                      const OuterOptions& options) {
  OuterStepReport report;
  Status s = impl_->Call([this, local, options, &report](Host& h, Impl::Finish f) {
    impl_->OuterStep(h, local, options, &report, std::move(f));
  });
  if (!s.ok()) return s;
  return report;
}

}  // namespace murmur::group
