"""Pure functions that run one LSTM layer (or a stack of them) from given weights.

torch's gate equations (``nn.LSTM``), gates stacked i|f|g|o on the output side of each matrix:

    i, f, o = sigmoid(W_i* x + b_i* + U_* h + b_h*),   g = tanh(W_ig x + b_ig + U_g h + b_hg)
    c' = f * c + i * g,   h' = o * tanh(c')

The strategies are the GRU's (``gru_functional``): the fused operator (``torch.lstm``) on dense
weights, or a Python loop contracting h with the factors at every step. Both biases sit outside
the gate nonlinearities, so the contract loop folds b_ih + b_hh into the input projection once.

Final cell state with lengths, by the fused operator. As for the GRU, a padded batch with lengths
runs as one fused call per direction (the backward one on each sequence reversed within its own
length), and h_n is the output at each sequence's last real step. The fused operator does not
give c at every step, only at step T - 1, so c_n is computed from quantities that it does give:
the gates of every step are two batched products, [x_t; h_{t-1}] with [W_ih, W_hh] (h_{t-1} is
the output), and with f'_t = f_t and u_t = i_t g_t inside a sequence (1 and 0 past its end),

    c_n = c_0 prod_t f'_t + sum_s u_s prod_{t > s} f'_t,

a reversed cumulative product: nothing is divided by the vanishing products, so nothing
overflows, whatever the length. It is exact
(the same c, summed in another order). It costs two batched GEMMs as large as the layer's
projections: measured on the 2-core CPU (BiLSTM 256 -> 256, T = 100, B = 8, lengths 50-100,
one thread, forward + backward of the output, medians), 146 ms with it, 88 ms without it and
266 ms for a packed ``nn.LSTM``. Callers that discard the final state
(``FactorizedLSTM.output``, used by DeepSpeech2) skip it.

All tensors here are time-major: x (T, B, F), h and c (B, H) per direction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from deepspeech_tt.nn.cell_ops import CellOps, States
from deepspeech_tt.nn.gru_cost import GATE_OPS
from deepspeech_tt.nn.gru_functional import (
    contracted_loop,
    flat_weight_views,
    gather_last,
    length_mask,
    reverse_within_lengths,
)
from deepspeech_tt.tensor.base import FactorizedMatrix

# The contract step's operations besides the product: the GRU's, plus the cell state to mask
# and one more nonlinearity (counted, not measured).
LSTM_GATE_OPS = GATE_OPS + 2


def fused_lstm(
    x: Tensor, h0: Tensor, c0: Tensor, weights: list[Tensor], *, has_bias: bool,
    num_layers: int, dropout: float, training: bool, bidirectional: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """torch's fused LSTM on padded, time-major x (T, B, I), h0 and c0 (L * D, B, H).

    ``weights`` is the flat list in ``nn.LSTM``'s order (``_flat_weights``).
    Returns output (T, B, D * H), h_n and c_n (L * D, B, H).
    """
    if x.is_cuda:
        weights = flat_weight_views(weights)
    output, h_n, c_n = torch.lstm(
        x, (h0, c0), weights, has_bias, num_layers, dropout, training, bidirectional, False
    )
    return output, h_n, c_n


def fused_lstm_packed(
    data: Tensor, batch_sizes: Tensor, h0: Tensor, c0: Tensor, weights: list[Tensor], *,
    has_bias: bool, num_layers: int, dropout: float, training: bool, bidirectional: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """torch's fused LSTM on the data of a PackedSequence (used on CUDA, where cuDNN packs)."""
    if data.is_cuda:
        weights = flat_weight_views(weights)
    output, h_n, c_n = torch.lstm(
        data, batch_sizes, (h0, c0), weights, has_bias, num_layers, dropout, training,
        bidirectional,
    )
    return output, h_n, c_n


def reconstructed_lstm_direction(
    x: Tensor, h0: Tensor, c0: Tensor, weights: list[Tensor], lengths: Tensor, *, reverse: bool,
    final_cell: bool = True,
) -> tuple[Tensor, Tensor, Tensor]:
    """One direction of one layer over a padded batch with lengths, by the fused operator.

    Args:
        x: (T, B, I) input, padding anywhere after each sequence's end.
        h0, c0: (B, H) initial state.
        weights: [w_ih, w_hh] or [w_ih, w_hh, b_ih, b_hh] of this direction, dense.
        lengths: (B,) sequence lengths, each in [1, T].
        reverse: run from each sequence's last real step back to its first.
        final_cell: compute c_n (the closed form below); NaN in its place if False.

    Returns:
        output (T, B, H), garbage at padded steps, and h_n, c_n (B, H) after the last real step.
    """
    if reverse:
        x = reverse_within_lengths(x, lengths)
    output, _, _ = fused_lstm(
        x, h0.unsqueeze(0), c0.unsqueeze(0), weights, has_bias=len(weights) == 4,
        num_layers=1, dropout=0.0, training=False, bidirectional=False,
    )  # (T, B, H)
    h_n = gather_last(output, lengths)  # (B, H)
    if final_cell:
        c_n = final_cell_state(x, output, h0, c0, weights, lengths)
    else:
        c_n = torch.full_like(c0, float("nan"))
    if reverse:
        output = reverse_within_lengths(output, lengths)
    return output, h_n, c_n


def final_cell_state(
    x: Tensor, output: Tensor, h0: Tensor, c0: Tensor, weights: list[Tensor], lengths: Tensor
) -> Tensor:
    """c after each sequence's last real step, from the inputs and outputs of a forward run.

    Args:
        x: (T, B, I) inputs in the order they were run, each sequence from step 0.
        output: (T, B, H) the h of every step of that run.
        h0, c0: (B, H) the initial state.
        weights: [w_ih, w_hh] or [w_ih, w_hh, b_ih, b_hh], dense.
        lengths: (B,) sequence lengths.

    Returns:
        c_n (B, H), by the closed form in the module docstring.
    """
    h_prev = torch.cat([h0.unsqueeze(0), output[:-1]])  # (T, B, H): h_{t-1}
    gates = F.linear(x, weights[0]) + F.linear(h_prev, weights[1])  # (T, B, 4H)
    if len(weights) == 4:
        gates = gates + (weights[2] + weights[3])
    i, f, g, _ = gates.chunk(4, dim=-1)  # (T, B, H) each
    inside = length_mask(lengths.to(x.device), x.size(0))  # (T, B, 1)
    kept = torch.where(inside, torch.sigmoid(f), 1.0)  # f'_t
    written = torch.where(inside, torch.sigmoid(i) * torch.tanh(g), 0.0)  # u_t
    kept_from = kept.flip(0).cumprod(0).flip(0)  # prod_{t >= s} f'_t
    kept_after = torch.cat([kept_from[1:], torch.ones_like(kept_from[:1])])  # prod_{t > s}
    return c0 * kept_from[0] + (written * kept_after).sum(0)


def contracted_lstm_direction(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_ih: FactorizedMatrix,
    weight_hh: FactorizedMatrix,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    lengths: Tensor | None,
    *,
    reverse: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """One direction of one layer contracted with the factors, never forming W or U.

    Args:
        x: (T, B, I) input.
        h0, c0: (B, H) initial state.
        weight_ih: the (4H x I) input-to-hidden matrix, gates i|f|g|o stacked.
        weight_hh: the (4H x H) hidden-to-hidden matrix, gates i|f|g|o stacked.
        bias_ih, bias_hh: (4H,) biases or None.
        lengths: (B,) sequence lengths, or None when every sequence has T steps.
        reverse: run from each sequence's last real step back to its first.

    Returns:
        output (T, B, H), garbage at padded steps, and the final h_n, c_n (B, H).
    """
    steps, batch, _ = x.shape
    hidden = h0.size(-1)
    gates_x = weight_ih.matmul(x.reshape(steps * batch, -1)).view(steps, batch, 4 * hidden)
    for bias in (bias_ih, bias_hh):
        if bias is not None:
            gates_x = gates_x + bias  # (T, B, 4H)
    hidden_product = weight_hh.product()  # factors arranged once for all steps

    def step(gates: Tensor, state: States) -> States:
        h, c = state
        i, f, g, o = (gates + hidden_product(h)).chunk(4, dim=1)  # (B, H) each
        c = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
        return torch.sigmoid(o) * torch.tanh(c), c

    output, (h_n, c_n) = contracted_loop(gates_x, (h0, c0), step, lengths, reverse=reverse)
    return output, h_n, c_n


class LSTMOps(CellOps):
    """The LSTM's operations for the shared runner: state (h, c), gates i|f|g|o."""

    name = "LSTM"
    gates = 4
    num_states = 2
    gate_ops = LSTM_GATE_OPS

    def fused(
        self, x: Tensor, state: States, weights: list[Tensor], *, has_bias: bool,
        num_layers: int, dropout: float, training: bool, bidirectional: bool,
    ) -> tuple[Tensor, States]:
        output, h_n, c_n = fused_lstm(
            x, state[0], state[1], weights, has_bias=has_bias, num_layers=num_layers,
            dropout=dropout, training=training, bidirectional=bidirectional,
        )
        return output, (h_n, c_n)

    def fused_packed(
        self, data: Tensor, batch_sizes: Tensor, state: States, weights: list[Tensor], *,
        has_bias: bool, num_layers: int, dropout: float, training: bool, bidirectional: bool,
    ) -> tuple[Tensor, States]:
        output, h_n, c_n = fused_lstm_packed(
            data, batch_sizes, state[0], state[1], weights, has_bias=has_bias,
            num_layers=num_layers, dropout=dropout, training=training, bidirectional=bidirectional,
        )
        return output, (h_n, c_n)

    def reconstructed_direction(
        self, x: Tensor, state: States, weights: list[Tensor], lengths: Tensor, *, reverse: bool,
        final_state: bool = True,
    ) -> tuple[Tensor, States]:
        output, h_n, c_n = reconstructed_lstm_direction(
            x, state[0], state[1], weights, lengths, reverse=reverse, final_cell=final_state
        )
        return output, (h_n, c_n)

    def contracted_direction(
        self, x: Tensor, state: States, weight_ih: FactorizedMatrix,
        weight_hh: FactorizedMatrix, bias_ih: Tensor | None, bias_hh: Tensor | None,
        lengths: Tensor | None, *, reverse: bool,
    ) -> tuple[Tensor, States]:
        output, h_n, c_n = contracted_lstm_direction(
            x, state[0], state[1], weight_ih, weight_hh, bias_ih, bias_hh, lengths,
            reverse=reverse,
        )
        return output, (h_n, c_n)


LSTM_OPS = LSTMOps()
