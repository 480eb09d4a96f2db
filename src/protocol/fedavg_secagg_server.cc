// The server of FedAvg with secure aggregation (fedavg_secagg.h): FedAvg's
// round driven through the four phases of privacy::SecAggServer.
#include <algorithm>

#include "murmur/core/bytes.h"
#include "murmur/core/log.h"
#include "murmur/privacy/mechanisms.h"
#include "murmur/protocol/fedavg_secagg.h"

namespace murmur {

SecAggFedAvgServer::SecAggFedAvgServer(std::vector<float> initial_model,
                                       const SecAggFedAvgOptions& options,
                                       std::vector<PeerId> clients)
    : global_(std::move(initial_model)),
      options_(options),
      clients_(std::move(clients)),
      server_optimizer_(options.fedavg.server_optimizer),
      clip_(options.fedavg.dp.clip) {
  MURMUR_CHECK(clients_.size() >= 2);
}

bool SecAggAdaptiveClipping(const SecAggFedAvgOptions& options) {
  return options.fedavg.dp.mode == privacy::DpMode::kLocal && options.fedavg.dp.adaptive_clip;
}

SecAggFedAvgServer::~SecAggFedAvgServer() = default;

void SecAggFedAvgServer::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), global_);
  StartRound(host);
}

void SecAggFedAvgServer::StartRound(Host& host) {
  secagg_.reset();
  if (round_ >= options_.fedavg.rounds) {
    done_ = true;
    return;
  }
  // The same draw as plain FedAvg, so both runs select the same clients
  // (from the secret stream under DP, as FedAvg's).
  const std::set<PeerId> selected = SelectRoundClients(
      clients_, options_.fedavg.client_fraction,
      options_.fedavg.dp.enabled() ? host.privacy_rng() : host.rng());
  members_.assign(selected.begin(), selected.end());
  index_of_.clear();
  for (uint32_t i = 0; i < members_.size(); ++i) index_of_[members_[i]] = i;
  const Round round = RoundOf(round_ + 1);
  const uint64_t graph_seed =
      Rng::ForStep(options_.seed, host.self(), RngPurpose::kTopology, round.value).NextU64();
  const bool adaptive = SecAggAdaptiveClipping(options_);
  Result<privacy::SecAggConfig> config = privacy::MakeRoundConfig(
      options_.secagg, static_cast<uint32_t>(members_.size()),
      static_cast<uint32_t>(global_.size() + (adaptive ? 1 : 0)), graph_seed);
  // The spec checked the round's size and fixed point (fedavg_spec.cc).
  MURMUR_CHECK(config.ok());
  config_ = std::make_unique<privacy::SecAggConfig>(std::move(*config));
  secagg_ = std::make_unique<privacy::SecAggServer>(config_.get());
  phase_ = 0;
  awaited_.clear();
  replied_.clear();
  for (uint32_t i = 0; i < members_.size(); ++i) {
    awaited_.insert(i);
    host.Send(members_[i], EncodeSecAggSetup(round, static_cast<uint32_t>(members_.size()), i,
                                             graph_seed, global_, adaptive ? clip_ : 0.0));
  }
  if (options_.fedavg.round_timeout.ns > 0) {
    timer_ = host.StartTimer(options_.fedavg.round_timeout);
  }
}

void SecAggFedAvgServer::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  Result<SecAggPhaseMessage> message = DecodeSecAggPhase(bytes, SecAggDirection::kToServer);
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  auto it = index_of_.find(from);
  if (done_ || secagg_ == nullptr || message->round.value != round_ + 1 ||
      message->phase != phase_ || (it != index_of_.end() && !awaited_.count(it->second))) {
    // A phase or round that closed without this client: it dropped out.
    host.metrics().Count("secagg.late_messages", 1);
    return;
  }
  if (it == index_of_.end()) {
    host.ReportBadPeer(from, Status::InvalidArgument("secagg server: peer ", from,
                                                     " is not a client of round ", round_ + 1));
    return;
  }
  const uint32_t index = it->second;
  ByteReader in(message->bytes);
  Result<uint32_t> claimed = in.ReadU32();
  if (!claimed.ok() || *claimed != index || replied_.count(index)) {
    host.ReportBadPeer(from, Status::Corrupt("secagg server: peer ", from, " (client ", index,
                                             ") sent a phase ", phase_,
                                             " message as another client or twice"));
    return;
  }
  Status status;
  switch (phase_) {
    case 0: status = secagg_->OnAdvertiseKeys(message->bytes); break;
    case 1: status = secagg_->OnShareKeys(message->bytes); break;
    case 2: status = secagg_->OnMaskedInput(message->bytes); break;
    default: status = secagg_->OnUnmask(message->bytes); break;
  }
  if (!status.ok()) {
    // The client is out of the round from this phase on.
    awaited_.erase(index);
    host.ReportBadPeer(from, status);
  } else {
    replied_.insert(index);
    down_.erase(from);
  }
  if (AllAwaitedReplied()) ClosePhase(host);
}

bool SecAggFedAvgServer::AllAwaitedReplied() const {
  for (uint32_t index : awaited_) {
    if (!replied_.count(index) && !down_.count(members_[index])) return false;
  }
  return true;
}

void SecAggFedAvgServer::OnPeerDown(Host& host, PeerId peer) {
  if (std::find(clients_.begin(), clients_.end(), peer) == clients_.end() ||
      !down_.insert(peer).second) {
    return;
  }
  host.metrics().Count("fedavg.clients_down", 1);
  auto it = index_of_.find(peer);
  if (!done_ && secagg_ != nullptr && it != index_of_.end() && awaited_.count(it->second) &&
      !replied_.count(it->second) && AllAwaitedReplied()) {
    ClosePhase(host);
  }
}

void SecAggFedAvgServer::OnTimer(Host& host, TimerId timer) {
  if (done_ || secagg_ == nullptr || timer != timer_) return;
  host.metrics().Count("secagg.phase_timeouts", 1);
  ClosePhase(host);
}

void SecAggFedAvgServer::ClosePhase(Host& host) {
  if (phase_ == 3) {
    FinishRound(host, privacy::FinishRoundSum(options_.secagg, *secagg_));
    return;
  }
  Result<std::map<uint32_t, std::vector<uint8_t>>> next =
      phase_ == 0 ? secagg_->CloseAdvertiseKeys()
                  : (phase_ == 1 ? secagg_->CloseShareKeys() : secagg_->CloseMaskedInput());
  if (!next.ok()) {
    FinishRound(host, next.status());
    return;
  }
  host.metrics().Count("secagg.dropped_clients",
                       static_cast<int64_t>(awaited_.size() - next->size()));
  SendPhase(host, *next);
}

void SecAggFedAvgServer::SendPhase(Host& host,
                                   const std::map<uint32_t, std::vector<uint8_t>>& messages) {
  const auto server_phase = static_cast<uint8_t>(phase_);
  ++phase_;
  awaited_.clear();
  replied_.clear();
  for (const auto& [index, bytes] : messages) {
    awaited_.insert(index);
    host.Send(members_[index],
              EncodeSecAggPhase(SecAggDirection::kToClient, RoundOf(round_ + 1), server_phase, bytes));
  }
  if (options_.fedavg.round_timeout.ns > 0) {
    timer_ = host.StartTimer(options_.fedavg.round_timeout);
  }
}

void SecAggFedAvgServer::FinishRound(Host& host, const Result<std::vector<double>>& sum) {
  if (sum.ok()) {
    const std::set<uint32_t>& survivors = secagg_->survivors();
    host.metrics().Count("secagg.dropped_clients",
                         static_cast<int64_t>(awaited_.size() - replied_.size()));
    last_survivors_.clear();
    for (uint32_t index : survivors) last_survivors_.push_back(members_[index]);
    // Uniform weights: the mean update of the survivors.
    average_.resize(global_.size());
    const auto count = static_cast<double>(survivors.size());
    for (size_t i = 0; i < global_.size(); ++i) {
      average_[i] = static_cast<float>(global_[i] + (*sum)[i] / count);
    }
    server_optimizer_.Step(global_, average_);
    if (SecAggAdaptiveClipping(options_)) {
      // The last coordinate is the noisy sum of the survivors' clip bits.
      clip_ = privacy::NextClipNormFromBits(options_.fedavg.dp.adaptive, clip_,
                                            (*sum)[global_.size()],
                                            static_cast<int64_t>(survivors.size()));
    }
  } else {
    ++aborted_;
    host.metrics().Count("secagg.aborted_rounds", 1);
    Logf(LogLevel::kWarning, "secagg: round %lld aborted, global model kept: %s",
         static_cast<long long>(round_ + 1), sum.status().ToString().c_str());
  }
  secagg_.reset();
  ++round_;
  clip_history_.push_back(clip_);
  host.metrics().ReportModel(RoundOf(round_), global_);
  StartRound(host);
}

}  // namespace murmur
