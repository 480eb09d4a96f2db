#include "murmur/protocol/server_optimizer.h"

#include <algorithm>
#include <cmath>

#include "murmur/core/check.h"

namespace murmur {

Result<ServerOptimizerKind> ParseServerOptimizerKind(std::string_view name) {
  if (name == "fedavg") return ServerOptimizerKind::kReplace;
  if (name == "sgd") return ServerOptimizerKind::kSgd;
  if (name == "adagrad") return ServerOptimizerKind::kAdagrad;
  if (name == "adam") return ServerOptimizerKind::kAdam;
  if (name == "yogi") return ServerOptimizerKind::kYogi;
  return Status::InvalidArgument("unknown server optimizer \"", name,
                                 "\"; use fedavg, sgd, adagrad, adam or yogi");
}

void ServerOptimizer::Step(std::span<float> global, std::span<const float> aggregate) {
  MURMUR_CHECK(global.size() == aggregate.size());
  const size_t n = global.size();
  if (config_.kind == ServerOptimizerKind::kReplace) {
    std::copy(aggregate.begin(), aggregate.end(), global.begin());
    return;
  }
  const auto lr = static_cast<float>(config_.lr);
  const auto b1 = static_cast<float>(config_.kind == ServerOptimizerKind::kSgd
                                         ? config_.momentum
                                         : config_.beta1);
  if (m_.empty()) m_.assign(n, 0.0f);
  MURMUR_CHECK(m_.size() == n);
  if (config_.kind == ServerOptimizerKind::kSgd) {
    for (size_t i = 0; i < n; ++i) {
      m_[i] = b1 * m_[i] + (aggregate[i] - global[i]);
      global[i] += lr * m_[i];
    }
    return;
  }
  const auto b2 = static_cast<float>(config_.beta2);
  const auto tau = static_cast<float>(config_.tau);
  if (v_.empty()) v_.assign(n, tau * tau);
  for (size_t i = 0; i < n; ++i) {
    const float delta = aggregate[i] - global[i];
    const float d2 = delta * delta;
    m_[i] = b1 * m_[i] + (1.0f - b1) * delta;
    switch (config_.kind) {
      case ServerOptimizerKind::kAdagrad:
        v_[i] += d2;
        break;
      case ServerOptimizerKind::kAdam:
        v_[i] = b2 * v_[i] + (1.0f - b2) * d2;
        break;
      case ServerOptimizerKind::kYogi: {
        const float diff = v_[i] - d2;
        const float sign = diff > 0 ? 1.0f : (diff < 0 ? -1.0f : 0.0f);
        v_[i] -= (1.0f - b2) * d2 * sign;
        break;
      }
      case ServerOptimizerKind::kReplace:
      case ServerOptimizerKind::kSgd:
        break;
    }
    global[i] += lr * m_[i] / (std::sqrt(v_[i]) + tau);
  }
}

void ServerOptimizer::Save(SnapshotWriter& out) const {
  out.Floats(m_);
  out.Floats(v_);
}

void ServerOptimizer::Restore(SnapshotReader& in, size_t dimension) {
  m_ = in.Floats("server_optimizer.m");
  v_ = in.Floats("server_optimizer.v");
  for (const std::vector<float>* moment : {&m_, &v_}) {
    if (in.ok() && !moment->empty() && moment->size() != dimension) {
      in.Fail(Status::Corrupt("snapshot: a server optimizer moment of ", moment->size(),
                              " floats, expected ", dimension));
    }
  }
}

}  // namespace murmur
