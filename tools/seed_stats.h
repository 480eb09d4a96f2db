// Mean and 95% confidence interval of one figure over seeds: what `murmur
// sweep` and `murmur report` print for a group of runs that differ only in
// their seed. The interval is Student's t on the sample standard deviation
// (n - 1 degrees of freedom), the usual choice for a handful of seeds.
#pragma once

#include <cstddef>
#include <span>

namespace murmur::cli {

struct SeedStats {
  std::size_t n = 0;
  double mean = 0.0;
  // Half the width of the 95% interval: mean +- half_width. Zero for n < 2
  // (no interval can be stated from one seed).
  double half_width = 0.0;
};

// The two-sided 97.5% quantile of Student's t with `dof` degrees of freedom
// (dof >= 1); tabulated to 30, the normal 1.960 beyond.
double StudentT975(std::size_t dof);

SeedStats MeanAnd95(std::span<const double> values);

}  // namespace murmur::cli
