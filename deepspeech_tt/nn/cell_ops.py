"""What differs between a factorized GRU and a factorized LSTM: the cell's operations.

Everything else -- weights, layout, strategies, the layer loop, lengths and packing -- is shared
(``factorized_rnn``, ``gru_layout``, ``gru_runner``, ``gru_cost``). A cell type supplies:

* its gate count (GRU r|z|n: 3; LSTM i|f|g|o: 4), the rows of each matrix being gates x H;
* its state: a tuple of (..., B, H) tensors, (h,) for the GRU, (h, c) for the LSTM; h comes first
  and is what the layer outputs;
* torch's fused operator on padded and on packed input (``torch.gru``, ``torch.lstm``);
* one direction run over a padded batch with lengths, by the fused operator (reconstruct) or
  contracted with the factors at every step (contract).

The implementations live in ``gru_functional`` (``GRU_OPS``) and ``lstm_functional``
(``LSTM_OPS``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor

from deepspeech_tt.tensor.base import FactorizedMatrix

States = tuple[Tensor, ...]
"""A recurrent state: (h,) for the GRU, (h, c) for the LSTM, each (..., B, H)."""


class CellOps(ABC):
    """The operations of one recurrent cell type; see the module docstring."""

    name: str  # "GRU" or "LSTM", as torch names the layer
    gates: int  # gate blocks stacked on the output side of each matrix
    num_states: int  # tensors in the state: 1 (h) or 2 (h, c)
    gate_ops: int  # tensor operations of one contract step besides the product (cost model)

    @abstractmethod
    def fused(
        self, x: Tensor, state: States, weights: list[Tensor], *, has_bias: bool,
        num_layers: int, dropout: float, training: bool, bidirectional: bool,
    ) -> tuple[Tensor, States]:
        """torch's fused operator on time-major x (T, B, I), state of (L * D, B, H) tensors.

        ``weights`` is the flat list in torch's order (w_ih, w_hh[, b_ih, b_hh] per layer and
        direction). Returns output (T, B, D * H) and the final state.
        """

    @abstractmethod
    def fused_packed(
        self, data: Tensor, batch_sizes: Tensor, state: States, weights: list[Tensor], *,
        has_bias: bool, num_layers: int, dropout: float, training: bool, bidirectional: bool,
    ) -> tuple[Tensor, States]:
        """torch's fused operator on the data of a PackedSequence (sorted batch order)."""

    @abstractmethod
    def reconstructed_direction(
        self, x: Tensor, state: States, weights: list[Tensor], lengths: Tensor, *, reverse: bool,
        final_state: bool = True,
    ) -> tuple[Tensor, States]:
        """One direction over x (T, B, I) with lengths (B,), dense weights, fused operator.

        Returns output (T, B, H), garbage at padded steps, and the state (B, H) each sequence
        has after its last real step. With ``final_state`` False the caller discards that state,
        and a cell may leave out what costs extra to compute (NaN in its place).
        """

    @abstractmethod
    def contracted_direction(
        self, x: Tensor, state: States, weight_ih: FactorizedMatrix,
        weight_hh: FactorizedMatrix, bias_ih: Tensor | None, bias_hh: Tensor | None,
        lengths: Tensor | None, *, reverse: bool,
    ) -> tuple[Tensor, States]:
        """One direction contracted with the factors, never forming the matrices.

        Same returns as :meth:`reconstructed_direction`; lengths None means all T steps.
        """
