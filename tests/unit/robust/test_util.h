// Shared helpers for the robust/ tests: owned vectors with span views.
#pragma once

#include <cmath>
#include <span>
#include <vector>

#include "murmur/core/rng.h"

namespace murmur::robust_test {

// Owns a list of vectors and hands out the span-of-spans the rules take.
struct Vectors {
  std::vector<std::vector<float>> data;
  std::vector<std::span<const float>> views;

  Vectors() = default;
  Vectors(std::initializer_list<std::vector<float>> rows) : data(rows) { Refresh(); }
  explicit Vectors(std::vector<std::vector<float>> rows) : data(std::move(rows)) {
    Refresh();
  }
  Vectors(const Vectors& other) : data(other.data) { Refresh(); }
  Vectors& operator=(const Vectors& other) {
    data = other.data;
    Refresh();
    return *this;
  }
  void Refresh() { views.assign(data.begin(), data.end()); }
  std::span<const std::span<const float>> list() const { return views; }
  size_t size() const { return data.size(); }
};

// n honest vectors of dimension dim around `center` with Gaussian noise.
inline Vectors GaussianVectors(Rng& rng, size_t n, size_t dim, float center,
                               float sigma) {
  std::vector<std::vector<float>> rows(n, std::vector<float>(dim));
  for (auto& row : rows) {
    for (auto& v : row) v = center + sigma * static_cast<float>(rng.Normal());
  }
  return Vectors(std::move(rows));
}

}  // namespace murmur::robust_test
