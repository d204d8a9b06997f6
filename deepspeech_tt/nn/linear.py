"""A linear layer whose weight is held in a compressed tensor format.

``FactorizedLinear`` is ``nn.Linear`` with W (out_features x in_features) stored in any format
of :data:`deepspeech_tt.tensor.FORMATS`. It runs with any registered strategy
(``deepspeech_tt.nn.strategies``), as the recurrent layers do, or picks one per call:

* ``"reconstruct"``: build W from its factors (``to_dense``), then ``F.linear`` -- one dense
  GEMM, the speed of ``nn.Linear`` plus one reconstruction per call;
* ``"contract"``: contract the input with the factors (``matmul``), never forming W -- fewer
  multiply-adds for small ranks and small batches;
* ``"auto"``: per call, the cheapest strategy that supports the layer, for the call's batch
  (the number of input rows); the batch size at which the choice switches is shown in the
  repr. Costs are each strategy's ``linear_cost`` (see ``strategies.rates``).

The layout follows tensorly-torch's ``FactorizedLinear`` (Kossaifi et al.), the TT layer that of
Novikov et al., "Tensorizing neural networks", NeurIPS 2015.
"""

from __future__ import annotations

import math
from functools import cached_property

import torch
from torch import Tensor, nn

from deepspeech_tt.nn.strategies import (
    AUTO,
    LinearCase,
    Strategy,
    check_strategy,
    choose,
    get_strategy,
)
from deepspeech_tt.tensor.base import FactorizedMatrix, Rank, Shape
from deepspeech_tt.tensor.registry import get_format

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
        strategy: a registered strategy ("reconstruct", "contract") or "auto" (see the module
            docstring).
        init_std: standard deviation of the initial W; None for ``nn.Linear``'s, 1/sqrt(3N).

    Shape:
        x: (..., in_features) -> y: (..., out_features).
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, format: str = "tt",
        rank: Rank = 8, *, out_shape: Shape = None, in_shape: Shape = None,
        strategy: str = "auto", init_std: float | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.format, self.strategy = format, check_strategy(strategy)
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
        in_shape: Shape = None, strategy: str = "auto",
    ) -> FactorizedLinear:
        """Compress a (trained) ``nn.Linear``: its weight by the format's ``from_dense``."""
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, format,
                    rank, out_shape=out_shape, in_shape=in_shape, strategy=strategy)
        layer.weight = get_format(format).from_dense(
            linear.weight, rank, out_shape=out_shape, in_shape=in_shape)
        if linear.bias is not None:
            layer.bias = nn.Parameter(linear.bias.detach().clone())
        return layer

    def forward(self, x: Tensor) -> Tensor:
        batch = x.numel() // max(x.shape[-1], 1)
        return self.plan(batch).linear(x, self.weight, self.bias)

    def plan(self, batch: int) -> Strategy:
        """The strategy of a call on ``batch`` rows: the fixed one, or ``auto``'s choice.

        Raises:
            ValueError: the fixed strategy does not support the layer (or, under ``auto``,
                none does).
        """
        param = next(self.weight.parameters())
        case = LinearCase(param.device.type, param.dtype, (self.format,), self.weight, batch)
        return choose(self.strategy, case, lambda strategy, c: strategy.linear_cost(c))

    def cost(self, strategy: str, batch: int) -> float:
        """Estimated seconds of a forward pass on ``batch`` rows with the strategy ``strategy``."""
        param = next(self.weight.parameters())
        case = LinearCase(param.device.type, param.dtype, (self.format,), self.weight, batch)
        return get_strategy(strategy).linear_cost(case)

    @cached_property
    def switch_batch(self) -> int:
        """The smallest batch at which ``auto`` picks another strategy than at batch 1."""
        first = self.plan(1)
        low, high = 1, 1
        while self.plan(high) is first:  # double until the choice changes, then bisect
            if high >= _LARGEST_BATCH:
                return _LARGEST_BATCH
            low, high = high, 2 * high
        while low < high:
            middle = (low + high) // 2
            low, high = (middle + 1, high) if self.plan(middle) is first else (low, middle)
        return high

    def extra_repr(self) -> str:
        choice = self.strategy
        if choice == AUTO:
            first, switch = self.plan(1).name, self.switch_batch
            if switch >= _LARGEST_BATCH:
                choice = f"auto: {first} at every batch size"
            else:
                then = self.plan(switch).name
                choice = f"auto: {first} below batch {switch}, else {then}"
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, format={self.format!r}, "
                f"strategy={choice!r}")
