"""Tensor-train matrix (TT-matrix) format.

W (M x N), with M = m_1 ... m_d and N = n_1 ... n_d split row-major (first mode most
significant, see :mod:`deepspeech_tt.tensor.shapes`), is a product of d cores::

    W[(i_1..i_d), (j_1..j_d)] = G_1[:, i_1, j_1, :] G_2[:, i_2, j_2, :] ... G_d[:, i_d, j_d, :]

with core G_k of shape (r_{k-1}, m_k, n_k, r_k) and r_0 = r_d = 1: sum_k m_k n_k r_{k-1} r_k
parameters. ``rank`` gives the d - 1 inner bond ranks (one int for all of them, d - 1 ints, or
tensorly's d + 1 with 1 at both ends). Bond k can be at most min(m_1 n_1 ... m_k n_k,
m_{k+1} n_{k+1} ... m_d n_d), the rank of the matching unfolding of W.

Initialisation: every core entry is drawn from N(0, s^2). An entry of W sums r_1 ... r_{d-1}
products of d independent entries, so its variance is s^{2d} r_1 ... r_{d-1}; s is chosen to
make that ``init_std**2``.

``from_dense`` runs TT-SVD (``tensorly.decomposition.tensor_train_matrix``), exact when every
bond is at its largest.

References:
    I. V. Oseledets, "Tensor-train decomposition", SIAM J. Sci. Comput. 33(5), 2011.
    A. Novikov, D. Podoprikhin, A. Osokin, D. Vetrov, "Tensorizing neural networks",
    NeurIPS 2015.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

from tensorly.decomposition import tensor_train_matrix
from torch import Tensor

from deepspeech_tt.tensor.assembly import tt_assembly_macs, tt_to_matrix
from deepspeech_tt.tensor.base import FormatError, Rank
from deepspeech_tt.tensor.fitting import as_numpy, as_tensors, numpy_backend
from deepspeech_tt.tensor.modes import CoreChainMatrix, Modes
from deepspeech_tt.tensor.shapes import check_ranks, describe, parse_ranks


class TensorTrainMatrix(CoreChainMatrix):
    """A weight matrix as a TT-matrix (Oseledets 2011; Novikov et al. 2015).

    ``rank`` gives the inner bond ranks r_1 .. r_{d-1}: one int for all, or a list; ``ranks``
    holds (1, r_1, ..., r_{d-1}, 1). The other arguments are :class:`ModeMatrix`'s.
    """

    ring = False

    @classmethod
    def check_rank(cls, rank: Rank, out_shape: Modes, in_shape: Modes,
                   **options: int | None) -> Modes:
        """Checked bond ranks (1, r_1, ..., r_{d-1}, 1) from an int or a list."""
        d, sizes = len(out_shape), describe(out_shape, in_shape)
        if isinstance(rank, Sequence) and len(rank) == d + 1 and d > 1:
            if rank[0] != 1 or rank[-1] != 1:
                raise FormatError(f"{sizes}: TT ranks with both ends must start and end with 1, "
                                  f"got {list(rank)}")
            rank = list(rank)[1:-1]
        inner = parse_ranks(rank, d - 1, "a TT-matrix", sizes) if d > 1 else ()
        check_ranks(inner, cls.rank_limits(out_shape, in_shape), "TT bond rank", sizes)
        return (1, *inner, 1)

    @classmethod
    def rank_limits(cls, out_shape: Modes, in_shape: Modes) -> Modes:
        """The largest useful inner bond ranks: the ranks of W's d - 1 unfoldings."""
        pairs = [m * n for m, n in zip(out_shape, in_shape, strict=True)]
        return tuple(min(math.prod(pairs[:k]), math.prod(pairs[k:])) for k in range(1, len(pairs)))

    @classmethod
    def _fit(cls, weight: Tensor, out_shape: Modes, in_shape: Modes,
             ranks: Modes) -> list[Tensor]:
        """TT-SVD, exact when every bond is at its largest."""
        tensor = as_numpy(weight).reshape(*out_shape, *in_shape)
        with numpy_backend():
            fitted = tensor_train_matrix(tensor, list(ranks))
        return as_tensors(list(fitted.factors))

    def to_dense(self) -> Tensor:
        return tt_to_matrix(list(self.cores))  # (M, N), see deepspeech_tt.tensor.assembly

    def product(self) -> Callable[[Tensor], Tensor]:
        """``x (B, N) -> x @ W.T`` core by core, each core arranged once as a matrix.

        ``matmul`` plans for any batch and rearranges every core at each call; at the batch
        sizes of a recurrence (one time step) that rearranging is most of its time.
        """
        matrices = [_as_step_matrix(core) for core in self.cores]
        return partial(_tt_chain, matrices=matrices, out_shape=self.out_shape,
                       in_shape=self.in_shape)

    def flops_to_dense(self) -> int:
        return tt_assembly_macs(self.factor_shapes())


def _as_step_matrix(core: Tensor) -> Tensor:
    """Core (r_{k-1}, m_k, n_k, r_k) as the matrix (m_k r_k, r_{k-1} n_k) of one chain step."""
    left, m, n, right = core.shape
    return core.permute(1, 3, 0, 2).reshape(m * right, left * n)


def _tt_chain(x: Tensor, matrices: list[Tensor], out_shape: tuple[int, ...],
              in_shape: tuple[int, ...]) -> Tensor:
    """``x @ W.T`` for x (B, N), contracting the input modes first to last.

    Before step k the state is (P, r_{k-1} n_k, Q): P = B m_1 .. m_{k-1} rows done,
    Q = n_{k+1} .. n_d input modes still to contract; the step makes it (P, m_k r_k, Q), which
    is (P m_k, r_k n_{k+1}, Q / n_{k+1}) for the next one. One GEMM per core, and one small
    transpose where neither P nor Q is 1.
    """
    batch = x.shape[0]
    state, rows, rest = x, batch, math.prod(in_shape)
    for matrix, m, n in zip(matrices, out_shape, in_shape, strict=True):
        rest //= n
        fold = state.reshape(rows, matrix.shape[1], rest)  # (P, r_{k-1} n_k, Q)
        if rest == 1:
            state = fold.reshape(rows, -1) @ matrix.T  # (P, m_k r_k)
        elif rows == 1:
            state = matrix @ fold.reshape(-1, rest)  # (m_k r_k, Q)
        else:
            flat = fold.transpose(1, 2).reshape(rows * rest, -1) @ matrix.T  # (P Q, m_k r_k)
            state = flat.view(rows, rest, -1).transpose(1, 2)  # (P, m_k r_k, Q)
        rows *= m
    return state.reshape(batch, -1)

