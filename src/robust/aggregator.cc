#include "murmur/robust/aggregator.h"

#include <algorithm>
#include <cmath>

#include "murmur/robust/kernels.h"

namespace murmur {
namespace {

// Validates the parts of an input every rule and pre-aggregator shares.
Status ValidateCommon(const std::string& who, const AggregationInput& input,
                      size_t dim) {
  const size_t n = input.vectors.size();
  if (n == 0) return Status::InvalidArgument(who, ": no inputs to aggregate");
  for (size_t i = 0; i < n; ++i) {
    if (input.vectors[i].size() != dim) {
      return Status::InvalidArgument(who, ": input ", i, " has ",
                                     input.vectors[i].size(), " elements, expected ",
                                     dim);
    }
  }
  return Status::Ok();
}

// The finite inputs, their weights, and the adjusted Byzantine count.
struct Filtered {
  std::vector<std::span<const float>> vectors;
  std::vector<double> weights;
  size_t dropped = 0;
  int f = 0;
};

Filtered DropFlagged(const AggregationInput& input, std::span<const uint8_t> flags,
                     int f) {
  Filtered out;
  for (size_t i = 0; i < input.vectors.size(); ++i) {
    if (flags[i]) {
      ++out.dropped;
      continue;
    }
    out.vectors.push_back(input.vectors[i]);
    if (!input.weights.empty()) out.weights.push_back(input.weights[i]);
  }
  out.f = std::max(0, f - static_cast<int>(out.dropped));
  return out;
}

}  // namespace

bool FinitenessScan::any() const {
  return std::any_of(flags.begin(), flags.end(), [](uint8_t v) { return v != 0; });
}

std::string RuleContext(const std::string& rule, size_t n, int f) {
  return Status::Concat(rule, ": n=", n, " f=", f, ": ");
}

Aggregator::Aggregator(int f, ThreadPool* pool) : f_(f), pool_(pool) {
  MURMUR_CHECK(f >= 0);
}

Aggregator::~Aggregator() = default;

std::string InputBound::ToString() const {
  if (per_f == 0) return Status::Concat("n >= ", plus);
  if (plus == 0) return Status::Concat("n >= ", per_f, "f");
  if (plus == 1) return Status::Concat("n > ", per_f, "f");
  return Status::Concat("n >= ", per_f, "f + ", plus);
}

namespace {

Status CheckBound(const std::string& who, const InputBound& bound, size_t n, int f) {
  if (n == 0) return Status::InvalidArgument(RuleContext(who, n, f), "no inputs");
  if (n < bound.Min(f)) {
    return Status::InvalidArgument(RuleContext(who, n, f), "needs ", bound.ToString());
  }
  return Status::Ok();
}

}  // namespace

Status Aggregator::CheckPreconditions(size_t n, int f) const {
  return CheckBound(name(), input_bound(), n, f);
}

bool Aggregator::ScanInputs(const CheckedInput& in, FinitenessScan* scan) const {
  scan->flags.assign(in.vectors.size(), 0);
  return FlagNonFinite(in.vectors, scan->flags, pool_) > 0;
}

Status Aggregator::Aggregate(const AggregationInput& input, std::span<float> out) const {
  const std::string rule = name();
  MURMUR_RETURN_IF_ERROR(ValidateCommon(rule, input, out.size()));
  const size_t n = input.vectors.size();
  if (!input.weights.empty()) {
    if (!accepts_weights()) {
      return Status::InvalidArgument(rule, ": does not take per-input weights");
    }
    if (input.weights.size() != n) {
      return Status::InvalidArgument(rule, ": ", input.weights.size(),
                                     " weights for ", n, " inputs");
    }
    for (size_t i = 0; i < n; ++i) {
      const double w = input.weights[i];
      if (!std::isfinite(w) || w < 0) {
        return Status::InvalidArgument(rule, ": weight ", i, " is ", w,
                                       "; weights must be finite and >= 0");
      }
    }
    double total = 0;
    for (double w : input.weights) total += w;
    if (!(total > 0) || !std::isfinite(total)) {
      return Status::InvalidArgument(rule, ": weights sum to ", total,
                                     "; need a positive finite sum");
    }
  }
  if (needs_reference() && input.reference.empty()) {
    return Status::InvalidArgument(rule, ": needs the aggregating peer's own vector as "
                                         "the reference");
  }
  if (!input.reference.empty()) {
    if (input.reference.size() != out.size()) {
      return Status::InvalidArgument(rule, ": reference has ", input.reference.size(),
                                     " elements, expected ", out.size());
    }
    if (HasNonFinite(input.reference)) {
      return Status::InvalidArgument(rule, ": reference vector is not finite");
    }
  }
  MURMUR_RETURN_IF_ERROR(CheckPreconditions(n, f_));

  CheckedInput checked{.vectors = input.vectors,
                       .weights = input.weights,
                       .reference = input.reference,
                       .f = f_,
                       .dim = out.size(),
                       .rng = input.rng};
  FinitenessScan scan;
  MURMUR_RETURN_IF_ERROR(AggregateChecked(checked, out, &scan));
  if (scan.flags.size() != n) {
    return Status::Internal(rule, ": kernel did not report its finiteness scan");
  }
  if (!scan.any()) return Status::Ok();

  Filtered kept = DropFlagged(input, scan.flags, f_);
  if (kept.vectors.empty()) {
    return Status::InvalidArgument(RuleContext(rule, n, f_), "all ", n,
                                   " inputs contain NaN or Inf");
  }
  if (!kept.weights.empty()) {
    double total = 0;
    for (double w : kept.weights) total += w;
    if (total <= 0) {
      return Status::InvalidArgument(RuleContext(rule, n, f_), kept.dropped,
                                     " inputs contain NaN or Inf and the remaining "
                                     "weights sum to zero");
    }
  }
  Status pre = CheckPreconditions(kept.vectors.size(), kept.f);
  if (!pre.ok()) {
    return Status::InvalidArgument(RuleContext(rule, n, f_), kept.dropped,
                                   " inputs contain NaN or Inf and the rest fail the "
                                   "precondition: ",
                                   pre.message());
  }
  checked.vectors = kept.vectors;
  checked.weights = kept.weights;
  checked.f = kept.f;
  return AggregateChecked(checked, out, nullptr);
}

PreAggregator::PreAggregator(int f, ThreadPool* pool) : f_(f), pool_(pool) {
  MURMUR_CHECK(f >= 0);
}

PreAggregator::~PreAggregator() = default;

Status PreAggregator::CheckPreconditions(size_t n, int f) const {
  return CheckBound(name(), input_bound(), n, f);
}

Status PreAggregator::Apply(const AggregationInput& input,
                            std::vector<std::vector<float>>& out) const {
  const std::string who = name();
  const size_t dim = input.vectors.empty() ? 0 : input.vectors[0].size();
  MURMUR_RETURN_IF_ERROR(ValidateCommon(who, input, dim));
  const size_t n = input.vectors.size();
  MURMUR_RETURN_IF_ERROR(CheckPreconditions(n, f_));
  std::vector<uint8_t> flags(n, 0);
  FlagNonFinite(input.vectors, flags, pool_);
  AggregationInput unweighted = input;
  unweighted.weights = {};
  Filtered kept = DropFlagged(unweighted, flags, f_);
  if (kept.vectors.empty()) {
    return Status::InvalidArgument(RuleContext(who, n, f_), "all ", n,
                                   " inputs contain NaN or Inf");
  }
  if (kept.dropped > 0) {
    Status pre = CheckPreconditions(kept.vectors.size(), kept.f);
    if (!pre.ok()) {
      return Status::InvalidArgument(RuleContext(who, n, f_), kept.dropped,
                                     " inputs contain NaN or Inf and the rest fail the "
                                     "precondition: ",
                                     pre.message());
    }
  }
  CheckedInput checked{.vectors = kept.vectors,
                       .weights = {},
                       .reference = {},
                       .f = kept.f,
                       .dim = dim,
                       .rng = input.rng};
  return ApplyChecked(checked, out);
}

}  // namespace murmur
