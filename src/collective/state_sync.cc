#include "murmur/collective/state_sync.h"

#include <sodium.h>

#include <algorithm>
#include <string>

#include "murmur/core/check.h"

namespace murmur::collective {

StateDigest HashState(std::span<const std::span<const float>> parts) {
  MURMUR_CHECK(sodium_init() >= 0);
  crypto_generichash_state state;
  StateDigest out{};
  crypto_generichash_init(&state, nullptr, 0, out.size());
  for (std::span<const float> part : parts) {
    const uint64_t count = part.size();
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&count), 8);
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(part.data()),
                              part.size_bytes());
  }
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

StateDigest HashState(std::span<const float> state) {
  const std::span<const float> parts[] = {state};
  return HashState(parts);
}

StateSync::StateSync(StateSyncOptions options, PeerId self) : options_(options), self_(self) {
  MURMUR_CHECK(options_.chunk_floats > 0 && options_.max_in_flight > 0);
}

void StateSync::Count(Host& host, const char* what, int64_t n) {
  host.metrics().Count(std::string(options_.counter_prefix) + "." + what, n);
}

void StateSync::ForgetOldSteps() {
  // In 64 bits: a step near 2^32 must not wrap the window's bounds.
  const uint64_t window = options_.step_window;
  std::erase_if(digests_, [&](const auto& entry) {
    return uint64_t{entry.first} + window < newest_step_ ||
           entry.first > uint64_t{newest_step_} + window;
  });
}

void StateSync::KeepNewestOf(Host& host, PeerId sender) {
  size_t held = 0;
  for (const auto& [step, of_step] : digests_) held += of_step.count(sender);
  if (held <= size_t{options_.step_window} + 1) return;
  // The lowest step's: digests_ is ordered by step.
  for (auto it = digests_.begin(); it != digests_.end(); ++it) {
    if (it->second.erase(sender) == 0) continue;
    if (it->second.empty()) digests_.erase(it);
    return Count(host, "evicted_digests");
  }
}

void StateSync::ForgetSteps() {
  digests_.clear();
  newest_step_ = 0;
  has_compared_ = false;
  published_step_ = 0;
  published_ = {};
  compare_ = Compare_{};
  await_ = Await{};
  pull_ = PullState{};
}

void StateSync::Compare(Host& host, uint32_t step, std::vector<PeerId> members,
                        const StateDigest& mine, CompareCallback done) {
  std::sort(members.begin(), members.end());
  const TimerId timer = host.StartTimer(options_.timeout);
  timers_[timer] = TimerPurpose::kCompare;
  compare_ = Compare_{step, std::move(members), mine, std::move(done), timer, true};
  Publish(host, step, compare_.members, mine);
  MaybeFinishCompare(host, /*timed_out=*/false);
}

void StateSync::Publish(Host& host, uint32_t step, std::span<const PeerId> members,
                        const StateDigest& mine) {
  has_compared_ = true;  // the window is this peer's own from now on
  published_step_ = step;
  published_ = mine;
  newest_step_ = std::max(newest_step_, step);
  ForgetOldSteps();
  digests_[step][self_] = mine;
  for (PeerId p : members) {
    if (p != self_) host.Send(p, EncodeStateHash(OpTag{0, step}, mine));
  }
}

void StateSync::Republish(Host& host, std::span<const PeerId> to) {
  if (!has_compared_) return;
  for (PeerId p : to) {
    if (p != self_) host.Send(p, EncodeStateHash(OpTag{0, published_step_}, published_));
  }
}

void StateSync::AwaitMajority(Host& host, std::vector<PeerId> members, uint32_t min_step,
                              CompareCallback done) {
  std::erase(members, self_);
  std::sort(members.begin(), members.end());
  const TimerId timer = host.StartTimer(options_.timeout);
  timers_[timer] = TimerPurpose::kAwait;
  await_ = Await{std::move(members), min_step, std::move(done), timer, true};
  MaybeFinishAwait(host, /*timed_out=*/false);
}

void StateSync::HandleHash(Host& host, PeerId from, uint32_t step, const StateDigest& digest) {
  // In 64 bits: a step near 2^32 must not wrap the window's bounds.
  const uint64_t window = options_.step_window;
  if (has_compared_) {
    // Bounded by this peer's own step: a sender far ahead (or behind) is
    // dropped, whatever it claims.
    if (uint64_t{step} + window < newest_step_ || step > uint64_t{newest_step_} + window) {
      return Count(host, "dropped_beyond_window");
    }
  }
  auto& of_step = digests_[step];
  if (of_step.count(from)) return Count(host, "duplicate_digests");
  // At most one digest per sender and step, and only within the window
  // (before this peer compared: of the sender's newest step_window + 1
  // steps): a sender can make us hold at most (step_window + 1) x 32 bytes.
  of_step[from] = digest;
  if (!has_compared_) KeepNewestOf(host, from);
  MaybeFinishCompare(host, /*timed_out=*/false);
  MaybeFinishAwait(host, /*timed_out=*/false);
}

void StateSync::MaybeFinishAwait(Host& host, bool timed_out) {
  if (!await_.active) return;
  // Newest step first: before the timeout a digest held by a strict
  // majority of the members; after it (some members may be dead but not
  // yet out of the membership), by a strict majority of the members that
  // sent any digest from min_step on. Never by the answers of one step
  // alone: a single member announcing a step nobody else reached would
  // then be "the majority" of that step's one answer.
  size_t responders = 0;
  for (PeerId p : await_.members) {
    for (auto step = digests_.lower_bound(await_.min_step); step != digests_.end(); ++step) {
      if (step->second.count(p)) {
        ++responders;
        break;
      }
    }
  }
  for (auto step = digests_.rbegin(); step != digests_.rend(); ++step) {
    if (step->first < await_.min_step) break;
    std::map<StateDigest, std::vector<PeerId>> by_digest;
    size_t answers = 0;
    for (PeerId p : await_.members) {
      auto it = step->second.find(p);
      if (it == step->second.end()) continue;
      by_digest[it->second].push_back(p);
      ++answers;
    }
    if (answers == 0) continue;
    const size_t of = timed_out ? responders : await_.members.size();
    for (const auto& [digest, holders] : by_digest) {
      if (2 * holders.size() <= of) continue;
      await_.active = false;
      Count(host, "awaited");
      Comparison result{.majority = digest, .holders = holders, .agrees = false,
                        .answers = answers, .step = step->first};
      CompareCallback done = std::move(await_.done);
      return done(host, Status::Ok(), result);
    }
  }
  if (!timed_out) return;
  await_.active = false;
  Count(host, "await_failed");
  CompareCallback done = std::move(await_.done);
  done(host, Status::Aborted("state of a joiner: no digest from a strict majority of the ",
                             responders, " of ", await_.members.size(),
                             " members that answered within the timeout"),
       Comparison{});
}

void StateSync::MaybeFinishCompare(Host& host, bool timed_out) {
  if (!compare_.active) return;
  const auto& got = digests_[compare_.step];
  std::map<StateDigest, std::vector<PeerId>> by_digest;
  size_t answers = 0;
  for (PeerId p : compare_.members) {
    auto it = got.find(p);
    if (it == got.end()) continue;
    by_digest[it->second].push_back(p);
    ++answers;
  }
  if (answers < compare_.members.size() && !timed_out) return;
  compare_.active = false;
  Comparison result;
  result.answers = answers;
  result.step = compare_.step;
  Status status = Status::Aborted("state hash of step ", compare_.step, ": no digest holds a ",
                                  "strict majority of ", answers, " answers");
  for (const auto& [digest, holders] : by_digest) {
    if (2 * holders.size() > answers) {
      result.majority = digest;
      result.holders = holders;
      result.agrees = digest == compare_.mine;
      status = Status::Ok();
    }
  }
  Count(host, result.agrees ? "agreed" : "disagreed");
  CompareCallback done = std::move(compare_.done);
  done(host, status, result);
}

size_t StateSync::Chunks() const {
  return (pull_.staging.size() + options_.chunk_floats - 1) / options_.chunk_floats;
}

void StateSync::Pull(Host& host, std::vector<PeerId> holders, const StateDigest& want,
                     std::span<float> state, OpCallback done) {
  std::erase(holders, self_);
  pull_ = PullState{};
  pull_.holders = std::move(holders);
  pull_.want = want;
  pull_.target = state;
  pull_.staging.assign(state.size(), 0.0f);
  pull_.done = std::move(done);
  pull_.active = true;
  pull_.last_progress = host.now();
  for (size_t c = 0; c < Chunks(); ++c) pull_.todo.push_back(c);
  std::reverse(pull_.todo.begin(), pull_.todo.end());  // pop_back takes chunk 0 first
  timers_[host.StartTimer(options_.timeout)] = TimerPurpose::kPull;
  IssueRequests(host);
  if (pull_.active && pull_.todo.empty() && pull_.outstanding.empty()) {
    FinishPull(host, Status::Ok());
  }
}

void StateSync::IssueRequests(Host& host) {
  if (!pull_.active) return;
  if (pull_.holders.empty()) {
    return FinishPull(host, Status::PeerLost("state pull: every holder was lost"));
  }
  std::map<PeerId, uint32_t> busy;
  for (const auto& [id, entry] : pull_.outstanding) ++busy[entry.first];
  // Round-robin over the holders, each up to max_in_flight requests.
  size_t idle_rounds = 0;
  while (!pull_.todo.empty() && idle_rounds < pull_.holders.size()) {
    const PeerId holder = pull_.holders[pull_.next_holder % pull_.holders.size()];
    ++pull_.next_holder;
    if (busy[holder] >= options_.max_in_flight) {
      ++idle_rounds;
      continue;
    }
    idle_rounds = 0;
    const size_t chunk = pull_.todo.back();
    pull_.todo.pop_back();
    const uint64_t offset = chunk * options_.chunk_floats;
    const size_t count = std::min(options_.chunk_floats, pull_.staging.size() - offset);
    const uint32_t id = next_request_++;
    pull_.outstanding[id] = {holder, chunk};
    ++busy[holder];
    host.Send(holder, EncodeStateRequest(OpTag{}, StateRange{id, offset,
                                                             static_cast<uint32_t>(count)}));
  }
}

void StateSync::HandleRequest(Host& host, PeerId from, const StateRange& range) {
  if (range.count > options_.chunk_floats || range.offset > served_.size() ||
      range.count > served_.size() - range.offset) {
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 "state request of ", range.count, " floats at ", range.offset,
                                 " outside the served ", served_.size(), " (chunk limit ",
                                 options_.chunk_floats, ")"));
    return;
  }
  Count(host, "served_chunks");
  host.Send(from, EncodeStateChunk(OpTag{}, range, served_.subspan(range.offset, range.count)));
}

void StateSync::HandleChunk(Host& host, PeerId from, std::span<const uint8_t> bytes,
                            ByteReader& in) {
  std::vector<float> values;
  Result<StateRange> range = ReadStateChunk(in, options_.chunk_floats, values);
  if (!range.ok()) return host.ReportBadPeer(from, range.status());
  auto it = pull_.active ? pull_.outstanding.find(range->request) : pull_.outstanding.end();
  if (it == pull_.outstanding.end() || it->second.first != from) {
    return Count(host, "dropped_unexpected");
  }
  const size_t chunk = it->second.second;
  const uint64_t offset = chunk * options_.chunk_floats;
  const size_t count = std::min(options_.chunk_floats, pull_.staging.size() - offset);
  if (range->offset != offset || values.size() != count) {
    return host.ReportBadPeer(from, Status::Corrupt("state chunk at ", range->offset, " of ",
                                                    values.size(), " floats where ", offset,
                                                    " and ", count, " were asked"));
  }
  std::copy(values.begin(), values.end(), pull_.staging.begin() + static_cast<ptrdiff_t>(offset));
  pull_.outstanding.erase(it);
  ++pull_.received;
  pull_.last_progress = host.now();
  Count(host, "pulled_chunks");
  if (pull_.todo.empty() && pull_.outstanding.empty()) {
    if (HashState(pull_.staging) != pull_.want) {
      return FinishPull(host, Status::Corrupt("state pull: the pulled state does not hash to "
                                              "the majority digest"));
    }
    std::copy(pull_.staging.begin(), pull_.staging.end(), pull_.target.begin());
    return FinishPull(host, Status::Ok());
  }
  IssueRequests(host);
}

void StateSync::FinishPull(Host& host, Status status) {
  if (!pull_.active) return;
  pull_.active = false;
  Count(host, status.ok() ? "pulls" : "failed_pulls");
  OpCallback done = std::move(pull_.done);
  pull_.staging = {};
  done(host, status);
}

void StateSync::DropHolder(Host& host, PeerId holder) {
  if (!pull_.active) return;
  std::erase(pull_.holders, holder);
  for (auto it = pull_.outstanding.begin(); it != pull_.outstanding.end();) {
    if (it->second.first == holder) {
      pull_.todo.push_back(it->second.second);
      it = pull_.outstanding.erase(it);
    } else {
      ++it;
    }
  }
  IssueRequests(host);
}

void StateSync::OnPeerDown(Host& host, PeerId peer) {
  DropHolder(host, peer);
  if (compare_.active) {
    std::erase(compare_.members, peer);
    MaybeFinishCompare(host, /*timed_out=*/false);
  }
}

bool StateSync::OnTimer(Host& host, TimerId timer) {
  auto it = timers_.find(timer);
  if (it == timers_.end()) return false;
  const TimerPurpose purpose = it->second;
  timers_.erase(it);
  if (purpose == TimerPurpose::kCompare) {
    // Only this compare's own timer: one left from an earlier step would
    // end it with whatever digests came so far.
    if (timer == compare_.timer) MaybeFinishCompare(host, /*timed_out=*/true);
    return true;
  }
  if (purpose == TimerPurpose::kAwait) {
    if (timer == await_.timer) MaybeFinishAwait(host, /*timed_out=*/true);
    return true;
  }
  if (!pull_.active) return true;
  const Duration idle = host.now() - pull_.last_progress;
  if (idle < options_.timeout) {
    timers_[host.StartTimer(options_.timeout - idle)] = TimerPurpose::kPull;
    return true;
  }
  // Holders that left requests unanswered for a whole timeout are dropped;
  // their chunks go to the others.
  std::vector<PeerId> slow;
  for (const auto& [id, entry] : pull_.outstanding) slow.push_back(entry.first);
  Count(host, "slow_holders", static_cast<int64_t>(slow.size()));
  for (PeerId p : slow) DropHolder(host, p);
  pull_.last_progress = host.now();
  if (pull_.active) timers_[host.StartTimer(options_.timeout)] = TimerPurpose::kPull;
  return true;
}

void StateSync::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  ByteReader in(bytes);
  Result<Header> header = ReadHeader(in);
  if (!header.ok()) return host.ReportBadPeer(from, header.status());
  switch (header->kind) {
    case MessageKind::kStateHash: {
      Result<StateDigest> digest = ReadStateHash(in);
      if (!digest.ok()) return host.ReportBadPeer(from, digest.status());
      return HandleHash(host, from, header->tag.seq, *digest);
    }
    case MessageKind::kStateRequest: {
      Result<StateRange> range = ReadStateRequest(in);
      if (!range.ok()) return host.ReportBadPeer(from, range.status());
      return HandleRequest(host, from, *range);
    }
    case MessageKind::kStateChunk:
      return HandleChunk(host, from, bytes, in);
    default:
      Count(host, "dropped_unexpected");
  }
}

}  // namespace murmur::collective
