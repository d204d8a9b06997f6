"""The shared base of the formats over paired modes: TT, TR, CP, Tucker, block-term and HT.

Each of them views W (M x N) through factored sizes M = m_1 ... m_d, N = n_1 ... n_d (see
:mod:`deepspeech_tt.tensor.shapes`) and holds a few small factors whose contraction is W. What
differs between them -- how ``rank`` reads and how far it may go, the factors' shapes and
initialisation, the einsum of ``x @ W.T`` and the fit of ``from_dense`` -- each format says in a
handful of hooks; :class:`ModeMatrix` does the rest once: the shapes, the ranks, ``matmul``
along the cheapest contraction order that never forms W
(:mod:`deepspeech_tt.tensor.contraction`), its multiply-adds, the default init std, and
building a matrix from given factors, which is how ``from_dense`` returns its fit.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar, TypeVar

import torch
from torch import Tensor, nn

from deepspeech_tt.tensor import base
from deepspeech_tt.tensor.base import FactorizedMatrix, FormatError, Rank, Shape
from deepspeech_tt.tensor.contraction import contract, count_macs, symbols
from deepspeech_tt.tensor.shapes import describe, resolve_shapes

Modes = tuple[int, ...]
Matrix = TypeVar("Matrix", bound="ModeMatrix")


class ModeMatrix(FactorizedMatrix):
    """A weight matrix held as factors over its paired modes.

    Args:
        out_features: M, the number of rows (outputs).
        in_features: N, the number of columns (inputs).
        rank: the format's ranks, one int for all or a list (the format's docstring says which).
        out_shape: (m_1, ..., m_d) with product M; split automatically when None.
        in_shape: (n_1, ..., n_d) with product N; split automatically when None.
        init_std: standard deviation of the initial W; None for ``nn.Linear``'s, 1/sqrt(3N).
        factors: tensors to hold instead of random ones, in the shapes and order of
            :meth:`factor_shapes` (the order of ``parameters()``); ``from_dense`` passes its fit.
        options: a format's own rank options (the number of blocks of the block-term format).

    Attributes:
        out_shape: (m_1, ..., m_d), checked.
        in_shape: (n_1, ..., n_d), checked.
        ranks: the checked ranks, in a form ``rank`` takes back: a matrix built with them has
            factors of the same shapes.
    """

    out_shape: Modes
    in_shape: Modes
    ranks: Modes

    def __init__(
        self, out_features: int, in_features: int, rank: Rank, *, out_shape: Shape = None,
        in_shape: Shape = None, init_std: float | None = None,
        factors: Sequence[Tensor] | None = None, **options: int | None,
    ) -> None:
        super().__init__(out_features, in_features)
        self.out_shape, self.in_shape = resolve_shapes(out_features, in_features, out_shape,
                                                       in_shape)
        self.ranks = self.check_rank(rank, self.out_shape, self.in_shape, **options)
        self._matmul_eq = self.product_equation(len(self.out_shape))
        if factors is None:
            tensors = self._initial_factors(base.resolve_init_std(init_std, in_features))
        else:
            tensors = self._checked(factors)
        self._hold([tensor.contiguous() for tensor in tensors])

    @classmethod
    def from_dense(
        cls: type[Matrix], weight: Tensor, rank: Rank, *, out_shape: Shape = None,
        in_shape: Shape = None, **options: int | None,
    ) -> Matrix:
        """Factors fitted to ``weight`` (M, N) (the format's fit), in its dtype and device."""
        rows, cols = base.matrix_size(weight)
        outs, ins = resolve_shapes(rows, cols, out_shape, in_shape)
        ranks = cls.check_rank(rank, outs, ins, **options)
        fitted = cls._fit(weight.detach(), outs, ins, ranks)
        factors = [f.to(weight.device, weight.dtype) for f in fitted]
        return cls(rows, cols, ranks, out_shape=outs, in_shape=ins, factors=factors)

    @classmethod
    def max_rank(cls, out_features: int, in_features: int, *, out_shape: Shape = None,
                 in_shape: Shape = None) -> Rank:
        outs, ins = resolve_shapes(out_features, in_features, out_shape, in_shape)
        return cls.rank_limits(outs, ins)

    def matmul(self, x: Tensor) -> Tensor:
        flat = self._flatten_input(x).reshape(-1, *self.in_shape)  # (B, n_1..n_d)
        y = contract(self._matmul_eq, flat, *self._operands(), free_limit=self.numel)
        return y.reshape(*x.shape[:-1], self.out_features)  # (B, m_1..m_d) -> (..., M)

    def flops_matmul(self, batch: int) -> int:
        shapes = [(batch, *self.in_shape), *self._operand_shapes()]
        return count_macs(self._matmul_eq, shapes, self.numel)

    def extra_repr(self) -> str:
        return f"out_shape={self.out_shape}, in_shape={self.in_shape}, ranks={self.ranks}"

    @classmethod
    @abstractmethod
    def check_rank(cls, rank: Rank, out_shape: Modes, in_shape: Modes,
                   **options: int | None) -> Modes:
        """``rank`` as the checked tuple stored in ``ranks``; a FormatError naming the limits."""

    @classmethod
    @abstractmethod
    def rank_limits(cls, out_shape: Modes, in_shape: Modes) -> Rank:
        """The largest rank these shapes take, enough to hold any W (see ``max_rank``)."""

    @classmethod
    @abstractmethod
    def product_equation(cls, order: int) -> str:
        """The einsum of ``matmul``: the input (B, n_1..n_d), then :meth:`_operands`."""

    @abstractmethod
    def factor_shapes(self) -> list[Modes]:
        """The shape of every factor, in the order of ``parameters()``."""

    @abstractmethod
    def _initial_factors(self, std: float) -> list[Tensor]:
        """Random factors, in :meth:`factor_shapes`' order, whose W has standard deviation std."""

    @classmethod
    @abstractmethod
    def _fit(cls, weight: Tensor, out_shape: Modes, in_shape: Modes,
             ranks: Modes) -> list[Tensor]:
        """Factors fitted to ``weight`` (M, N), in :meth:`factor_shapes`' order."""

    @abstractmethod
    def _hold(self, factors: list[Tensor]) -> None:
        """Register ``factors`` as the parameters, under the format's names."""

    def _operands(self) -> list[Tensor]:
        """The factors as :meth:`product_equation` takes them after the input."""
        return list(self.parameters())

    def _operand_shapes(self) -> list[Modes]:
        return self.factor_shapes()

    def _checked(self, factors: Sequence[Tensor]) -> list[Tensor]:
        """``factors`` after checking that their shapes are :meth:`factor_shapes`."""
        tensors, expected = list(factors), self.factor_shapes()
        shapes = [tuple(t.shape) for t in tensors]
        if shapes != expected:
            raise FormatError(
                f"{describe(self.out_shape, self.in_shape)}: factors of shapes {shapes} do not "
                f"fit ranks {self.ranks}, which take factors of shapes {expected}"
            )
        return tensors



class CoreChainMatrix(ModeMatrix):
    """The formats of d cores G_k (r_{k-1}, m_k, n_k, r_k) in a chain: TT, and TR (a ring).

    Initialisation: every core entry is drawn from N(0, s^2). An entry of W sums one product of
    d independent entries for each value of the bonds, r_1 ... r_d of them (r_d = 1 for a
    train, r_0 for a ring), so its variance is s^{2d} r_1 ... r_d; s makes it ``init_std**2``.
    """

    ring: ClassVar[bool]  # whether bond d closes onto bond 0 (TR) or both are 1 (TT)

    @classmethod
    def product_equation(cls, order: int) -> str:
        """x, cores -> y."""
        outs, ins, bonds = symbols(order), symbols(order, order), symbols(order + 1, 2 * order)
        batch = symbols(1, 3 * order + 1)[0]
        if cls.ring and order > 1:  # one mode: r_0 = 1, and its two bonds of size 1 are summed
            bonds[order] = bonds[0]
        cores = ",".join(bonds[k] + outs[k] + ins[k] + bonds[k + 1] for k in range(order))
        return f"{batch}{''.join(ins)},{cores}->{batch}{''.join(outs)}"

    def factor_shapes(self) -> list[Modes]:
        """(r_{k-1}, m_k, n_k, r_k) for every core."""
        modes = zip(self.ranks[:-1], self.out_shape, self.in_shape, self.ranks[1:], strict=True)
        return [(a, m, n, b) for a, m, n, b in modes]

    def _initial_factors(self, std: float) -> list[Tensor]:
        core_std = (std**2 / math.prod(self.ranks[1:])) ** (0.5 / len(self.out_shape))
        return [torch.randn(shape) * core_std for shape in self.factor_shapes()]

    def _hold(self, factors: list[Tensor]) -> None:
        self.cores = nn.ParameterList(nn.Parameter(core) for core in factors)
