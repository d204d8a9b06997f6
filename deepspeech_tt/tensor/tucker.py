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
from deepspeech_tt.tensor.base import Rank
from deepspeech_tt.tensor.contraction import symbols
from deepspeech_tt.tensor.fitting import as_numpy, as_tensors, numpy_backend
from deepspeech_tt.tensor.modes import ModeMatrix, Modes
from deepspeech_tt.tensor.shapes import check_ranks, describe, pair_modes, parse_ranks


class TuckerMatrix(ModeMatrix):
    """A weight matrix as a Tucker decomposition over its paired modes (Tucker 1966).

    ``rank`` gives the core's sizes (r_1, ..., r_d): one int for all, or a list. The other
    arguments are :class:`ModeMatrix`'s.
    """

    @classmethod
    def check_rank(cls, rank: Rank, out_shape: Modes, in_shape: Modes,
                   **options: int | None) -> Modes:
        """Checked core sizes (r_1, ..., r_d), each at most m_k n_k."""
        sizes = describe(out_shape, in_shape)
        ranks = parse_ranks(rank, len(out_shape), "a Tucker matrix", sizes)
        check_ranks(ranks, cls.rank_limits(out_shape, in_shape), "Tucker rank", sizes)
        return ranks

    @classmethod
    def rank_limits(cls, out_shape: Modes, in_shape: Modes) -> Modes:
        """m_k n_k, the size of each paired mode."""
        return tuple(m * n for m, n in zip(out_shape, in_shape, strict=True))

    @staticmethod
    def product_equation(order: int) -> str:
        """x, core, factors -> y."""
        outs, ins, core = symbols(order), symbols(order, order), symbols(order, 2 * order)
        batch = symbols(1, 3 * order)[0]
        factors = ",".join(outs[k] + ins[k] + core[k] for k in range(order))
        return f"{batch}{''.join(ins)},{''.join(core)},{factors}->{batch}{''.join(outs)}"

    def factor_shapes(self) -> list[Modes]:
        """The core (r_1, ..., r_d), then (m_k, n_k, r_k) for every factor."""
        modes = zip(self.out_shape, self.in_shape, self.ranks, strict=True)
        return [self.ranks, *((m, n, r) for m, n, r in modes)]

    def _initial_factors(self, std: float) -> list[Tensor]:
        core_std = std * math.sqrt(self.numel / math.prod(self.ranks))
        core, *factors = self.factor_shapes()
        return [torch.randn(core) * core_std, *(orthonormal(1, shape)[0] for shape in factors)]

    @classmethod
    def _fit(cls, weight: Tensor, out_shape: Modes, in_shape: Modes,
             ranks: Modes) -> list[Tensor]:
        """Truncated HOSVD refined by HOOI, exact at r_k = m_k n_k."""
        tensor = as_numpy(pair_modes(weight, out_shape, in_shape))
        with numpy_backend(), warnings.catch_warnings():
            # r_k above the product of the other modes (or ranks) leaves SVDs short of
            # columns, which tensorly pads; the fit is still exact or best-effort.
            warnings.filterwarnings("ignore", message="Trying to compute SVD")
            core, factors = tucker(tensor, list(ranks), init="svd", random_state=0)
        pairs = zip(out_shape, in_shape, strict=True)
        return as_tensors([core, *(f.reshape(m, n, -1)
                                   for f, (m, n) in zip(factors, pairs, strict=True))])

    def _hold(self, factors: list[Tensor]) -> None:
        self.core = nn.Parameter(factors[0])
        self.factors = nn.ParameterList(nn.Parameter(factor) for factor in factors[1:])

    def to_dense(self) -> Tensor:
        # (M, N), see deepspeech_tt.tensor.assembly
        return tucker_to_matrix(self.core, list(self.factors))

    def flops_to_dense(self) -> int:
        return tucker_assembly_macs(self.ranks, self.factor_shapes()[1:])


def orthonormal(blocks: int, shape: Modes) -> Tensor:
    """(C, m, n, r) whose C (m n) x r matricisations have orthonormal columns."""
    m, n, r = shape
    q, _ = torch.linalg.qr(torch.randn(blocks, m * n, r))
    return q.reshape(blocks, m, n, r)
