#include "murmur/protocol/fedkseed.h"

#include <algorithm>
#include <cmath>

namespace murmur {

PerturbationKey SeedPoolKey(const FedKSeedOptions& options, uint32_t index) {
  return PerturbationKey{.seed = options.seed,
                         .stream = index,
                         .step = 0,
                         .purpose = RngPurpose::kSeedPool,
                         .noise = options.noise};
}

void ApplySeedScalars(std::span<float> params, std::span<const SeedScalar> pairs,
                      const FedKSeedOptions& options) {
  for (const SeedScalar& p : pairs) {
    AddScaledPerturbation(params, p.scalar, SeedPoolKey(options, p.index));
  }
}

// ---------------------------------------------------------------- client

FedKSeedClient::FedKSeedClient(Learner& learner, const FedKSeedOptions& options, PeerId server)
    : learner_(learner),
      options_(options),
      server_(server),
      abs_sum_(options.pool, 0.0),
      abs_count_(options.pool, 0) {
  MURMUR_CHECK(options_.pool >= 1 && options_.local_steps >= 1);
}

void FedKSeedClient::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (from != server_) {
    host.ReportBadPeer(from, Status::InvalidArgument("FedKSeed client got a frame from peer ",
                                                     from, ", which is not the server"));
    return;
  }
  Result<SpsaMessageKind> kind = PeekSpsaKind(bytes);
  if (!kind.ok()) {
    host.ReportBadPeer(from, kind.status());
    return;
  }
  if (*kind == SpsaMessageKind::kSpsaModelReply) {
    Result<SpsaModelReply> reply = DecodeSpsaModelReply(bytes, learner_.params().size());
    if (!reply.ok()) {
      host.ReportBadPeer(from, reply.status());
      return;
    }
    if (!awaiting_model_ || training_) return;
    std::copy(reply->params.begin(), reply->params.end(), learner_.params().begin());
    synced_ = reply->step;
    awaiting_model_ = false;
    host.metrics().Count("fedkseed.models_fetched", 1);
    std::vector<KSeedFrame> queued = std::move(queued_);
    queued_.clear();
    for (const KSeedFrame& frame : queued) HandleRound(host, frame);
    return;
  }
  Result<KSeedFrame> frame =
      DecodeKSeedFrame(bytes, SpsaMessageKind::kKSeedRound, options_.pool, options_.pool);
  if (!frame.ok()) {
    host.ReportBadPeer(from, frame.status());
    return;
  }
  if (frame->round < 1 || frame->round > options_.rounds) {
    host.ReportBadPeer(from, Status::Corrupt("FedKSeed: round ", frame->round, " of a ",
                                             options_.rounds, "-round run"));
    return;
  }
  if (training_) {
    queued_.push_back(std::move(frame).value());
    return;
  }
  HandleRound(host, *frame);
}

void FedKSeedClient::HandleRound(Host& host, const KSeedFrame& frame) {
  const uint32_t previous = frame.round - 1;  // the aggregate this frame carries
  if (awaiting_model_) {
    queued_.push_back(frame);
    host.Send(server_, EncodeSpsaModelRequest(synced_));
    return;
  }
  if (previous < synced_) {
    host.metrics().Count("fedkseed.stale_rounds", 1);
    return;
  }
  if (previous == synced_ + 1) {
    ApplySeedScalars(learner_.params(), frame.pairs, options_);
    synced_ = previous;
  } else if (previous > synced_ + 1) {
    // Missed an aggregate: only the server's model can bring us back.
    awaiting_model_ = true;
    queued_.push_back(frame);
    host.Send(server_, EncodeSpsaModelRequest(synced_));
    host.metrics().Count("fedkseed.model_requests", 1);
    return;
  }
  if (!frame.selected) return;

  training_ = true;
  training_round_ = frame.round;
  const std::span<float> params = learner_.params();
  global_.assign(params.begin(), params.end());
  std::vector<uint32_t> seeds = DrawSeedIndices(options_, abs_sum_, abs_count_, host.rng());
  Learner* learner = &learner_;
  std::vector<SeedScalar>* pairs = &pairs_;
  double* loss = &loss_;
  const FedKSeedOptions options = options_;
  host.RunCompute(ComputeTask{
      .flops = learner_.SpsaFlops(options_.local_steps),
      .work =
          [learner, pairs, loss, options, seeds = std::move(seeds)] {
            pairs->clear();
            double sum = 0;
            for (uint32_t k : seeds) {
              const PerturbationKey key = SeedPoolKey(options, k);
              const SpsaEstimate e = learner->EstimateSpsa(key, options.eps);
              const double g = std::isfinite(e.projected_grad) ? e.projected_grad : 0.0;
              pairs->push_back(SeedScalar{.index = k, .scalar = static_cast<float>(g)});
              learner->AddPerturbation(static_cast<float>(-options.lr * g), key);
              sum += e.loss;
            }
            *loss = sum / static_cast<double>(seeds.size());
          },
      .tag = frame.round});
}

std::vector<double> ImportanceWeights(std::span<const double> abs_sum,
                                      std::span<const uint32_t> abs_count, double alpha) {
  MURMUR_CHECK(abs_sum.size() == abs_count.size());
  double lo = INFINITY, hi = -INFINITY;
  for (size_t k = 0; k < abs_sum.size(); ++k) {
    if (abs_count[k] == 0) continue;
    const double m = abs_sum[k] / abs_count[k];
    lo = std::min(lo, m);
    hi = std::max(hi, m);
  }
  std::vector<double> weights(abs_sum.size());
  for (size_t k = 0; k < abs_sum.size(); ++k) {
    double psi = 1.0;  // unseen seeds: as promising as the best seen
    if (abs_count[k] > 0 && hi > lo) psi = (abs_sum[k] / abs_count[k] - lo) / (hi - lo);
    weights[k] = std::exp(alpha * psi);
  }
  return weights;
}

std::vector<uint32_t> DrawSeedIndices(const FedKSeedOptions& options,
                                      std::span<const double> abs_sum,
                                      std::span<const uint32_t> abs_count, Rng& rng) {
  MURMUR_CHECK(abs_sum.size() == options.pool && abs_count.size() == options.pool);
  std::vector<uint32_t> seeds;
  const auto steps = static_cast<size_t>(options.local_steps);
  if (options.sampling == SeedSampling::kUniform) {
    for (size_t t = 0; t < steps; ++t) {
      seeds.push_back(static_cast<uint32_t>(rng.UniformInt(options.pool)));
    }
    return seeds;
  }
  std::vector<double> cumulative = ImportanceWeights(abs_sum, abs_count, options.importance_alpha);
  double total = 0;
  for (double& c : cumulative) {
    total += c;
    c = total;
  }
  for (size_t t = 0; t < steps; ++t) {
    const double u = rng.Uniform() * total;
    auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
    seeds.push_back(static_cast<uint32_t>(
        std::min<ptrdiff_t>(it - cumulative.begin(), options.pool - 1)));
  }
  return seeds;
}

void FedKSeedClient::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(training_ && tag == training_round_);
  // Back to the exact global model: the local steps only produced the pairs.
  std::copy(global_.begin(), global_.end(), learner_.params().begin());
  global_ = {};
  training_ = false;
  for (const SeedScalar& p : pairs_) {
    abs_sum_[p.index] += std::abs(static_cast<double>(p.scalar));
    ++abs_count_[p.index];
  }
  host.metrics().ReportTrainLoss(Round(training_round_), loss_);
  host.Send(server_, EncodeKSeedFrame(KSeedFrame{.kind = SpsaMessageKind::kKSeedUpdate,
                                                 .round = training_round_,
                                                 .pairs = pairs_}));
  std::vector<KSeedFrame> queued = std::move(queued_);
  queued_.clear();
  for (const KSeedFrame& frame : queued) {
    if (training_) {
      queued_.push_back(frame);
    } else {
      HandleRound(host, frame);
    }
  }
}

// ---------------------------------------------------------------- server

FedKSeedServer::FedKSeedServer(std::vector<float> initial, const FedKSeedOptions& options,
                               std::vector<PeerId> clients)
    : global_(std::move(initial)), options_(options), clients_(std::move(clients)) {
  MURMUR_CHECK(!clients_.empty());
}

void FedKSeedServer::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), global_);
  StartRound(host);
}

void FedKSeedServer::StartRound(Host& host) {
  if (round_.value >= options_.rounds) {
    done_ = true;
    return;
  }
  const auto n = static_cast<int64_t>(clients_.size());
  const int64_t m = std::clamp<int64_t>(
      static_cast<int64_t>(std::floor(options_.client_fraction * static_cast<double>(n))), 1, n);
  std::vector<PeerId> order = clients_;
  host.rng().Shuffle(std::span<PeerId>(order));
  selected_.clear();
  // The first m in that order that are up (all down: the first m).
  for (PeerId c : order) {
    if (static_cast<int64_t>(selected_.size()) < m && !down_.contains(c)) selected_[c] = false;
  }
  if (selected_.empty()) {
    for (int64_t i = 0; i < m; ++i) selected_[order[i]] = false;
  }
  const uint32_t round = Round(round_.value + 1).value;
  for (PeerId c : clients_) {
    host.Send(c, EncodeKSeedFrame(KSeedFrame{.kind = SpsaMessageKind::kKSeedRound,
                                             .round = round,
                                             .selected = selected_.contains(c),
                                             .pairs = aggregate_}));
  }
  if (options_.round_timeout.ns > 0) timer_ = host.StartTimer(options_.round_timeout);
}

void FedKSeedServer::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  Result<SpsaMessageKind> kind = PeekSpsaKind(bytes);
  if (!kind.ok()) {
    host.ReportBadPeer(from, kind.status());
    return;
  }
  if (*kind == SpsaMessageKind::kSpsaModelRequest) {
    if (Result<uint32_t> r = DecodeSpsaModelRequest(bytes); !r.ok()) {
      host.ReportBadPeer(from, r.status());
      return;
    }
    host.Send(from, EncodeSpsaModelReply(round_.value, global_));
    return;
  }
  Result<KSeedFrame> frame = DecodeKSeedFrame(
      bytes, SpsaMessageKind::kKSeedUpdate, static_cast<size_t>(options_.local_steps),
      options_.pool);
  if (!frame.ok()) {
    host.ReportBadPeer(from, frame.status());
    return;
  }
  down_.erase(from);  // it sends, so it is up
  if (done_ || frame->round != Round(round_.value + 1).value) {
    host.metrics().Count("fedkseed.late_replies", 1);
    return;
  }
  auto it = selected_.find(from);
  if (it == selected_.end() || it->second) {
    host.ReportBadPeer(from, Status::InvalidArgument("FedKSeed: unrequested or repeated reply "
                                                     "for round ", frame->round));
    return;
  }
  it->second = true;
  replies_[from.value] = std::move(frame->pairs);
  if (RoundComplete()) Aggregate(host);
}

void FedKSeedServer::OnPeerDown(Host& host, PeerId peer) {
  if (std::find(clients_.begin(), clients_.end(), peer) == clients_.end()) return;
  down_.insert(peer);
  host.metrics().Count("fedkseed.clients_down", 1);
  if (!done_ && RoundComplete()) Aggregate(host);
}

bool FedKSeedServer::RoundComplete() const {
  for (const auto& [client, replied] : selected_) {
    if (!replied && !down_.contains(client)) return false;
  }
  return !replies_.empty();
}

void FedKSeedServer::OnPeerUp(Host& /*host*/, PeerId peer) { down_.erase(peer); }

void FedKSeedServer::OnTimer(Host& host, TimerId timer) {
  if (!done_ && timer == timer_) {
    host.metrics().Count("fedkseed.round_timeouts", 1);
    Aggregate(host);
  }
}

void FedKSeedServer::Aggregate(Host& host) {
  std::map<uint32_t, double> coeff;
  const double scale = replies_.empty() ? 0.0 : -options_.lr / static_cast<double>(replies_.size());
  for (const auto& [client, pairs] : replies_) {
    for (const SeedScalar& p : pairs) coeff[p.index] += scale * static_cast<double>(p.scalar);
  }
  if (replies_.empty()) host.metrics().Count("fedkseed.empty_rounds", 1);
  aggregate_.clear();
  for (const auto& [index, c] : coeff) {
    aggregate_.push_back(SeedScalar{.index = index, .scalar = static_cast<float>(c)});
  }
  ApplySeedScalars(global_, aggregate_, options_);
  replies_.clear();
  round_ = Round(round_.value + 1);
  host.metrics().ReportModel(round_, global_);
  StartRound(host);
}

}  // namespace murmur
