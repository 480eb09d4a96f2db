// Krum and Multi-Krum (Blanchard, El Mhamdi, Guerraoui, Stainer, 2017,
// "Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent").
// Each input's score is the sum of squared distances to its n - f - 2
// nearest other inputs. Krum outputs the input with the lowest score;
// Multi-Krum the mean of the m inputs with the lowest scores. Tolerates up
// to f arbitrary inputs with n >= 2f + 3: the selected inputs are honest or
// close to the honest cluster. Pairwise distances come from a Gram matrix
// computed blockwise in double (||a-b||^2 = ||a||^2 + ||b||^2 - 2<a,b>).
// Ties in score are broken as in KrumRanking. Stateless; thread-safety as
// for Aggregator.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "murmur/robust/aggregator.h"

namespace murmur {

// Krum scores from a row-major n x n matrix of squared distances: score_i =
// sum of the `neighbours` smallest sq_dist[i][j], j != i, summed in
// ascending order. REQUIRES: neighbours <= n - 1.
std::vector<double> KrumScores(std::span<const double> sq_dist, size_t n,
                               size_t neighbours);

// Input indices ordered best first by Krum score. Equal scores (e.g. two
// mutually nearest inputs with one neighbour each) are ordered by the sum of
// all their distances, then by index, so the choice does not depend on the
// input order unless the inputs are truly symmetric.
std::vector<size_t> KrumRanking(std::span<const double> sq_dist, size_t n,
                                size_t neighbours);

class Krum final : public Aggregator {
 public:
  explicit Krum(int f, ThreadPool* pool = nullptr) : Aggregator(f, pool) {}
  std::string name() const override { return "krum"; }
  // Needs n >= 2f + 3 inputs.
  InputBound input_bound() const override { return {2, 3}; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;
};

class MultiKrum final : public Aggregator {
 public:
  // m = 0 averages n - f inputs (the common default); otherwise m inputs,
  // capped at the number of finite inputs.
  MultiKrum(int f, int m, ThreadPool* pool = nullptr);
  std::string name() const override { return "multi-krum"; }
  // Needs n >= 2f + 3 inputs.
  InputBound input_bound() const override { return {2, 3}; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;

 private:
  const int m_;
};

}  // namespace murmur
