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
from deepspeech_tt.tensor.base import FormatError, Rank, Shape
from deepspeech_tt.tensor.contraction import symbols
from deepspeech_tt.tensor.modes import ModeMatrix, Modes
from deepspeech_tt.tensor.shapes import check_ranks, describe, parse_ranks
from deepspeech_tt.tensor.tucker import TuckerMatrix, orthonormal

DEFAULT_BLOCKS = 2


class BlockTermMatrix(ModeMatrix):
    """A weight matrix as a sum of Tucker blocks over its paired modes (Ye et al. 2018).

    ``rank`` gives the Tucker ranks (one int for all, or d ints), or (C, r_1, ..., r_d);
    ``ranks`` holds (C, r_1, ..., r_d). ``blocks`` is C when ``rank`` does not give it; None
    for ``DEFAULT_BLOCKS``. The other arguments are :class:`ModeMatrix`'s.
    """

    def __init__(
        self, out_features: int, in_features: int, rank: Rank, *, out_shape: Shape = None,
        in_shape: Shape = None, init_std: float | None = None, blocks: int | None = None,
        factors: Sequence[Tensor] | None = None,
    ) -> None:
        super().__init__(out_features, in_features, rank, out_shape=out_shape,
                         in_shape=in_shape, init_std=init_std, factors=factors, blocks=blocks)

    @property
    def blocks(self) -> int:
        """C, the number of Tucker blocks."""
        return self.ranks[0]

    @classmethod
    def check_rank(cls, rank: Rank, out_shape: Modes, in_shape: Modes,
                   **options: int | None) -> Modes:
        """Checked (C, r_1, ..., r_d): Tucker ranks each at most m_k n_k, C >= 1."""
        d, sizes = len(out_shape), describe(out_shape, in_shape)
        blocks = options.get("blocks")
        if isinstance(rank, Sequence) and len(rank) == d + 1:
            if blocks is not None and blocks != rank[0]:
                raise FormatError(f"{sizes}: the BT rank {list(rank)} gives {rank[0]} blocks but "
                                  f"blocks={blocks}; give the number of blocks once")
            blocks, rank = int(rank[0]), list(rank)[1:]
        elif isinstance(rank, Sequence) and len(rank) != d:
            raise FormatError(f"{sizes}: a BT matrix takes one integer, {d} Tucker ranks or "
                              f"{d + 1} (the number of blocks first), got {len(rank)}: "
                              f"{list(rank)}")
        blocks = DEFAULT_BLOCKS if blocks is None else int(blocks)
        if blocks < 1:
            raise FormatError(f"{sizes}: a BT matrix needs at least one block, got {blocks}")
        ranks = parse_ranks(rank, d, "a BT matrix", sizes)
        check_ranks(ranks, cls.rank_limits(out_shape, in_shape), "BT Tucker rank", sizes)
        return (blocks, *ranks)

    @classmethod
    def rank_limits(cls, out_shape: Modes, in_shape: Modes) -> Modes:
        """Any W is one full Tucker block; the other ``DEFAULT_BLOCKS`` - 1 then fit zero."""
        return TuckerMatrix.rank_limits(out_shape, in_shape)

    @staticmethod
    def product_equation(order: int) -> str:
        """x, cores, factors -> y; the block index is summed."""
        outs, ins, core = symbols(order), symbols(order, order), symbols(order, 2 * order)
        block, batch = symbols(2, 3 * order)
        factors = ",".join(block + outs[k] + ins[k] + core[k] for k in range(order))
        return f"{batch}{''.join(ins)},{block}{''.join(core)},{factors}->{batch}{''.join(outs)}"

    def factor_shapes(self) -> list[Modes]:
        """The stacked cores (C, r_1, ..., r_d), then (C, m_k, n_k, r_k) for every factor."""
        modes = zip(self.out_shape, self.in_shape, self.ranks[1:], strict=True)
        return [self.ranks, *((self.blocks, m, n, r) for m, n, r in modes)]

    def _initial_factors(self, std: float) -> list[Tensor]:
        core_std = std * math.sqrt(self.numel / math.prod(self.ranks))
        cores, *factors = self.factor_shapes()
        return [torch.randn(cores) * core_std,
                *(orthonormal(self.blocks, shape[1:]) for shape in factors)]

    @classmethod
    def _fit(cls, weight: Tensor, out_shape: Modes, in_shape: Modes,
             ranks: Modes) -> list[Tensor]:
        """Greedy: block after block, a Tucker fit of the residual is subtracted from it."""
        residual = weight.to(torch.float64)
        fitted = []
        for _ in range(ranks[0]):
            block = TuckerMatrix.from_dense(residual, list(ranks[1:]), out_shape=out_shape,
                                            in_shape=in_shape)
            residual = residual - block.to_dense().detach()
            fitted.append([p.detach() for p in block.parameters()])
        return [torch.stack(parts) for parts in zip(*fitted, strict=True)]  # (C, ...) each

    def _hold(self, factors: list[Tensor]) -> None:
        self.cores = nn.Parameter(factors[0])
        self.factors = nn.ParameterList(nn.Parameter(factor) for factor in factors[1:])

    def to_dense(self) -> Tensor:
        weight = tucker_to_matrix(self.cores[0], [f[0] for f in self.factors])  # (M, N)
        for c in range(1, self.blocks):
            weight = weight + tucker_to_matrix(self.cores[c], [f[c] for f in self.factors])
        return weight

    def flops_to_dense(self) -> int:
        """C Tucker assemblies and the C - 1 sums of their (M, N) results."""
        tucker_shapes = [shape[1:] for shape in self.factor_shapes()[1:]]
        one_block = tucker_assembly_macs(self.ranks[1:], tucker_shapes)
        return self.blocks * one_block + (self.blocks - 1) * self.numel


