"""Tensor-ring matrix (TR-matrix) format.

W (M x N), with M = m_1 ... m_d and N = n_1 ... n_d split row-major (first mode most
significant, see :mod:`deepspeech_tt.tensor.shapes`), is the trace of a product of d cores::

    W[(i_1..i_d), (j_1..j_d)] = trace(G_1[:, i_1, j_1, :] ... G_d[:, i_d, j_d, :])

with core G_k of shape (r_{k-1}, m_k, n_k, r_k) and the ring closed by r_d = r_0:
sum_k r_{k-1} m_k n_k r_k parameters. With r_0 = 1 it is the TT-matrix. ``rank`` is one int for
every bond, the d ranks (r_0, r_1, ..., r_{d-1}), or tensorly's d + 1 with r_d = r_0 repeated.

Largest rank: with a_k = m_k n_k, let R be the largest TT bond rank,
R = max_k min(a_1 ... a_k, a_{k+1} ... a_d) (1 for d = 1). Every bond may be at most R, and a
ring with every bond at R ("full rank") holds any W exactly: the TT cores of W, padded with
zeros, are such a ring. Larger bonds would add parameters without adding anything a ring
needs to be exact.

Cost: the closing bond rides through every core, so ``matmul`` and ``to_dense`` cost about r_0
times a TT-matrix's with the same inner bonds (768 x 256 at rank 2: 45k multiply-adds a row,
against 25k for TT); the same parameter budget buys a ring smaller bonds than a train.

Initialisation: every core entry is drawn from N(0, s^2). An entry of W sums r_0 r_1 ... r_{d-1}
products of d independent entries (one per closed path through the bonds), so its variance is
s^{2d} r_0 ... r_{d-1}; s is chosen to make that ``init_std**2``.

``from_dense`` runs TR-SVD (Zhao et al. 2016) on the tensor of paired modes (a_1, ..., a_d):
an SVD of the first unfolding truncated to r_0 r_1 terms, split into the ring's two bonds, then
TT-SVD sweeps; SVDs that give fewer terms than a bond holds are padded with zeros, so the cores
always have the requested shapes. It also runs TT-SVD with the same inner bonds (the r_0 = 1
slice of the ring) and keeps whichever fits W better. The result is exact when TR-SVD
truncates nothing (e.g. r_0 r_1 >= a_1 and r_k >= r_{k-1} a_k for 1 < k < d) or when the inner
bonds reach W's TT ranks (any r_0): in particular at full rank. tensorly's ``tensor_ring``
implements the same TR-SVD but raises when r_0 r_1 exceeds the first unfolding and shrinks
bonds the SVDs cannot fill, so the ranks here would not be the ranks asked for. A bond slice
padded with zeros on both of its sides (the r_0 - 1 unused closing slices of the TT fit) gets
zero gradients, so it stays unused when the fitted matrix is trained further.

References:
    Q. Zhao, G. Zhou, S. Xie, L. Zhang, A. Cichocki, "Tensor ring decomposition",
    arXiv:1606.05535, 2016.
    Y. Pan, J. Xu, M. Wang, J. Ye, F. Wang, K. Bai, Z. Xu, "Compressing recurrent neural
    networks with tensor ring for action recognition", AAAI 2019.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import Tensor

from deepspeech_tt.tensor.base import FormatError, Rank
from deepspeech_tt.tensor.modes import CoreChainMatrix, Modes
from deepspeech_tt.tensor.shapes import check_ranks, describe, pair_modes, parse_ranks
from deepspeech_tt.tensor.tt import TensorTrainMatrix


class TensorRingMatrix(CoreChainMatrix):
    """A weight matrix as a TR-matrix (Zhao et al. 2016; Pan et al. 2019).

    ``rank`` gives the bond ranks (r_0, r_1, ..., r_{d-1}): one int for all, or a list;
    ``ranks`` holds (r_0, ..., r_{d-1}, r_0). The other arguments are :class:`ModeMatrix`'s.
    """

    ring = True

    @classmethod
    def check_rank(cls, rank: Rank, out_shape: Modes, in_shape: Modes,
                   **options: int | None) -> Modes:
        """Checked bond ranks (r_0, r_1, ..., r_{d-1}, r_0) from an int or a list."""
        d, sizes = len(out_shape), describe(out_shape, in_shape)
        if isinstance(rank, Sequence) and len(rank) == d + 1:
            if rank[0] != rank[-1]:
                raise FormatError(f"{sizes}: TR ranks with both ends close a ring and must start "
                                  f"and end with the same rank, got {list(rank)}")
            rank = list(rank)[:-1]
        ranks = parse_ranks(rank, d, "a TR-matrix", sizes)
        check_ranks(ranks, [cls.rank_limits(out_shape, in_shape)] * d, "TR rank", sizes)
        return (*ranks, ranks[0])

    @classmethod
    def rank_limits(cls, out_shape: Modes, in_shape: Modes) -> int:
        """R, the largest bond rank: the largest TT bond rank of these shapes (1 for one mode)."""
        return max(TensorTrainMatrix.rank_limits(out_shape, in_shape), default=1)

    @classmethod
    def _fit(cls, weight: Tensor, out_shape: Modes, in_shape: Modes,
             ranks: Modes) -> list[Tensor]:
        """TR-SVD or TT-SVD, whichever fits W better."""
        target = weight.to(torch.float64)
        tensor = pair_modes(target, out_shape, in_shape)  # (a_1, ..., a_d)
        ring, inner = ranks[0], ranks[1:-1]
        candidates = [_close_ring(_tr_svd(tensor, (1, *inner)), ring)]  # TT-SVD
        if len(inner) > 0 and ring > 1:
            candidates.append(_tr_svd(tensor, ranks[:-1]))
        shapes = list(zip(ranks[:-1], out_shape, in_shape, ranks[1:], strict=True))
        fits = [[c.reshape(s) for c, s in zip(cores, shapes, strict=True)] for cores in candidates]
        return min(fits, key=lambda cores: float(torch.linalg.norm(tr_to_matrix(cores) - target)))

    def to_dense(self) -> Tensor:
        return tr_to_matrix(list(self.cores))  # (M, N)

    def product(self) -> Callable[[Tensor], Tensor]:
        """``x (B, N) -> x @ W.T`` core by core, each core arranged once as a matrix.

        As the TT-matrix's chain, with the ring's closing bond r_0 carried as a leading batch
        index from the first core to the last, where it is summed.
        """
        if len(self.cores) == 1:
            return self.matmul  # d = 1 allows only r_0 = 1: W is the core itself
        first, *middle, last = self.cores
        ring, m, n, bond = first.shape
        arranged_first = first.permute(0, 1, 3, 2).reshape(ring, m * bond, n)  # (r_0, m r_1, n)
        left, m, n, _ = last.shape
        arranged_last = last.permute(3, 0, 2, 1).reshape(ring, left * n, m)  # (r_0, r n, m)
        steps = [core.permute(1, 3, 0, 2).reshape(core.shape[1] * core.shape[3], -1)
                 for core in middle]  # (m_k r_k, r_{k-1} n_k)
        return partial(_ring_chain, first=arranged_first, middle=steps, last=arranged_last,
                       out_shape=self.out_shape, in_shape=self.in_shape)

    def flops_to_dense(self) -> int:
        return tr_assembly_macs(self.factor_shapes())


def tr_to_matrix(cores: Sequence[Tensor]) -> Tensor:
    """W (M, N) from TR cores (r_{k-1}, m_k, n_k, r_k), r_d = r_0, differentiably.

    As :func:`deepspeech_tt.tensor.assembly.tt_to_matrix`, folding the modes in from the last,
    with the closing bond r_0 kept as a second bond index until the first core sums it:
    x[r_{k-1}, r_0, rows, cols], rows = (i_k .. i_d), cols = (j_k .. j_d).
    """
    if len(cores) == 1:
        return torch.diagonal(cores[0], dim1=0, dim2=3).sum(-1)  # sum_s G[s, :, :, s]
    x = cores[-1].permute(0, 3, 1, 2)  # (r_{d-1}, r_0, m_d, n_d)
    for core in reversed(cores[1:-1]):
        left, m, n, bond = core.shape
        _, ring, rows, cols = x.shape
        y = core.reshape(-1, bond) @ x.reshape(bond, -1)  # (r_{k-1} m n, r_0 rows cols)
        y = y.view(left, m, n, ring, rows, cols).permute(0, 3, 1, 4, 2, 5)
        x = y.reshape(left, ring, m * rows, n * cols)
    ring, m, n, bond = cores[0].shape
    _, _, rows, cols = x.shape
    first = cores[0].permute(1, 2, 3, 0).reshape(m * n, bond * ring)  # sums r_1 and r_0
    y = first @ x.reshape(bond * ring, rows * cols)  # (m_1 n_1, rows cols)
    return y.view(m, n, rows, cols).transpose(1, 2).reshape(m * rows, n * cols)


def tr_assembly_macs(core_shapes: Sequence[Sequence[int]]) -> int:
    """Multiply-adds of :func:`tr_to_matrix`."""
    if len(core_shapes) == 1:
        ring, m, n, _ = core_shapes[0]
        return ring * m * n
    _, rows, cols, ring = core_shapes[-1]
    macs = 0
    for k in range(len(core_shapes) - 2, -1, -1):
        left, m, n, right = core_shapes[k]
        carried = ring if k > 0 else 1  # r_0 rides along until the first core sums it
        macs += left * m * n * right * carried * rows * cols
        rows, cols = rows * m, cols * n
    return macs


def _split(matrix: Tensor, rank: int) -> tuple[Tensor, Tensor]:
    """(U, S V^T) of the SVD truncated to ``rank`` terms, zero-padded to exactly ``rank``."""
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    keep = min(rank, s.numel())
    left = matrix.new_zeros(matrix.shape[0], rank)
    right = matrix.new_zeros(rank, matrix.shape[1])
    left[:, :keep] = u[:, :keep]
    right[:keep] = s[:keep, None] * vh[:keep]
    return left, right


def _tr_svd(tensor: Tensor, ranks: Sequence[int]) -> list[Tensor]:
    """TR-SVD of ``tensor`` (a_1, ..., a_d) with bonds (r_0, ..., r_{d-1}): cores (r, a_k, r').

    With r_0 = 1 this is TT-SVD.
    """
    sizes, d = tensor.shape, tensor.dim()
    ring = ranks[0]
    if d == 1:
        return [tensor.reshape(1, -1, 1)]
    u, rest = _split(tensor.reshape(sizes[0], -1), ring * ranks[1])  # (a_1, r_0 r_1)
    cores = [u.reshape(sizes[0], ring, ranks[1]).permute(1, 0, 2)]  # (r_0, a_1, r_1)
    rest = rest.reshape(ring, ranks[1], -1).permute(1, 2, 0)  # (r_1, a_2 .. a_d, r_0)
    for k in range(1, d - 1):
        u, rest = _split(rest.reshape(ranks[k] * sizes[k], -1), ranks[k + 1])
        cores.append(u.reshape(ranks[k], sizes[k], ranks[k + 1]))
    cores.append(rest.reshape(ranks[d - 1], sizes[d - 1], ring))
    return cores


def _close_ring(cores: list[Tensor], ring: int) -> list[Tensor]:
    """Open-chain cores (r_0 = r_d = 1) as a ring with closing bond ``ring``, zero-padded."""
    if ring == 1:
        return cores
    first, last = cores[0], cores[-1]
    padded_first = torch.cat([first, first.new_zeros(ring - 1, *first.shape[1:])], dim=0)
    padded_last = torch.cat([last, last.new_zeros(*last.shape[:-1], ring - 1)], dim=-1)
    return [padded_first, *cores[1:-1], padded_last]


def _ring_chain(x: Tensor, first: Tensor, middle: list[Tensor], last: Tensor,
                out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> Tensor:
    """``x @ W.T`` for x (B, N), contracting the input modes first to last.

    The first core makes the state (r_0, B, m_1 r_1, Q), Q = n_2 .. n_d; from there each middle
    core is a TT chain step on P = r_0 B m_1 .. m_{k-1} rows (see
    :func:`deepspeech_tt.tensor.tt._tt_chain`); the last core is one batched GEMM per value of
    the closing bond, summed.
    """
    batch, ring = x.shape[0], first.shape[0]
    rest = math.prod(in_shape[1:])
    state = torch.matmul(first.unsqueeze(1), x.reshape(1, batch, in_shape[0], rest))
    rows = ring * batch * out_shape[0]  # state: (r_0, B, m_1 r_1, Q)
    for matrix, m, n in zip(middle, out_shape[1:-1], in_shape[1:-1], strict=True):
        rest //= n
        fold = state.reshape(rows, matrix.shape[1], rest)  # (P, r_{k-1} n_k, Q)
        if rest == 1:
            state = fold.reshape(rows, -1) @ matrix.T  # (P, m_k r_k)
        else:
            flat = fold.transpose(1, 2).reshape(rows * rest, -1) @ matrix.T  # (P Q, m_k r_k)
            state = flat.view(rows, rest, -1).transpose(1, 2)  # (P, m_k r_k, Q)
        rows *= m
    state = state.reshape(ring, rows // ring, -1)  # (r_0, B m_1 .. m_{d-1}, r_{d-1} n_d)
    return torch.bmm(state, last).sum(0).reshape(batch, -1)  # (B, M)

