// Robust aggregation: the interface every rule and pre-aggregator implements.
//
// A rule turns n input vectors of dimension d (models or updates from peers,
// up to f of them Byzantine, i.e. arbitrary) into one output vector. Rules are
// pure functions over float spans: no I/O, no threads of their own (an
// optional caller-supplied ThreadPool parallelizes the kernels), no global
// state, no randomness except a caller-supplied Rng for randomized
// pre-aggregators.
//
// Non-finite inputs (the policy shared by every rule and pre-aggregator):
// an input with any NaN or +-Inf coordinate is Byzantine by proof. Such inputs
// are dropped before the rule runs; with k of them dropped, the rule runs on
// the n - k remaining inputs with f' = max(f - k, 0), since at most f - k of
// those can still be Byzantine. When k > f the caller's bound was exceeded
// and the rule runs with f' = 0 on what is left. When no input is left, or
// the remaining ones fail the rule's precondition, Aggregate returns
// kInvalidArgument naming the rule, n, f and k. Every rule's output is finite
// whenever its inputs are finite (sums are accumulated in double, so even
// inputs near FLT_MAX cannot overflow), so NaN/Inf never propagate.
//
// Determinism: for a given machine and input, the output is bit-identical
// for every thread count (work is split into fixed coordinate chunks whose
// partial results are combined in a fixed order). Kernels are compiled for
// x86-64-v4 (AVX-512), x86-64-v3 (AVX2, FMA) and baseline x86-64 and picked
// at load time, so the last bits may differ between CPUs of different
// levels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"
#include "murmur/core/thread_pool.h"

namespace murmur {

using VectorList = std::span<const std::span<const float>>;

// What to aggregate. Non-owning: every span must stay valid during the call.
struct AggregationInput {
  std::span<const std::span<const float>> vectors;
  // One non-negative finite weight per vector (e.g. local dataset sizes);
  // empty means equal weights. Only rules whose header says so accept
  // weights (Mean, GeometricMedian); the others return kInvalidArgument.
  std::span<const double> weights;
  // The aggregating peer's own vector, for rules that measure from it
  // (NearestNeighborAveraging) or clip around it (CenteredClipping); other
  // rules ignore it. It is a point of reference only: to count the own
  // vector as an input, also pass it among `vectors`.
  std::span<const float> reference;
  // Randomness for randomized pre-aggregators (Bucketing); they return
  // kInvalidArgument without one. Advanced by the call.
  Rng* rng = nullptr;
};

// The input a rule's kernel sees after validation: equal dimensions, valid
// weights, non-finite inputs removed (unless `scan` is requested, below) and
// the Byzantine count adjusted accordingly.
struct CheckedInput {
  VectorList vectors;
  std::span<const double> weights;    // empty, or one per vector
  std::span<const float> reference;   // empty, or dim elements, finite
  int f = 0;                          // Byzantine inputs possibly left
  size_t dim = 0;
  Rng* rng = nullptr;
};

// Per-input flags filled by a kernel that checks finiteness itself (so the
// check costs no extra pass over memory). flags[i] = 1 marks input i
// non-finite.
struct FinitenessScan {
  std::vector<uint8_t> flags;
  bool any() const;
};

// How many inputs a rule or pre-aggregator needs, declared by each one:
// n >= per_f * f + plus (so {2, 1} is "n > 2f", Krum's {2, 3} "n >= 2f + 3").
struct InputBound {
  size_t per_f = 0;
  size_t plus = 1;
  size_t Min(int f) const { return per_f * static_cast<size_t>(f) + plus; }
  // "n >= 2f + 3", "n > 2f", "n >= 1".
  std::string ToString() const;
};

// A robust aggregation rule (possibly preceded by pre-aggregators; see
// AggregatorChain). Aggregate is const: a rule without a pool may be called
// from several threads at once; with a pool, one call at a time (the pool's
// ParallelFor has a single caller). `pool`, when given, must outlive the
// rule.
class Aggregator {
 public:
  Aggregator(int f, ThreadPool* pool);
  virtual ~Aggregator();
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // The rule's name as MakeAggregator takes it, e.g. "trimmed-mean".
  virtual std::string name() const = 0;
  // The number of Byzantine inputs the rule is configured to tolerate.
  int f() const { return f_; }
  virtual bool accepts_weights() const { return false; }
  virtual bool needs_reference() const { return false; }

  // Writes the aggregate of input.vectors to `out`.
  // Returns kInvalidArgument, naming the rule and the bad value, when there
  // are no inputs, an input's size differs from out.size(), weights or
  // reference are malformed or unsupported, or the rule's precondition
  // fails (e.g. n <= 2f for TrimmedMean; the message then names n and f);
  // see the non-finite policy above. On error
  // `out` is left as it was, except after the finiteness scan (all inputs
  // non-finite, or the finite rest failing the precondition), where its
  // contents are unspecified.
  Status Aggregate(const AggregationInput& input, std::span<float> out) const;
  Status Aggregate(VectorList vectors, std::span<float> out) const {
    return Aggregate(AggregationInput{.vectors = vectors}, out);
  }

  // The rule's declared precondition on its number of inputs n (default:
  // n >= 1). CheckPreconditions checks it; run configs check it against the
  // topology before a run (protocol/registry.h).
  virtual InputBound input_bound() const { return {}; }
  // The fewest inputs for which CheckPreconditions(n, f) holds: for a
  // chain, through its pre-aggregators (Bucketing divides the count).
  virtual size_t MinInputs(int f) const { return input_bound().Min(f); }

  // The rule's precondition on n inputs with f Byzantine ones (by default
  // n >= input_bound().Min(f)); OK or kInvalidArgument with a message
  // naming the rule, n, f and the bound ("needs n >= 2f + 3").
  virtual Status CheckPreconditions(size_t n, int f) const;

  // The kernel, on validated input (Aggregate's second half; chains call it
  // directly). REQUIRES: in.vectors non-empty, all of size out.size();
  // CheckPreconditions(in.vectors.size(), in.f) is OK; weights and
  // reference valid. When `scan` is null, every input is finite. When
  // `scan` is non-null the inputs are unchecked: the kernel must set
  // scan->flags (size n) and, if any input is non-finite, may leave `out`
  // unspecified; Aggregate then drops the flagged inputs and calls again
  // with scan == null. Kernels that cannot fuse the check call
  // ScanInputs() first.
  virtual Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                                  FinitenessScan* scan) const = 0;

 protected:
  ThreadPool* pool() const { return pool_; }
  // Fills scan->flags by a separate pass; true when some input is
  // non-finite (the kernel should then return OK at once).
  bool ScanInputs(const CheckedInput& in, FinitenessScan* scan) const;

 private:
  const int f_;
  ThreadPool* const pool_;
};

// Transforms the input set before a rule: clipping, mixing, bucketing. The
// output holds owned vectors; its count may differ from the input's
// (Bucketing). Thread safety and `pool` as for Aggregator.
class PreAggregator {
 public:
  PreAggregator(int f, ThreadPool* pool);
  virtual ~PreAggregator();
  PreAggregator(const PreAggregator&) = delete;
  PreAggregator& operator=(const PreAggregator&) = delete;

  virtual std::string name() const = 0;
  int f() const { return f_; }
  // How many vectors Apply makes from n finite inputs.
  virtual size_t OutputCount(size_t n) const { return n; }
  // True when output i is derived from input i (so per-input weights still
  // apply to the outputs); false for Bucketing.
  virtual bool KeepsInputOrder() const { return true; }
  // Its declared precondition on n, checked by CheckPreconditions (default:
  // n >= 1).
  virtual InputBound input_bound() const { return {}; }
  virtual Status CheckPreconditions(size_t n, int f) const;

  // Replaces `out` with the transformed vectors. Non-finite inputs are
  // dropped first (see the policy above), so `out` holds
  // OutputCount(n - k) finite vectors. input.weights and input.reference
  // are not used. Returns kInvalidArgument for no
  // inputs, unequal sizes, a failed precondition, or a missing rng where
  // one is needed.
  Status Apply(const AggregationInput& input,
               std::vector<std::vector<float>>& out) const;

  // Apply's kernel on validated, finite input.
  // REQUIRES: CheckPreconditions(in.vectors.size(), in.f) is OK.
  virtual Status ApplyChecked(const CheckedInput& in,
                              std::vector<std::vector<float>>& out) const = 0;

 protected:
  ThreadPool* pool() const { return pool_; }

 private:
  const int f_;
  ThreadPool* const pool_;
};

// Message prefix shared by precondition errors: "<rule>: n=<n> f=<f>: ".
std::string RuleContext(const std::string& rule, size_t n, int f);

}  // namespace murmur
