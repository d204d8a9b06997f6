"""The GRU cell: gates r|z|n, state (h,), torch's gate equations and fused operator.

torch's gate equations (``nn.GRU``), gates stacked r|z|n on the output side of each matrix:

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h' = (1 - z) * n + z * h

``reconstruct`` hands the dense weights to ``torch.gru`` (the operator behind ``nn.GRU``; cuDNN
on GPU); with lengths, h_n is the output at each sequence's last real step. ``contract`` folds
b_ih and the r and z parts of b_hh into the input projections once; b_hn stays in the step,
where r multiplies it.

References:
    K. Cho et al., "Learning phrase representations using RNN encoder-decoder for statistical
    machine translation", EMNLP 2014.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deepspeech_tt.nn.cells.base import Cell, HiddenProduct
from deepspeech_tt.nn.sequences import States
from deepspeech_tt.nn.strategies.rates import GATE_OPS


class GRUCell(Cell):
    """The GRU for the shared runner (not ``torch.nn.GRUCell``, a layer of one step)."""

    name = "GRU"
    gates = ("r", "z", "n")
    states = ("h",)
    gate_ops = GATE_OPS
    torch_rnn = nn.GRU
    fused_operator = torch.gru

    def step(
        self, gates_x: Tensor, state: States, hidden_product: HiddenProduct,
        step_bias: Tensor | None,
    ) -> States:
        """h' = (1 - z) * n + z * h; gates_x (B, 3H), ``step_bias`` b_hn (H,) or None."""
        h = state[0]
        hidden = h.size(-1)
        gates_h = hidden_product(h)  # (B, 3H)
        r, z = torch.sigmoid(gates_x[:, : 2 * hidden] + gates_h[:, : 2 * hidden]).chunk(2, dim=1)
        h_n = gates_h[:, 2 * hidden :]
        if step_bias is not None:
            h_n = h_n + step_bias
        n = torch.tanh(torch.addcmul(gates_x[:, 2 * hidden :], r, h_n))
        return (torch.lerp(n, h, z),)

    def fold_biases(
        self, gates_x: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        """Add b_ih, and the r and z parts of b_hh; b_hn (H,) is left for the step."""
        if bias_ih is not None:
            gates_x = gates_x + bias_ih
        if bias_hh is None:
            return gates_x, None
        hidden = bias_hh.size(0) // 3
        zeros = bias_hh.new_zeros(hidden)
        gates_x = gates_x + torch.cat([bias_hh[: 2 * hidden], zeros])
        return gates_x, bias_hh[2 * hidden :]


GRU_CELL = GRUCell()
