"""What an execution strategy is: the cases it supports, what it costs, and how it runs.

A strategy runs the factorized matrices of a layer one way (rebuild them, contract with their
factors, a GPU kernel...). :class:`Strategy` says

* which cases it supports (:meth:`Strategy.supports`: devices, dtypes and weight formats);
* its estimated time on a case (:meth:`Strategy.cost` for a recurrent layer,
  :meth:`Strategy.linear_cost` for ``FactorizedLinear``), from the rates in ``rates``;
* how it runs a recurrent direction (:meth:`Strategy.run_direction`, required), a layer of them
  (:meth:`Strategy.run_layer`, by default each direction then the outputs concatenated), the
  whole stack at once on full-length or packed input where it can (:meth:`Strategy.run_stack`,
  :meth:`Strategy.run_packed`), and a linear layer (:meth:`Strategy.linear`).

``auto`` is not a strategy: it is the cheapest registered one that supports the case (see
``registry``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from deepspeech_tt.nn.layer import Direction, RecurrentLayer
from deepspeech_tt.nn.sequences import States, length_mask
from deepspeech_tt.tensor.base import FactorizedMatrix


@dataclass(frozen=True)
class Case:
    """Where and on what a strategy would run: what :meth:`Strategy.supports` reads.

    Attributes:
        device: the weights' device type ("cpu", "cuda").
        dtype: the weights' dtype.
        formats: the registered format names of the matrices.
    """

    device: str
    dtype: torch.dtype
    formats: tuple[str, ...]


@dataclass(frozen=True)
class RecurrentCase(Case):
    """One recurrent layer on a (steps, batch) input.

    Attributes:
        weight_ih, weight_hh: the first direction's matrices (G H x I and G H x H).
        steps, batch: the input's T and B.
        directions: 1, or 2 for a bidirectional layer.
        training: whether gradients are needed (the backward pass is then counted).
        gate_ops: tensor operations of one contract step besides the product (the cell's).
        rebuild_macs: multiply-adds of one direction's rebuild (the joint layout rebuilds one
            [W_ih | W_hh], fewer than the two column blocks' counts).
        cell: the cell's name ("GRU"), whose fused operator's speed (``rates.FusedSpeed``)
            applies; empty: as modelled.
    """

    weight_ih: FactorizedMatrix
    weight_hh: FactorizedMatrix
    steps: int
    batch: int
    directions: int
    training: bool
    gate_ops: int
    rebuild_macs: int
    cell: str = ""


@dataclass(frozen=True)
class LinearCase(Case):
    """One ``FactorizedLinear`` call on ``batch`` input rows of its matrix ``weight``."""

    weight: FactorizedMatrix
    batch: int


class Strategy(ABC):
    """One way of running factorized matrices; see the module docstring. Stateless.

    ``devices``, ``dtypes`` and ``formats`` are the supported device types, dtypes and format
    names; None supports every one.
    """

    name: ClassVar[str]  # the registry key, as configs and ``strategy=`` name it
    devices: frozenset[str] | None = None
    dtypes: frozenset[torch.dtype] | None = None
    formats: frozenset[str] | None = None

    def __repr__(self) -> str:
        return f"<strategy {self.name!r}>"

    def supports(self, case: Case) -> bool:
        """Whether this strategy can run ``case`` (its device, dtype and every format)."""
        return (
            (self.devices is None or case.device in self.devices)
            and (self.dtypes is None or case.dtype in self.dtypes)
            and (self.formats is None or set(case.formats) <= self.formats)
        )

    @abstractmethod
    def cost(self, case: RecurrentCase) -> float:
        """Estimated seconds of the layer, all its directions (forward, + backward if training)."""

    @abstractmethod
    def linear_cost(self, case: LinearCase) -> float:
        """Estimated seconds of one ``FactorizedLinear`` forward pass."""

    @abstractmethod
    def linear(self, x: Tensor, weight: FactorizedMatrix, bias: Tensor | None) -> Tensor:
        """``x W^T + b`` for x (..., N) -> (..., M)."""

    @abstractmethod
    def run_direction(
        self, rnn: RecurrentLayer, direction: Direction, x: Tensor, state: States,
        lengths: Tensor | None, *, reverse: bool, final_state: bool,
    ) -> tuple[Tensor, States]:
        """One direction of a layer on x (T, B, I) from a state of (B, H) tensors.

        Args:
            rnn: the layer (its cell, bias and training flags).
            direction: that direction's weights.
            x: (T, B, I) input.
            state: the initial state, (B, H) tensors.
            lengths: (B,) sequence lengths, or None when every sequence has T steps.
            reverse: run from each sequence's last real step back to its first.
            final_state: False when the caller discards the final state (it may be incomplete).

        Returns:
            output (T, B, H), anything at padded steps, and each sequence's final state.
        """

    def run_layer(
        self, rnn: RecurrentLayer, layer: int, x: Tensor, state: States, lengths: Tensor | None,
        final_state: bool,
    ) -> tuple[Tensor, States]:
        """One layer, all directions: output (T, B, D * H), zero at padded steps; (D, B, H)."""
        outputs, finals = [], []
        for index, direction in enumerate(rnn.direction_weights(layer)):
            start = tuple(s[index] for s in state)  # (B, H) each
            out, final = self.run_direction(
                rnn, direction, x, start, lengths, reverse=index == 1, final_state=final_state
            )
            outputs.append(out)
            finals.append(final)
        output = torch.cat(outputs, dim=-1)  # (T, B, D * H)
        if lengths is not None:
            output = output.masked_fill(~length_mask(lengths, x.size(0)), 0.0)
        return output, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))

    def run_stack(
        self, rnn: RecurrentLayer, x: Tensor, state: States, lengths: Tensor | None
    ) -> tuple[Tensor, States] | None:
        """Every layer at once, when all run this way; None to run them layer by layer.

        x (T, B, I), state (L * D, B, H) tensors -> output (T, B, D * H), final state.
        """
        return None

    def run_packed(
        self, rnn: RecurrentLayer, packed: PackedSequence, state: States
    ) -> tuple[PackedSequence, States] | None:
        """Every layer on packed input, when all run this way; None to unpack and run padded.

        ``state`` is checked, (L * D, B, H) tensors in the caller's batch order, as is the
        final state returned.
        """
        return None
