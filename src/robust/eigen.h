// Symmetric eigendecomposition for the small n x n matrices of the
// subspace rules (n = number of inputs, at most a few hundred).
#pragma once

#include <cstddef>
#include <vector>

namespace murmur::robust_internal {

// Cyclic Jacobi rotations (Golub and Van Loan, "Matrix Computations",
// 8.5): accurate for small symmetric matrices and deterministic. `a` is
// row-major n x n and symmetric. On return `values` holds the eigenvalues in
// descending order and column k of `vectors` (row-major n x n) the unit
// eigenvector of values[k].
void SymmetricEigen(std::vector<double> a, size_t n, std::vector<double>& values,
                    std::vector<double>& vectors);

}  // namespace murmur::robust_internal
