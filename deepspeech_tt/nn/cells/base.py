"""What a recurrent cell is to a factorized layer: its gates, its state and its step.

Everything else -- weights, layouts, strategies, the layer loop, lengths and packing -- is shared
(``factorized_rnn``, ``gru_layout``, ``runner``, ``strategies``). A cell supplies:

* its gates, by name, in the order they are stacked on the output side of every matrix (GRU
  r|z|n; LSTM i|f|g|o): a matrix has (gates x H) rows;
* its state, by name: a tuple of (B, H) tensors, h first (what the layer outputs), (h,) for the
  GRU, (h, c) for the LSTM;
* its step, h_{t-1} -> h_t given the input projection of step t (:meth:`Cell.step`), and which
  biases may be folded into the input projections once for all steps (:meth:`Cell.fold_biases`);
* optionally torch's fused operator (``torch.gru``, ``torch.lstm``) and its torch layer
  (``nn.GRU``, ``nn.LSTM``), which conversions and tests compare against.

From the step alone the base class runs both strategies: ``contract`` projects the inputs of all
steps with the factorized W_ih in one product and contracts h with W_hh's factors at every step;
``reconstruct`` hands the dense matrices to the fused operator, which keeps the time loop in C++
(cuDNN on GPU), or without one runs the step loop on them. With lengths, the fused operator runs
each direction over the padded batch (``deepspeech_tt.nn.sequences``) and
:meth:`Cell.final_state` takes each sequence's final state from that run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepspeech_tt.nn.sequences import (
    States,
    contracted_loop,
    gather_last,
    reverse_within_lengths,
)
from deepspeech_tt.tensor.base import FactorizedMatrix

HiddenProduct = Callable[[Tensor], Tensor]
"""h (B, H) -> h @ W_hh.T (B, G H): a format's ``product()``, or a dense product."""


class Cell(ABC):
    """One recurrent cell type; see the module docstring. Instances are stateless."""

    name: ClassVar[str]  # as torch names the layer ("GRU"); layers are named Factorized{name}
    gates: ClassVar[tuple[str, ...]]  # gate names, stacked in this order on the output side
    states: ClassVar[tuple[str, ...]]  # state names, h first: ("h",) or ("h", "c")
    gate_ops: ClassVar[int]  # tensor operations of one step besides the product (cost model)
    torch_rnn: ClassVar[type[nn.RNNBase] | None] = None  # torch's layer, if there is one
    # torch's fused operator (torch.gru: padded (x, hx, weights, flags...) or packed
    # (data, batch_sizes, hx, ...) -> (output, *final state)), if there is one
    fused_operator: ClassVar[Callable[..., tuple[Tensor, ...]] | None] = None

    @property
    def has_fused(self) -> bool:
        return self.fused_operator is not None

    @property
    def num_gates(self) -> int:
        return len(self.gates)

    @property
    def num_states(self) -> int:
        return len(self.states)

    @abstractmethod
    def step(
        self, gates_x: Tensor, state: States, hidden_product: HiddenProduct,
        step_bias: Tensor | None,
    ) -> States:
        """The state after one step.

        Args:
            gates_x: (B, G H) this step's input projection, with the biases folded into it.
            state: (B, H) tensors, h first.
            hidden_product: h -> h @ W_hh.T, (B, H) -> (B, G H).
            step_bias: what :meth:`fold_biases` left for the step, or None.
        """

    def fold_biases(
        self, gates_x: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        """gates_x (T, B, G H) with b_ih and b_hh added; nothing is left for the step.

        A cell whose step needs part of a bias apart (the GRU's b_hn) overrides this.
        """
        for bias in (bias_ih, bias_hh):
            if bias is not None:
                gates_x = gates_x + bias  # (T, B, G H)
        return gates_x, None

    def contracted_direction(
        self, x: Tensor, state: States, weight_ih: FactorizedMatrix,
        weight_hh: FactorizedMatrix, bias_ih: Tensor | None, bias_hh: Tensor | None,
        lengths: Tensor | None, *, reverse: bool,
    ) -> tuple[Tensor, States]:
        """One direction contracted with the factors, never forming the matrices.

        Args:
            x: (T, B, I) input.
            state: the initial state, (B, H) tensors.
            weight_ih, weight_hh: (G H x I) and (G H x H), the gates stacked.
            bias_ih, bias_hh: (G H,) biases or None.
            lengths: (B,) sequence lengths, or None when every sequence has T steps.
            reverse: run from each sequence's last real step back to its first.

        Returns:
            output (T, B, H), garbage at padded steps, and the state each sequence has after
            its last real step.
        """
        steps, batch, _ = x.shape
        gates_x = weight_ih.matmul(x.reshape(steps * batch, -1)).view(steps, batch, -1)
        hidden_product = weight_hh.product()  # factors arranged once for all steps
        return self._loop(gates_x, state, hidden_product, bias_ih, bias_hh, lengths, reverse)

    def reconstructed_direction(
        self, x: Tensor, state: States, weights: list[Tensor], lengths: Tensor, *, reverse: bool,
        final_state: bool = True,
    ) -> tuple[Tensor, States]:
        """One direction over x (T, B, I) with lengths (B,) on dense weights.

        ``weights`` is [w_ih, w_hh] or [w_ih, w_hh, b_ih, b_hh]. Returns what
        :meth:`contracted_direction` returns. With ``final_state`` False the caller discards
        that state, and a cell may leave out what costs extra to compute (NaN in its place).
        """
        if not self.has_fused:
            return self._dense_direction(x, state, weights, lengths, reverse)
        if reverse:
            x = reverse_within_lengths(x, lengths)
        output, _ = self.fused(
            x, tuple(s.unsqueeze(0) for s in state), weights, has_bias=len(weights) == 4,
            num_layers=1, dropout=0.0, training=False, bidirectional=False,
        )  # (T, B, H)
        final = self.final_state(x, output, state, weights, lengths, complete=final_state)
        if reverse:
            output = reverse_within_lengths(output, lengths)
        return output, final

    def final_state(
        self, x: Tensor, output: Tensor, state: States, weights: list[Tensor], lengths: Tensor,
        *, complete: bool = True,
    ) -> States:
        """The state after each sequence's last real step, from one fused run over x.

        Args:
            x: (T, B, I) inputs in the order they were run, each sequence from step 0.
            output: (T, B, H) the h of every step of that run.
            state: the initial state, (B, H) tensors.
            weights: [w_ih, w_hh] or [w_ih, w_hh, b_ih, b_hh], dense.
            lengths: (B,) sequence lengths.
            complete: False when the caller discards all but h.

        A cell whose state is h alone takes it from the output; others override this.
        """
        if self.num_states != 1:
            raise NotImplementedError(f"{self.name}: final_state of {self.states}")
        return (gather_last(output, lengths),)  # (B, H)

    def fused(
        self, x: Tensor, state: States, weights: list[Tensor], *, has_bias: bool,
        num_layers: int, dropout: float, training: bool, bidirectional: bool,
    ) -> tuple[Tensor, States]:
        """A stack of layers on time-major x (T, B, I), state of (L * D, B, H) tensors.

        ``weights`` is the flat list in torch's order (w_ih, w_hh[, b_ih, b_hh] per layer and
        direction). Returns output (T, B, D * H) and the final state. torch's fused operator
        where the cell has one; otherwise each layer and direction by the dense step loop.
        """
        if self.fused_operator is not None:
            if x.is_cuda:
                weights = flat_weight_views(weights)
            results = self.fused_operator(
                x, self._torch_state(state), weights, has_bias, num_layers, dropout, training,
                bidirectional, False,
            )
            return results[0], tuple(results[1:])  # output (T, B, D * H), final state
        per_direction, directions = 4 if has_bias else 2, 2 if bidirectional else 1
        finals: list[States] = []
        for layer in range(num_layers):
            if layer > 0 and dropout > 0:
                x = F.dropout(x, dropout, training)
            outputs = []
            for d in range(directions):
                index = layer * directions + d
                start = tuple(s[index] for s in state)  # (B, H) each
                mine = weights[index * per_direction : (index + 1) * per_direction]
                output, final = self._dense_direction(x, start, mine, None, d == 1)
                outputs.append(output)
                finals.append(final)
            x = torch.cat(outputs, dim=-1)  # (T, B, D * H)
        return x, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))

    def fused_packed(
        self, data: Tensor, batch_sizes: Tensor, state: States, weights: list[Tensor], *,
        has_bias: bool, num_layers: int, dropout: float, training: bool, bidirectional: bool,
    ) -> tuple[Tensor, States]:
        """torch's fused operator on the data of a PackedSequence (cells with ``has_fused``)."""
        if self.fused_operator is None:
            raise NotImplementedError(f"{self.name} has no fused operator for packed input")
        if data.is_cuda:
            weights = flat_weight_views(weights)
        results = self.fused_operator(
            data, batch_sizes, self._torch_state(state), weights, has_bias, num_layers, dropout,
            training, bidirectional,
        )
        return results[0], tuple(results[1:])

    def _torch_state(self, state: States) -> Tensor | States:
        """The state as torch's operators take it: h alone, or the tuple."""
        return state[0] if self.num_states == 1 else state

    def _dense_direction(
        self, x: Tensor, state: States, weights: list[Tensor], lengths: Tensor | None,
        reverse: bool,
    ) -> tuple[Tensor, States]:
        weight_ih, weight_hh, *biases = weights
        bias_ih, bias_hh = biases if biases else (None, None)
        gates_x = F.linear(x, weight_ih)  # (T, B, G H)
        hidden_product: HiddenProduct = lambda h: F.linear(h, weight_hh)  # noqa: E731
        return self._loop(gates_x, state, hidden_product, bias_ih, bias_hh, lengths, reverse)

    def _loop(
        self, gates_x: Tensor, state: States, hidden_product: HiddenProduct,
        bias_ih: Tensor | None, bias_hh: Tensor | None, lengths: Tensor | None, reverse: bool,
    ) -> tuple[Tensor, States]:
        gates_x, step_bias = self.fold_biases(gates_x, bias_ih, bias_hh)

        def step(gates: Tensor, current: States) -> States:
            return self.step(gates, current, hidden_product, step_bias)

        return contracted_loop(gates_x, state, step, lengths, reverse=reverse)


def flat_weight_views(weights: list[Tensor]) -> list[Tensor]:
    """The same weights, copied into one contiguous buffer and returned as views of it.

    cuDNN's RNN runs without copying its weights only when they lie in one storage, starting at
    offset 0, in the order w_ih, w_hh, b_ih, b_hh of each layer and direction (what
    ``nn.RNNBase.flatten_parameters`` arranges). Reconstructed weights are fresh tensors, so
    one ``torch.cat`` lays them out that way; gradients flow back through the views to the
    factors. The CPU kernel gains nothing from it, so callers use it on CUDA only.
    """
    flat = torch.cat([w.reshape(-1) for w in weights])
    pieces = flat.split([w.numel() for w in weights])
    return [piece.view(w.shape) for piece, w in zip(pieces, weights, strict=True)]
