"""The interface every weight-matrix format implements, and the dense format.

A format stores one weight matrix W of shape (out_features, in_features) -- M outputs,
N inputs, as in ``nn.Linear`` -- in some parametrisation. Every format offers:

* ``Format(out_features, in_features, rank, *, out_shape=None, in_shape=None, init_std=None)``:
  freshly initialised factors whose reconstruction W has standard deviation ``init_std``
  (default: that of ``nn.Linear``'s uniform(-1/sqrt(N), 1/sqrt(N)), i.e. 1/sqrt(3N));
* ``Format.from_dense(W, rank, *, out_shape=None, in_shape=None)``: factors fitted to W;
* ``Format.max_rank(out_features, in_features, *, out_shape=None, in_shape=None)``: the largest
  rank the format takes for that matrix, enough to hold any W exactly (``from_dense`` at that
  rank gives W back);
* ``to_dense()``: W itself, differentiable with respect to the factors;
* ``matmul(x)``: ``x @ W.T`` for ``x`` of shape (..., N), computed from the factors
  without forming W;
* ``product()``: a function that computes ``matmul`` on small batches with the factors arranged
  once, for many products with the same weights (the steps of a recurrence);
* ``num_parameters()``: the exact number of stored values;
* ``flops_matmul(batch)`` and ``flops_to_dense()``: multiply-adds of the two ways of running it,
  so that callers can pick the cheaper one.

Bad sizes, shapes or ranks raise :class:`FormatError` (a ``ValueError``) whose message names the
matrix sizes and what would work; callers such as the GRU re-raise it with the layer's name.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Protocol

import torch
from torch import Tensor, nn

from deepspeech_tt.errors import UserError

Rank = int | Sequence[int]
Shape = Sequence[int] | None


class FormatError(UserError):
    """A size, factor shape or rank that a format cannot take; the message says what would."""


def default_init_std(in_features: int) -> float:
    """Standard deviation of ``nn.Linear``'s default weights, uniform(-1/sqrt(N), 1/sqrt(N))."""
    return 1.0 / math.sqrt(3 * in_features)


def resolve_init_std(init_std: float | None, in_features: int) -> float:
    """``init_std``, or :func:`default_init_std` of ``in_features`` when it is None."""
    return default_init_std(in_features) if init_std is None else init_std


def matrix_size(weight: Tensor) -> tuple[int, int]:
    """(M, N) of a weight matrix; a FormatError for anything but a 2-D tensor."""
    if weight.dim() != 2:
        raise FormatError(f"expected a 2-D weight matrix, got shape {tuple(weight.shape)}")
    return int(weight.shape[0]), int(weight.shape[1])


class FactorizedMatrix(nn.Module, ABC):
    """A weight matrix of shape (out_features, in_features) held in a compressed format."""

    out_features: int
    in_features: int

    def __init__(self, out_features: int, in_features: int) -> None:
        super().__init__()
        if out_features < 1 or in_features < 1:
            raise FormatError(
                f"a weight matrix needs positive sizes, got {out_features} x {in_features}"
            )
        self.out_features = out_features
        self.in_features = in_features

    @property
    def shape(self) -> tuple[int, int]:
        return (self.out_features, self.in_features)

    @property
    def numel(self) -> int:
        """M N, the number of entries of W (a bound ``matmul`` keeps its intermediates under)."""
        return self.out_features * self.in_features

    @abstractmethod
    def to_dense(self) -> Tensor:
        """W, shape (out_features, in_features)."""

    @abstractmethod
    def matmul(self, x: Tensor) -> Tensor:
        """``x @ W.T`` for x of shape (..., in_features), never forming W."""

    def product(self) -> Callable[[Tensor], Tensor]:
        """``x -> x @ W.T`` for x (B, in_features), for many calls with unchanged factors.

        Formats whose ``matmul`` rearranges its factors on every call arrange them once here
        (differentiably: call it again after the factors change, e.g. once per forward pass).
        """
        return self.matmul

    @abstractmethod
    def flops_matmul(self, batch: int) -> int:
        """Multiply-adds of ``matmul`` on ``batch`` input vectors."""

    def flops_to_dense(self) -> int:
        """Multiply-adds of ``to_dense``; zero for formats that store W itself."""
        return 0

    def num_parameters(self) -> int:
        """The number of stored values (every parameter of the format)."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: Tensor) -> Tensor:
        return self.matmul(x)

    @classmethod
    @abstractmethod
    def from_dense(
        cls, weight: Tensor, rank: Rank, *, out_shape: Shape = None, in_shape: Shape = None
    ) -> FactorizedMatrix:
        """Factors fitted to ``weight`` (M, N), in its dtype and on its device."""

    @classmethod
    def max_rank(cls, out_features: int, in_features: int, *, out_shape: Shape = None,
                 in_shape: Shape = None) -> Rank:
        """The largest rank an (out_features x in_features) matrix takes in this format.

        Every registered format defines it (:class:`MatrixFormat` asks for it); views of
        another matrix, which are not built from a rank, need not.
        """
        raise NotImplementedError(f"{cls.__name__} is not built from a rank")

    def _flatten_input(self, x: Tensor) -> Tensor:
        """x (..., N) as (B, N), with a clear error when the last size is not N."""
        if x.shape[-1] != self.in_features:
            raise FormatError(
                f"input of shape {tuple(x.shape)} does not fit a {self.out_features} x "
                f"{self.in_features} matrix: its last size must be {self.in_features}"
            )
        return x.reshape(-1, self.in_features)


class MatrixFormat(Protocol):
    """A format class as the registry hands it out: its constructor and ``from_dense``."""

    def __call__(
        self, out_features: int, in_features: int, rank: Rank, *, out_shape: Shape = None,
        in_shape: Shape = None, init_std: float | None = None,
    ) -> FactorizedMatrix: ...

    def from_dense(
        self, weight: Tensor, rank: Rank, *, out_shape: Shape = None, in_shape: Shape = None
    ) -> FactorizedMatrix: ...

    def max_rank(
        self, out_features: int, in_features: int, *, out_shape: Shape = None,
        in_shape: Shape = None,
    ) -> Rank: ...


class DenseMatrix(FactorizedMatrix):
    """W stored as it is; ``rank`` and the factor shapes are accepted and ignored.

    Initialised uniformly with standard deviation ``init_std`` (bound ``sqrt(3) * init_std``),
    which by default is ``nn.Linear``'s uniform(-1/sqrt(N), 1/sqrt(N)).
    """

    def __init__(
        self,
        out_features: int,
        in_features: int,
        rank: Rank | None = None,
        *,
        out_shape: Shape = None,
        in_shape: Shape = None,
        init_std: float | None = None,
    ) -> None:
        super().__init__(out_features, in_features)
        bound = math.sqrt(3.0) * resolve_init_std(init_std, in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))

    @classmethod
    def from_dense(
        cls, weight: Tensor, rank: Rank | None = None, *, out_shape: Shape = None,
        in_shape: Shape = None,
    ) -> DenseMatrix:
        """A copy of ``weight`` (M, N), in its dtype and on its device."""
        matrix = cls(*matrix_size(weight))
        matrix.weight = nn.Parameter(weight.detach().clone())
        return matrix

    @classmethod
    def max_rank(cls, out_features: int, in_features: int, *, out_shape: Shape = None,
                 in_shape: Shape = None) -> Rank:
        """1: the rank is ignored, any W is held as it is."""
        return 1

    def to_dense(self) -> Tensor:
        return self.weight

    def matmul(self, x: Tensor) -> Tensor:
        return x @ self.weight.T

    def flops_matmul(self, batch: int) -> int:
        return batch * self.out_features * self.in_features
