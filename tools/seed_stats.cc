#include "seed_stats.h"

#include <array>
#include <cmath>

namespace murmur::cli {

double StudentT975(std::size_t dof) {
  // t_{0.975, dof} for dof = 1..30 (standard tables).
  static constexpr std::array<double, 30> kTable = {
      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof == 0) return 0.0;
  if (dof <= kTable.size()) return kTable[dof - 1];
  return 1.960;
}

SeedStats MeanAnd95(std::span<const double> values) {
  SeedStats stats{.n = values.size()};
  if (values.empty()) return stats;
  double sum = 0.0;
  for (double v : values) sum += v;
  stats.mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) return stats;
  double squares = 0.0;
  for (double v : values) squares += (v - stats.mean) * (v - stats.mean);
  const double stddev = std::sqrt(squares / static_cast<double>(values.size() - 1));
  stats.half_width = StudentT975(values.size() - 1) * stddev / std::sqrt(static_cast<double>(values.size()));
  return stats;
}

}  // namespace murmur::cli
