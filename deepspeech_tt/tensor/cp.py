"""CP (CANDECOMP/PARAFAC) format.

W (M x N) is viewed as the order-d tensor of paired modes (m_1 n_1, ..., m_d n_d) (see
:mod:`deepspeech_tt.tensor.shapes` for the ordering) and written as a sum of R rank-one terms::

    W[(i_1..i_d), (j_1..j_d)] = sum_r A_1[i_1, j_1, r] A_2[i_2, j_2, r] ... A_d[i_d, j_d, r]

with factor A_k of shape (m_k, n_k, R): R * sum_k m_k n_k parameters. ``rank`` is R (an int or
a one-element list), at most prod_k(m_k n_k) / max_k(m_k n_k), a rank that always suffices to
write W exactly.

Initialisation: factor entries are drawn from N(0, s^2); an entry of W sums R products of d of
them, so its variance is R s^{2d}, and s makes that ``init_std**2``.

``from_dense`` runs CP-ALS (``tensorly.decomposition.parafac``, SVD initialisation) and folds
the weights into the first factor; at the largest rank it writes the exact decomposition down
instead (one term per index of every mode but the largest).

References:
    J. D. Carroll, J.-J. Chang, "Analysis of individual differences in multidimensional
    scaling via an N-way generalization of Eckart-Young decomposition", Psychometrika, 1970.
    T. G. Kolda, B. W. Bader, "Tensor decompositions and applications", SIAM Review, 2009.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from tensorly.decomposition import parafac
from torch import Tensor, nn

from deepspeech_tt.tensor.assembly import cp_assembly_macs, cp_to_matrix
from deepspeech_tt.tensor.base import FactorizedMatrix, Rank, Shape, default_init_std, matrix_size
from deepspeech_tt.tensor.contraction import contract, count_macs, symbols
from deepspeech_tt.tensor.fitting import as_numpy, as_parameters, numpy_backend
from deepspeech_tt.tensor.shapes import (
    check_ranks,
    describe,
    pair_modes,
    parse_ranks,
    resolve_shapes,
)

ALS_ITERATIONS = 200


class CPMatrix(FactorizedMatrix):
    """A weight matrix as a CP decomposition over its paired modes (Carroll and Chang 1970).

    Args:
        out_features: M, the number of rows (outputs).
        in_features: N, the number of columns (inputs).
        rank: R, the number of rank-one terms.
        out_shape: (m_1, ..., m_d) with product M; split automatically when None.
        in_shape: (n_1, ..., n_d) with product N; split automatically when None.
        init_std: standard deviation of the initial W; None for ``nn.Linear``'s, 1/sqrt(3N).
    """

    def __init__(
        self, out_features: int, in_features: int, rank: Rank, *, out_shape: Shape = None,
        in_shape: Shape = None, init_std: float | None = None,
    ) -> None:
        super().__init__(out_features, in_features)
        self.out_shape, self.in_shape = resolve_shapes(out_features, in_features, out_shape,
                                                       in_shape)
        self.rank = cp_rank(rank, self.out_shape, self.in_shape)
        std = default_init_std(in_features) if init_std is None else init_std
        factor_std = (std**2 / self.rank) ** (0.5 / len(self.out_shape))
        self.factors = nn.ParameterList(
            nn.Parameter(torch.randn(shape) * factor_std) for shape in self.factor_shapes()
        )
        self._matmul_eq = _product_equation(len(self.out_shape))

    @classmethod
    def from_dense(
        cls, weight: Tensor, rank: Rank, *, out_shape: Shape = None, in_shape: Shape = None
    ) -> CPMatrix:
        """Factors fitted to ``weight`` (M, N) by CP-ALS, in its dtype and on its device."""
        rows, cols = matrix_size(weight)
        matrix = cls(rows, cols, rank, out_shape=out_shape, in_shape=in_shape)
        tensor = as_numpy(pair_modes(weight, matrix.out_shape, matrix.in_shape))
        if matrix.rank == cp_max_rank(matrix.out_shape, matrix.in_shape):
            factors = _exact_cp(tensor)
        else:
            factors = _als(tensor, matrix.rank)
        shapes = matrix.factor_shapes()
        arrays = [f.reshape(shape) for f, shape in zip(factors, shapes, strict=True)]
        matrix.factors = nn.ParameterList(as_parameters(arrays, like=weight))
        return matrix

    def factor_shapes(self) -> list[tuple[int, int, int]]:
        """(m_k, n_k, R) for every factor."""
        return [(m, n, self.rank) for m, n in zip(self.out_shape, self.in_shape, strict=True)]

    def to_dense(self) -> Tensor:
        return cp_to_matrix(list(self.factors))  # (M, N), see deepspeech_tt.tensor.assembly

    def matmul(self, x: Tensor) -> Tensor:
        flat = self._flatten_input(x).reshape(-1, *self.in_shape)  # (B, n_1..n_d)
        y = contract(self._matmul_eq, flat, *self.factors, free_limit=self.numel)
        return y.reshape(*x.shape[:-1], self.out_features)  # (B, m_1..m_d) -> (..., M)

    def flops_matmul(self, batch: int) -> int:
        shapes = [(batch, *self.in_shape), *self.factor_shapes()]
        return count_macs(self._matmul_eq, shapes, self.numel)

    def flops_to_dense(self) -> int:
        return cp_assembly_macs(self.factor_shapes())

    def extra_repr(self) -> str:
        return f"out_shape={self.out_shape}, in_shape={self.in_shape}, rank={self.rank}"


def cp_max_rank(out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> int:
    """prod_k(m_k n_k) / max_k(m_k n_k): enough terms to write any W exactly."""
    pairs = [m * n for m, n in zip(out_shape, in_shape, strict=True)]
    return math.prod(pairs) // max(pairs)


def cp_rank(rank: Rank, out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> int:
    """The checked CP rank R."""
    sizes = describe(out_shape, in_shape)
    (r,) = parse_ranks(rank, 1, "a CP matrix", sizes)
    check_ranks([r], [cp_max_rank(out_shape, in_shape)], "CP rank", sizes)
    return r


def _als(tensor: np.ndarray, rank: int) -> list[np.ndarray]:
    """CP-ALS factors (a_k, R), the weights folded into the first."""
    with numpy_backend(), warnings.catch_warnings():
        # With R above a mode's size the SVD start fills the extra columns at random; expected.
        warnings.filterwarnings("ignore", message="Trying to compute SVD")
        weights, factors = parafac(tensor, rank, n_iter_max=ALS_ITERATIONS, init="svd",
                                   random_state=0)
    return [factors[0] * weights, *factors[1:]]


def _exact_cp(tensor: np.ndarray) -> list[np.ndarray]:
    """An exact CP decomposition with one term per index of every mode but the largest."""
    largest = int(np.argmax(tensor.shape))
    others = [k for k in range(tensor.ndim) if k != largest]
    terms = math.prod(tensor.shape[k] for k in others)
    grids = np.indices([tensor.shape[k] for k in others]).reshape(len(others), terms)
    factors = [np.zeros((size, terms)) for size in tensor.shape]
    for axis, grid in zip(others, grids, strict=True):
        factors[axis][grid, np.arange(terms)] = 1.0  # term t picks index grid[t] of this mode
    fibres = np.moveaxis(tensor, largest, -1).reshape(terms, tensor.shape[largest])
    factors[largest] = fibres.T  # (a_largest, terms): the fibre the other indices select
    return factors


def _product_equation(d: int) -> str:
    """The einsum equation of matmul (x, factors -> y)."""
    outs, ins = symbols(d), symbols(d, d)
    term, batch = symbols(2, 2 * d)
    factors = ",".join(outs[k] + ins[k] + term for k in range(d))
    return f"{batch}{''.join(ins)},{factors}->{batch}{''.join(outs)}"
