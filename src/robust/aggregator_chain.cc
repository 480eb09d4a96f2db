#include "murmur/robust/aggregator_chain.h"

#include <algorithm>
#include <utility>

namespace murmur {

AggregatorChain::AggregatorChain(std::vector<std::unique_ptr<PreAggregator>> stages,
                                 std::unique_ptr<Aggregator> rule, int f, ThreadPool* pool)
    : Aggregator(f, pool),
      stages_(std::move(stages)),
      rule_(std::move(rule)) {
  MURMUR_CHECK(rule_ != nullptr);
  for (const auto& s : stages_) MURMUR_CHECK(s != nullptr);
}

AggregatorChain::~AggregatorChain() = default;

std::string AggregatorChain::name() const {
  std::string out;
  for (const auto& s : stages_) out += s->name() + ">";
  return out + rule_->name();
}

bool AggregatorChain::accepts_weights() const {
  if (!rule_->accepts_weights()) return false;
  for (const auto& s : stages_) {
    if (!s->KeepsInputOrder()) return false;
  }
  return true;
}

Status AggregatorChain::CheckPreconditions(size_t n, int f) const {
  for (const auto& s : stages_) {
    MURMUR_RETURN_IF_ERROR(s->CheckPreconditions(n, f));
    n = s->OutputCount(n);
  }
  return rule_->CheckPreconditions(n, f);
}

size_t AggregatorChain::MinInputs(int f) const {
  // No stage makes more vectors than it gets, so n below the rule's own
  // minimum never passes; the stages' outputs grow with n, so one does.
  size_t n = std::max<size_t>(rule_->MinInputs(f), 1);
  for (const auto& s : stages_) n = std::max(n, s->input_bound().Min(f));
  while (!CheckPreconditions(n, f).ok()) ++n;
  return n;
}

Status AggregatorChain::AggregateChecked(const CheckedInput& in, std::span<float> out,
                                         FinitenessScan* scan) const {
  if (scan != nullptr && ScanInputs(in, scan)) return Status::Ok();
  std::vector<std::vector<float>> buffers[2];
  std::vector<std::span<const float>> views(in.vectors.begin(), in.vectors.end());
  for (size_t s = 0; s < stages_.size(); ++s) {
    std::vector<std::vector<float>>& produced = buffers[s % 2];
    const CheckedInput stage_in{.vectors = views,
                                .weights = {},
                                .reference = {},
                                .f = in.f,
                                .dim = in.dim,
                                .rng = in.rng};
    MURMUR_RETURN_IF_ERROR(stages_[s]->ApplyChecked(stage_in, produced));
    views.assign(produced.begin(), produced.end());
  }
  const CheckedInput rule_in{.vectors = views,
                             .weights = in.weights,
                             .reference = in.reference,
                             .f = in.f,
                             .dim = in.dim,
                             .rng = in.rng};
  return rule_->AggregateChecked(rule_in, out, nullptr);
}

}  // namespace murmur
