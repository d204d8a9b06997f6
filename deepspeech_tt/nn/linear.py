"""A linear layer whose weight is held in a compressed tensor format.

``FactorizedLinear`` is ``nn.Linear`` with W (out_features x in_features) stored in any format
of :data:`deepspeech_tt.tensor.FORMATS`. It runs in one of two ways, or picks between them:

* ``"reconstruct"``: build W from its factors (``to_dense``), then ``F.linear`` -- one dense
  GEMM, the speed of ``nn.Linear`` plus one reconstruction per call;
* ``"contract"``: contract the input with the factors (``matmul``), never forming W -- fewer
  multiply-adds for small ranks and small batches;
* ``"auto"``: per call, the cheaper one for the call's batch (the number of input rows); the
  batch size at which it switches is shown in the repr. The cost is counted in multiply-adds
  of one dense GEMM: those of a chain of small tensor contractions (``matmul``, ``to_dense``)
  weigh ``CONTRACTION_SLOWDOWN`` = 4 times more, as they reach about a quarter of a large
  GEMM's rate on our 2-core CPU (measured on 768 x 256 and 3072 x 1024 layers, batch 1-2048).

The layout follows tensorly-torch's ``FactorizedLinear`` (Kossaifi et al.), the TT layer that of
Novikov et al., "Tensorizing neural networks", NeurIPS 2015.
"""

from __future__ import annotations

import math
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepspeech_tt.tensor.base import FactorizedMatrix, Rank, Shape
from deepspeech_tt.tensor.registry import get_format

IMPLEMENTATIONS = ("auto", "reconstruct", "contract")
CONTRACTION_SLOWDOWN = 4  # dense-GEMM multiply-adds per multiply-add of a small contraction
_LARGEST_BATCH = 1 << 24  # beyond this "auto" stops looking for the switch-over batch size


class FactorizedLinear(nn.Module):
    """``y = x W^T + b`` with W in a compressed tensor format.

    Args:
        in_features: N, the size of each input row.
        out_features: M, the size of each output row.
        bias: whether to add a learnt bias (initialised as ``nn.Linear``'s).
        format: a name in :data:`deepspeech_tt.tensor.FORMATS` ("tt", "cp", "tucker", ...).
        rank: the format's rank (one int for every bond or mode, or a list).
        out_shape: factorisation of M, (m_1, ..., m_d); automatic when None.
        in_shape: factorisation of N, (n_1, ..., n_d); automatic when None.
        implementation: "reconstruct", "contract" or "auto" (see the module docstring).
        init_std: standard deviation of the initial W; None for ``nn.Linear``'s, 1/sqrt(3N).

    Shape:
        x: (..., in_features) -> y: (..., out_features).
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, format: str = "tt",
        rank: Rank = 8, *, out_shape: Shape = None, in_shape: Shape = None,
        implementation: str = "auto", init_std: float | None = None,
    ) -> None:
        super().__init__()
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"unknown implementation {implementation!r}; choose one of {IMPLEMENTATIONS}"
            )
        self.in_features, self.out_features = in_features, out_features
        self.format, self.implementation = format, implementation
        self.weight: FactorizedMatrix = get_format(format)(
            out_features, in_features, rank, out_shape=out_shape, in_shape=in_shape,
            init_std=init_std,
        )
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        if self.bias is not None:
            bound = 1.0 / math.sqrt(in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, format: str = "tt", rank: Rank = 8, *, out_shape: Shape = None,
        in_shape: Shape = None, implementation: str = "auto",
    ) -> FactorizedLinear:
        """Compress a (trained) ``nn.Linear``: its weight by the format's ``from_dense``."""
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, format,
                    rank, out_shape=out_shape, in_shape=in_shape, implementation=implementation)
        layer.weight = get_format(format).from_dense(
            linear.weight, rank, out_shape=out_shape, in_shape=in_shape)
        if linear.bias is not None:
            layer.bias = nn.Parameter(linear.bias.detach().clone())
        return layer

    def forward(self, x: Tensor) -> Tensor:
        batch = x.numel() // max(x.shape[-1], 1)
        if self.strategy(batch) == "reconstruct":
            return F.linear(x, self.weight.to_dense(), self.bias)
        y = self.weight.matmul(x)  # (..., out_features)
        return y if self.bias is None else y + self.bias

    def strategy(self, batch: int) -> str:
        """"reconstruct" or "contract": the fixed choice, or the cheaper one at this batch."""
        if self.implementation != "auto":
            return self.implementation
        return "contract" if batch < self.switch_batch else "reconstruct"

    def cost(self, strategy: str, batch: int) -> int:
        """Estimated cost of a forward pass on ``batch`` rows, in dense-GEMM multiply-adds."""
        if strategy == "contract":
            return CONTRACTION_SLOWDOWN * self.weight.flops_matmul(batch)
        gemm = batch * self.out_features * self.in_features
        return CONTRACTION_SLOWDOWN * self.weight.flops_to_dense() + gemm

    @cached_property
    def switch_batch(self) -> int:
        """The smallest batch at which reconstructing costs no more than contracting."""
        low, high = 1, 1
        while self._contract_cheaper(high):  # double until reconstruct wins, then bisect
            if high >= _LARGEST_BATCH:
                return _LARGEST_BATCH
            low, high = high, 2 * high
        while low < high:
            middle = (low + high) // 2
            low, high = (middle + 1, high) if self._contract_cheaper(middle) else (low, middle)
        return high

    def _contract_cheaper(self, batch: int) -> bool:
        return self.cost("contract", batch) < self.cost("reconstruct", batch)

    def extra_repr(self) -> str:
        choice = self.implementation
        if choice == "auto" and self.switch_batch >= _LARGEST_BATCH:
            choice = "auto: contract at every batch size"
        elif choice == "auto" and self.switch_batch == 1:
            choice = "auto: reconstruct at every batch size"
        elif choice == "auto":
            choice = f"auto: contract below batch {self.switch_batch}, else reconstruct"
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, format={self.format!r}, "
                f"implementation={choice!r}")
