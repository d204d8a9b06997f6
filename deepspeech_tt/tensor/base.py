"""The interface every weight-matrix format implements, and the dense format.

A format stores one weight matrix W of shape (out_features, in_features) -- M outputs,
N inputs, as in ``nn.Linear`` -- in some parametrisation. Every format offers:

* ``to_dense()``: W itself, differentiable with respect to the factors;
* ``matmul(x)``: ``x @ W.T`` for ``x`` of shape (..., N), computed from the factors
  without forming W;
* ``from_dense(W, rank)``: the factors fitted to a given matrix;
* ``num_parameters()``: the exact number of stored values;
* ``flops_matmul(batch)`` and ``flops_to_dense()``: multiply-adds of the two ways of running it,
  so that callers can pick the cheaper one.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn


class FactorizedMatrix(nn.Module, ABC):
    """A weight matrix of shape (out_features, in_features) held in a compressed format."""

    out_features: int
    in_features: int

    def __init__(self, out_features: int, in_features: int) -> None:
        super().__init__()
        if out_features < 1 or in_features < 1:
            raise ValueError(
                f"a weight matrix needs positive sizes, got {out_features} x {in_features}"
            )
        self.out_features = out_features
        self.in_features = in_features

    @property
    def shape(self) -> tuple[int, int]:
        return (self.out_features, self.in_features)

    @abstractmethod
    def to_dense(self) -> Tensor:
        """W, shape (out_features, in_features)."""

    @abstractmethod
    def matmul(self, x: Tensor) -> Tensor:
        """``x @ W.T`` for x of shape (..., in_features), never forming W."""

    @abstractmethod
    def flops_matmul(self, batch: int) -> int:
        """Multiply-adds of ``matmul`` on ``batch`` input vectors."""

    def flops_to_dense(self) -> int:
        """Multiply-adds of ``to_dense``; zero for formats that store W itself."""
        return 0

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: Tensor) -> Tensor:
        return self.matmul(x)


class DenseMatrix(FactorizedMatrix):
    """W stored as it is, with ``nn.Linear``'s default initialisation (uniform, bound 1/sqrt(N))."""

    def __init__(
        self, out_features: int, in_features: int, rank: int | list[int] | None = None, **_: object
    ) -> None:
        super().__init__(out_features, in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        bound = 1.0 / math.sqrt(in_features)
        nn.init.uniform_(self.weight, -bound, bound)

    @classmethod
    def from_dense(cls, weight: Tensor, rank: int | list[int] | None = None, **_: object) -> DenseMatrix:
        out_features, in_features = weight.shape
        matrix = cls(out_features, in_features)
        with torch.no_grad():
            matrix.weight.copy_(weight)
        return matrix

    def to_dense(self) -> Tensor:
        return self.weight

    def matmul(self, x: Tensor) -> Tensor:
        return x @ self.weight.T

    def flops_matmul(self, batch: int) -> int:
        return batch * self.out_features * self.in_features
