"""Block-term Tucker (BT) format.

W (M x N) is viewed as the order-d tensor of paired modes (m_1 n_1, ..., m_d n_d) (see
:mod:`deepspeech_tt.tensor.shapes` for the ordering) and written as a sum of C Tucker terms
("blocks"), block c with a core G^c of shape (r_1, ..., r_d) and factors U_k^c (m_k, n_k, r_k)::

    W[(i_1..i_d), (j_1..j_d)]
        = sum_c sum_{s_1..s_d} G^c[s_1..s_d] U_1^c[i_1, j_1, s_1] ... U_d^c[i_d, j_d, s_d]

C (prod_k r_k + sum_k m_k n_k r_k) parameters. The blocks are stored stacked: one core
parameter (C, r_1, ..., r_d) and one factor parameter (C, m_k, n_k, r_k) per mode.

``rank`` gives the Tucker ranks shared by every block and, optionally, the number of blocks:

* one int r: every Tucker rank r, and C = ``blocks`` -- what a GRU built from a config with a
  single ``rank`` gets;
* d ints (r_1, ..., r_d): the Tucker ranks, and C = ``blocks``;
* d + 1 ints (C, r_1, ..., r_d): the number of blocks first, then the Tucker ranks.

``blocks`` defaults to ``DEFAULT_BLOCKS`` = 2, the fewest that are not plain Tucker (one block is
:class:`~deepspeech_tt.tensor.tucker.TuckerMatrix`); Ye et al. 2018 treat C (their "CP rank")
and the Tucker rank as two knobs, and a list of d + 1 ranks sets both. Each r_k is at most
m_k n_k, the largest rank of the matching unfolding; C is not bounded (blocks beyond those needed
add parameters, not expressiveness).

Initialisation: as for Tucker, block by block: each factor, seen as an (m_k n_k) x r_k matrix,
gets orthonormal columns and core entries are drawn from N(0, s^2). A block then has mean
square s^2 prod_k r_k / (M N) over the entries of W for every draw, and distinct blocks are
uncorrelated (independent zero-mean cores), so W has expected mean square
C s^2 prod_k r_k / (M N); s makes that ``init_std**2``.

``from_dense`` is greedy: block after block, a Tucker fit of the residual (truncated HOSVD
refined by HOOI, as :meth:`TuckerMatrix.from_dense`) is subtracted from it. Each block is a
projection of its residual, so the error never grows with C; one block at r_k = m_k n_k is exact
(the later blocks then fit a zero residual).

References:
    L. De Lathauwer, "Decompositions of a higher-order tensor in block terms -- Part II:
    definitions and uniqueness", SIAM J. Matrix Anal. Appl. 30(3), 2008.
    J. Ye, L. Wang, G. Li, D. Chen, S. Zhe, X. Chu, Z. Xu, "Learning compact recurrent neural
    networks with block-term tensor decomposition", CVPR 2018.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepspeech_tt.tensor.assembly import tucker_assembly_macs, tucker_to_matrix
from deepspeech_tt.tensor.base import (
    FactorizedMatrix,
    FormatError,
    Rank,
    Shape,
    default_init_std,
    matrix_size,
)
from deepspeech_tt.tensor.contraction import contract, count_macs, symbols
from deepspeech_tt.tensor.shapes import check_ranks, describe, parse_ranks, resolve_shapes
from deepspeech_tt.tensor.tucker import TuckerMatrix

DEFAULT_BLOCKS = 2


class BlockTermMatrix(FactorizedMatrix):
    """A weight matrix as a sum of Tucker blocks over its paired modes (Ye et al. 2018).

    Args:
        out_features: M, the number of rows (outputs).
        in_features: N, the number of columns (inputs).
        rank: the Tucker ranks (one int for all, or d ints), or (C, r_1, ..., r_d).
        out_shape: (m_1, ..., m_d) with product M; split automatically when None.
        in_shape: (n_1, ..., n_d) with product N; split automatically when None.
        init_std: standard deviation of the initial W; None for ``nn.Linear``'s, 1/sqrt(3N).
        blocks: C, the number of Tucker blocks, when ``rank`` does not give it;
            None for ``DEFAULT_BLOCKS``.
    """

    def __init__(
        self, out_features: int, in_features: int, rank: Rank, *, out_shape: Shape = None,
        in_shape: Shape = None, init_std: float | None = None, blocks: int | None = None,
    ) -> None:
        super().__init__(out_features, in_features)
        self.out_shape, self.in_shape = resolve_shapes(out_features, in_features, out_shape,
                                                       in_shape)
        self.blocks, self.ranks = bt_ranks(rank, blocks, self.out_shape, self.in_shape)
        std = default_init_std(in_features) if init_std is None else init_std
        core_std = std * math.sqrt(out_features * in_features / (self.blocks *
                                                                  math.prod(self.ranks)))
        self.cores = nn.Parameter(torch.randn(self.blocks, *self.ranks) * core_std)
        self.factors = nn.ParameterList(
            nn.Parameter(_orthonormal(self.blocks, shape)) for shape in self.factor_shapes()
        )
        self._matmul_eq = _product_equation(len(self.out_shape))

    @classmethod
    def from_dense(
        cls, weight: Tensor, rank: Rank, *, out_shape: Shape = None, in_shape: Shape = None,
        blocks: int | None = None,
    ) -> BlockTermMatrix:
        """Blocks fitted greedily to ``weight`` (M, N) (Tucker of the residual, block by
        block), in its dtype and on its device."""
        rows, cols = matrix_size(weight)
        matrix = cls(rows, cols, rank, out_shape=out_shape, in_shape=in_shape, blocks=blocks)
        residual = weight.detach().to(torch.float64)
        fitted = []
        for _ in range(matrix.blocks):
            block = TuckerMatrix.from_dense(residual, list(matrix.ranks),
                                            out_shape=matrix.out_shape, in_shape=matrix.in_shape)
            residual = residual - block.to_dense().detach()
            fitted.append([block.core.detach(), *(f.detach() for f in block.factors)])
        stacked = [torch.stack(parts).to(weight.device, weight.dtype)  # (C, ...) per tensor
                   for parts in zip(*fitted, strict=True)]
        matrix.cores = nn.Parameter(stacked[0])
        matrix.factors = nn.ParameterList(nn.Parameter(f) for f in stacked[1:])
        return matrix

    def factor_shapes(self) -> list[tuple[int, int, int]]:
        """(m_k, n_k, r_k) for every factor of one block."""
        modes = zip(self.out_shape, self.in_shape, self.ranks, strict=True)
        return [(m, n, r) for m, n, r in modes]

    def to_dense(self) -> Tensor:
        weight = tucker_to_matrix(self.cores[0], [f[0] for f in self.factors])  # (M, N)
        for c in range(1, self.blocks):
            weight = weight + tucker_to_matrix(self.cores[c], [f[c] for f in self.factors])
        return weight

    def matmul(self, x: Tensor) -> Tensor:
        flat = self._flatten_input(x).reshape(-1, *self.in_shape)  # (B, n_1..n_d)
        y = contract(self._matmul_eq, flat, self.cores, *self.factors, free_limit=self.numel)
        return y.reshape(*x.shape[:-1], self.out_features)  # (B, m_1..m_d) -> (..., M)

    def flops_matmul(self, batch: int) -> int:
        shapes = [(batch, *self.in_shape), (self.blocks, *self.ranks),
                  *((self.blocks, *shape) for shape in self.factor_shapes())]
        return count_macs(self._matmul_eq, shapes, self.numel)

    def flops_to_dense(self) -> int:
        """C Tucker assemblies and the C - 1 sums of their (M, N) results."""
        one_block = tucker_assembly_macs(self.ranks, self.factor_shapes())
        return self.blocks * one_block + (self.blocks - 1) * self.numel

    def extra_repr(self) -> str:
        return (f"out_shape={self.out_shape}, in_shape={self.in_shape}, blocks={self.blocks}, "
                f"ranks={self.ranks}")


def bt_ranks(
    rank: Rank, blocks: int | None, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> tuple[int, tuple[int, ...]]:
    """Checked (C, (r_1, ..., r_d)): Tucker ranks each at most m_k n_k, C >= 1."""
    d, sizes = len(out_shape), describe(out_shape, in_shape)
    if isinstance(rank, Sequence) and len(rank) == d + 1:
        if blocks is not None and blocks != rank[0]:
            raise FormatError(f"{sizes}: the BT rank {list(rank)} gives {rank[0]} blocks but "
                              f"blocks={blocks}; give the number of blocks once")
        blocks, rank = int(rank[0]), list(rank)[1:]
    elif isinstance(rank, Sequence) and len(rank) != d:
        raise FormatError(f"{sizes}: a BT matrix takes one integer, {d} Tucker ranks or "
                          f"{d + 1} (the number of blocks first), got {len(rank)}: {list(rank)}")
    blocks = DEFAULT_BLOCKS if blocks is None else int(blocks)
    if blocks < 1:
        raise FormatError(f"{sizes}: a BT matrix needs at least one block, got {blocks}")
    ranks = parse_ranks(rank, d, "a BT matrix", sizes)
    pairs = [m * n for m, n in zip(out_shape, in_shape, strict=True)]
    check_ranks(ranks, pairs, "BT Tucker rank", sizes)
    return blocks, ranks


def _orthonormal(blocks: int, shape: tuple[int, int, int]) -> Tensor:
    """(C, m, n, r) whose C (m n) x r matricisations have orthonormal columns."""
    m, n, r = shape
    q, _ = torch.linalg.qr(torch.randn(blocks, m * n, r))
    return q.reshape(blocks, m, n, r)


def _product_equation(d: int) -> str:
    """The einsum equation of matmul (x, cores, factors -> y); the block index is summed."""
    outs, ins, core = symbols(d), symbols(d, d), symbols(d, 2 * d)
    block, batch = symbols(2, 3 * d)
    factors = ",".join(block + outs[k] + ins[k] + core[k] for k in range(d))
    return f"{batch}{''.join(ins)},{block}{''.join(core)},{factors}->{batch}{''.join(outs)}"
