"""Tucker format.

W (M x N) is viewed as the order-d tensor of paired modes (m_1 n_1, ..., m_d n_d) (see
:mod:`deepspeech_tt.tensor.shapes` for the ordering) and written as a core C of shape
(r_1, ..., r_d) multiplied along each mode by a factor U_k of shape (m_k, n_k, r_k)::

    W[(i_1..i_d), (j_1..j_d)] = sum_{s_1..s_d} C[s_1..s_d] U_1[i_1, j_1, s_1] ... U_d[i_d, j_d, s_d]

prod_k r_k + sum_k m_k n_k r_k parameters. ``rank`` is one int for every mode or d ints, with
r_k <= m_k n_k (a core size above the product of the other core sizes is allowed but adds
nothing: the matching unfolding of W cannot have a larger rank).

Initialisation: each factor, seen as an (m_k n_k) x r_k matrix, gets orthonormal columns (QR of
a Gaussian matrix) and the core entries are drawn from N(0, s^2). Then the mean of W^2 over
its entries is s^2 prod_k r_k / (M N) for every draw of the factors, and s makes it
``init_std**2``: the variance is exact rather than a product of noisy estimates.

``from_dense`` runs truncated HOSVD refined by higher-order orthogonal iteration
(``tensorly.decomposition.tucker``, SVD initialisation); exact at r_k = m_k n_k.

References:
    L. R. Tucker, "Some mathematical notes on three-mode factor analysis", Psychometrika, 1966.
    L. De Lathauwer, B. De Moor, J. Vandewalle, "A multilinear singular value decomposition",
    SIAM J. Matrix Anal. Appl., 2000.
"""

from __future__ import annotations

import math
import warnings

import torch
from tensorly.decomposition import tucker
from torch import Tensor, nn

from deepspeech_tt.tensor.assembly import tucker_assembly_macs, tucker_to_matrix
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


class TuckerMatrix(FactorizedMatrix):
    """A weight matrix as a Tucker decomposition over its paired modes (Tucker 1966).

    Args:
        out_features: M, the number of rows (outputs).
        in_features: N, the number of columns (inputs).
        rank: the core's sizes (r_1, ..., r_d): one int for all, or a list.
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
        self.ranks = tucker_ranks(rank, self.out_shape, self.in_shape)
        std = default_init_std(in_features) if init_std is None else init_std
        core_std = std * math.sqrt(out_features * in_features / math.prod(self.ranks))
        self.core = nn.Parameter(torch.randn(self.ranks) * core_std)
        self.factors = nn.ParameterList(
            nn.Parameter(_orthonormal(shape)) for shape in self.factor_shapes()
        )
        self._matmul_eq = _product_equation(len(self.out_shape))

    @classmethod
    def from_dense(
        cls, weight: Tensor, rank: Rank, *, out_shape: Shape = None, in_shape: Shape = None
    ) -> TuckerMatrix:
        """Core and factors fitted to ``weight`` (M, N) by HOSVD + HOOI, in its dtype/device."""
        rows, cols = matrix_size(weight)
        matrix = cls(rows, cols, rank, out_shape=out_shape, in_shape=in_shape)
        tensor = as_numpy(pair_modes(weight, matrix.out_shape, matrix.in_shape))
        with numpy_backend(), warnings.catch_warnings():
            # r_k above the product of the other modes (or ranks) leaves SVDs short of
            # columns, which tensorly pads; the fit is still exact or best-effort.
            warnings.filterwarnings("ignore", message="Trying to compute SVD")
            core, factors = tucker(tensor, list(matrix.ranks), init="svd", random_state=0)
        shapes = matrix.factor_shapes()
        arrays = [f.reshape(shape) for f, shape in zip(factors, shapes, strict=True)]
        (matrix.core,) = as_parameters([core], like=weight)
        matrix.factors = nn.ParameterList(as_parameters(arrays, like=weight))
        return matrix

    def factor_shapes(self) -> list[tuple[int, int, int]]:
        """(m_k, n_k, r_k) for every factor."""
        modes = zip(self.out_shape, self.in_shape, self.ranks, strict=True)
        return [(m, n, r) for m, n, r in modes]

    def to_dense(self) -> Tensor:
        # (M, N), see deepspeech_tt.tensor.assembly
        return tucker_to_matrix(self.core, list(self.factors))

    def matmul(self, x: Tensor) -> Tensor:
        flat = self._flatten_input(x).reshape(-1, *self.in_shape)  # (B, n_1..n_d)
        y = contract(self._matmul_eq, flat, self.core, *self.factors, free_limit=self.numel)
        return y.reshape(*x.shape[:-1], self.out_features)  # (B, m_1..m_d) -> (..., M)

    def flops_matmul(self, batch: int) -> int:
        shapes = [(batch, *self.in_shape), self.ranks, *self.factor_shapes()]
        return count_macs(self._matmul_eq, shapes, self.numel)

    def flops_to_dense(self) -> int:
        return tucker_assembly_macs(self.ranks, self.factor_shapes())

    def extra_repr(self) -> str:
        return f"out_shape={self.out_shape}, in_shape={self.in_shape}, ranks={self.ranks}"


def tucker_ranks(
    rank: Rank, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """Checked core sizes (r_1, ..., r_d), each at most m_k n_k."""
    sizes = describe(out_shape, in_shape)
    ranks = parse_ranks(rank, len(out_shape), "a Tucker matrix", sizes)
    pairs = [m * n for m, n in zip(out_shape, in_shape, strict=True)]
    check_ranks(ranks, pairs, "Tucker rank", sizes)
    return ranks


def _orthonormal(shape: tuple[int, int, int]) -> Tensor:
    """(m, n, r) whose (m n) x r matricisation has orthonormal columns."""
    m, n, r = shape
    q, _ = torch.linalg.qr(torch.randn(m * n, r))
    return q.reshape(m, n, r)


def _product_equation(d: int) -> str:
    """The einsum equation of matmul (x, core, factors -> y)."""
    outs, ins, core = symbols(d), symbols(d, d), symbols(d, 2 * d)
    batch = symbols(1, 3 * d)[0]
    operands = "".join(core) + "," + ",".join(outs[k] + ins[k] + core[k] for k in range(d))
    return f"{batch}{''.join(ins)},{operands}->{batch}{''.join(outs)}"
