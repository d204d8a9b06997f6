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
from deepspeech_tt.tensor.base import Rank
from deepspeech_tt.tensor.contraction import symbols
from deepspeech_tt.tensor.fitting import as_numpy, as_tensors, numpy_backend
from deepspeech_tt.tensor.modes import ModeMatrix, Modes
from deepspeech_tt.tensor.shapes import check_ranks, describe, pair_modes, parse_ranks

ALS_ITERATIONS = 200


class CPMatrix(ModeMatrix):
    """A weight matrix as a CP decomposition over its paired modes (Carroll and Chang 1970).

    ``rank`` is R, the number of rank-one terms; ``ranks`` holds (R,). The other arguments are
    :class:`ModeMatrix`'s.
    """

    @classmethod
    def check_rank(cls, rank: Rank, out_shape: Modes, in_shape: Modes,
                   **options: int | None) -> Modes:
        """The checked CP rank, as (R,)."""
        sizes = describe(out_shape, in_shape)
        ranks = parse_ranks(rank, 1, "a CP matrix", sizes)
        check_ranks(ranks, [cls.rank_limits(out_shape, in_shape)], "CP rank", sizes)
        return ranks

    @classmethod
    def rank_limits(cls, out_shape: Modes, in_shape: Modes) -> int:
        """prod_k(m_k n_k) / max_k(m_k n_k): enough terms to write any W exactly."""
        pairs = [m * n for m, n in zip(out_shape, in_shape, strict=True)]
        return math.prod(pairs) // max(pairs)

    @staticmethod
    def product_equation(order: int) -> str:
        """x, factors -> y."""
        outs, ins = symbols(order), symbols(order, order)
        term, batch = symbols(2, 2 * order)
        factors = ",".join(outs[k] + ins[k] + term for k in range(order))
        return f"{batch}{''.join(ins)},{factors}->{batch}{''.join(outs)}"

    def factor_shapes(self) -> list[Modes]:
        """(m_k, n_k, R) for every factor."""
        (rank,) = self.ranks
        return [(m, n, rank) for m, n in zip(self.out_shape, self.in_shape, strict=True)]

    def _initial_factors(self, std: float) -> list[Tensor]:
        factor_std = (std**2 / self.ranks[0]) ** (0.5 / len(self.out_shape))
        return [torch.randn(shape) * factor_std for shape in self.factor_shapes()]

    @classmethod
    def _fit(cls, weight: Tensor, out_shape: Modes, in_shape: Modes,
             ranks: Modes) -> list[Tensor]:
        """CP-ALS, or the exact decomposition at the largest rank."""
        tensor = as_numpy(pair_modes(weight, out_shape, in_shape))
        if ranks[0] == cls.rank_limits(out_shape, in_shape):
            factors = _exact_cp(tensor)
        else:
            factors = _als(tensor, ranks[0])
        pairs = zip(out_shape, in_shape, strict=True)
        return as_tensors([f.reshape(m, n, -1) for f, (m, n) in zip(factors, pairs, strict=True)])

    def _hold(self, factors: list[Tensor]) -> None:
        self.factors = nn.ParameterList(nn.Parameter(factor) for factor in factors)

    def to_dense(self) -> Tensor:
        return cp_to_matrix(list(self.factors))  # (M, N), see deepspeech_tt.tensor.assembly

    def flops_to_dense(self) -> int:
        return cp_assembly_macs(self.factor_shapes())


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

