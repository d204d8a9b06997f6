"""Pure functions that run one GRU layer (or a stack of them) from given weights.

Two ways of running a layer whose weights are factorized (see ``deepspeech_tt.nn.gru``):

* reconstruct: the dense weights are passed to torch's fused GRU operator (``torch.gru``, the
  operator behind ``nn.GRU``; cuDNN on GPU), which keeps the time loop in C++;
* contract: the input projection of every step is one batched product with the factors, and the
  hidden-to-hidden product is contracted with the factors at each step in a Python loop.

Variable lengths are handled without packing: each direction runs as a plain GRU over the padded
batch, the backward one on each sequence reversed within its own length. Padding at the end of a
sequence cannot reach earlier steps of a forward recurrence, so this gives exactly the packed
result, and its backward pass is about twice as fast as packed sequences on CPU (measured:
110 ms against 200 ms for a BiGRU-256, T=100, B=8, fp32, one thread).

All tensors here are time-major: x (T, B, F), h (B, H) per direction. The helpers for lengths,
reversal, weight layout and the contract loop serve the LSTM too (``lstm_functional``);
``GRU_OPS`` hands the GRU's functions to the shared runner.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from deepspeech_tt.nn.cell_ops import CellOps, States
from deepspeech_tt.nn.gru_cost import GATE_OPS
from deepspeech_tt.tensor.base import FactorizedMatrix


def length_mask(lengths: Tensor, steps: int) -> Tensor:
    """True where step t is inside sequence b: shape (T, B, 1)."""
    t = torch.arange(steps, device=lengths.device)
    return (t[:, None] < lengths[None, :]).unsqueeze(-1)  # (T, B, 1)


def reverse_within_lengths(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of x (T, B, F) in time over its first ``lengths[b]`` steps.

    Padding steps stay where they are, so the reversal is its own inverse.
    """
    if lengths is None:
        return x.flip(0)
    steps = x.size(0)
    t = torch.arange(steps, device=x.device)[:, None]  # (T, 1)
    last = (lengths.to(x.device) - 1)[None, :]  # (1, B)
    index = torch.where(t <= last, last - t, t)  # (T, B)
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


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


def fused_gru(
    x: Tensor,
    h0: Tensor,
    weights: list[Tensor],
    *,
    has_bias: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
) -> tuple[Tensor, Tensor]:
    """torch's fused GRU on padded, time-major x (T, B, I) and h0 (L * D, B, H).

    ``weights`` is the flat list in ``nn.GRU``'s order (``_flat_weights``).
    Returns output (T, B, D * H) and h_n (L * D, B, H).
    """
    if x.is_cuda:
        weights = flat_weight_views(weights)
    output, h_n = torch.gru(
        x, h0, weights, has_bias, num_layers, dropout, training, bidirectional, False
    )
    return output, h_n


def fused_gru_packed(
    data: Tensor,
    batch_sizes: Tensor,
    h0: Tensor,
    weights: list[Tensor],
    *,
    has_bias: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
) -> tuple[Tensor, Tensor]:
    """torch's fused GRU on the data of a PackedSequence (used on CUDA, where cuDNN packs well)."""
    if data.is_cuda:
        weights = flat_weight_views(weights)
    output, h_n = torch.gru(
        data, batch_sizes, h0, weights, has_bias, num_layers, dropout, training, bidirectional
    )
    return output, h_n


def reconstructed_direction(
    x: Tensor, h0: Tensor, weights: list[Tensor], lengths: Tensor, *, reverse: bool
) -> tuple[Tensor, Tensor]:
    """One direction of one layer over a padded batch with lengths, by the fused operator.

    Args:
        x: (T, B, I) input, padding anywhere after each sequence's end.
        h0: (B, H) initial state.
        weights: [w_ih, w_hh] or [w_ih, w_hh, b_ih, b_hh] of this direction, dense.
        lengths: (B,) sequence lengths, each in [1, T].
        reverse: run from each sequence's last real step back to its first.

    Returns:
        output (T, B, H), garbage at padded steps, and the final state (B, H).
    """
    if reverse:
        x = reverse_within_lengths(x, lengths)
    output, _ = fused_gru(
        x, h0.unsqueeze(0), weights, has_bias=len(weights) == 4, num_layers=1,
        dropout=0.0, training=False, bidirectional=False,
    )  # (T, B, H)
    h_n = gather_last(output, lengths)  # (B, H)
    if reverse:
        output = reverse_within_lengths(output, lengths)
    return output, h_n


def gather_last(output: Tensor, lengths: Tensor) -> Tensor:
    """Each sequence's step ``lengths[b] - 1`` of output (T, B, H): shape (B, H)."""
    last = (lengths.to(output.device) - 1).view(1, -1, 1).expand(1, -1, output.size(-1))
    return output.gather(0, last).squeeze(0)


def contracted_direction(
    x: Tensor,
    h0: Tensor,
    weight_ih: FactorizedMatrix,
    weight_hh: FactorizedMatrix,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    lengths: Tensor | None,
    *,
    reverse: bool,
) -> tuple[Tensor, Tensor]:
    """One direction of one layer contracted with the factors, never forming W or U.

    Args:
        x: (T, B, I) input.
        h0: (B, H) initial state.
        weight_ih: the (3H x I) input-to-hidden matrix, gates r|z|n stacked.
        weight_hh: the (3H x H) hidden-to-hidden matrix, gates r|z|n stacked.
        bias_ih, bias_hh: (3H,) biases or None.
        lengths: (B,) sequence lengths, or None when every sequence has T steps.
        reverse: run from each sequence's last real step back to its first.

    Returns:
        output (T, B, H), garbage at padded steps, and the final state (B, H).
    """
    steps, batch, _ = x.shape
    hidden = h0.size(-1)
    gates_x = weight_ih.matmul(x.reshape(steps * batch, -1)).view(steps, batch, 3 * hidden)
    gates_x, bias_hn = _fold_biases(gates_x, bias_ih, bias_hh, hidden)  # (T, B, 3H)
    hidden_product = weight_hh.product()  # factors arranged once for all steps

    def step(gates: Tensor, state: States) -> States:
        return (_gru_step(gates, state[0], hidden_product, bias_hn),)

    output, (h_n,) = contracted_loop(gates_x, (h0,), step, lengths, reverse=reverse)
    return output, h_n


def contracted_loop(
    gates_x: Tensor,
    state: States,
    step: Callable[[Tensor, States], States],
    lengths: Tensor | None,
    *,
    reverse: bool,
) -> tuple[Tensor, States]:
    """The time loop of the contract strategy, for any cell.

    Args:
        gates_x: (T, B, G * H) input projections, biases folded in as the cell needs.
        state: the initial state, each tensor (B, H); h first.
        step: (gates_x[t], state) -> the next state.
        lengths: (B,) sequence lengths, or None when every sequence has T steps.
        reverse: run from each sequence's last real step back to its first.

    Returns:
        output (T, B, H), the h of every step (garbage at padded steps), and the final state.
    """
    steps = gates_x.size(0)
    mask = None if lengths is None else length_mask(lengths.to(gates_x.device), steps)
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    outputs: list[Tensor] = [state[0]] * steps
    for t in order:
        new = step(gates_x[t], state)
        # Steps past a sequence's end leave its state alone: forward, the final state is the one
        # at the last real step; reversed, the state stays the initial one until the last real step.
        if mask is not None:
            new = tuple(torch.where(mask[t], n, s) for n, s in zip(new, state, strict=True))
        state = new
        outputs[t] = state[0]
    return torch.stack(outputs), state


def _fold_biases(
    gates_x: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None, hidden: int
) -> tuple[Tensor, Tensor | None]:
    """Add b_ih, and the r and z parts of b_hh, to the input gates once for all steps.

    Only b_hn must stay inside the step: torch's GRU multiplies (W_hn h + b_hn) by r.
    """
    if bias_ih is not None:
        gates_x = gates_x + bias_ih
    if bias_hh is None:
        return gates_x, None
    zeros = bias_hh.new_zeros(hidden)
    gates_x = gates_x + torch.cat([bias_hh[: 2 * hidden], zeros])
    return gates_x, bias_hh[2 * hidden :]


def _gru_step(
    gates_x: Tensor, h: Tensor, hidden_product: Callable[[Tensor], Tensor], bias_hn: Tensor | None
) -> Tensor:
    """h' = (1 - z) * n + z * h with torch's gate equations; gates_x (B, 3H), h (B, H).

    ``hidden_product`` is ``h -> h @ W_hh.T`` (a format's ``product()``).
    """
    hidden = h.size(-1)
    gates_h = hidden_product(h)  # (B, 3H)
    r, z = torch.sigmoid(gates_x[:, : 2 * hidden] + gates_h[:, : 2 * hidden]).chunk(2, dim=1)
    h_n = gates_h[:, 2 * hidden :]
    if bias_hn is not None:
        h_n = h_n + bias_hn
    n = torch.tanh(torch.addcmul(gates_x[:, 2 * hidden :], r, h_n))
    return torch.lerp(n, h, z)


class GRUOps(CellOps):
    """The GRU's operations for the shared runner: state (h,), gates r|z|n."""

    name = "GRU"
    gates = 3
    num_states = 1
    gate_ops = GATE_OPS

    def fused(
        self, x: Tensor, state: States, weights: list[Tensor], *, has_bias: bool,
        num_layers: int, dropout: float, training: bool, bidirectional: bool,
    ) -> tuple[Tensor, States]:
        output, h_n = fused_gru(
            x, state[0], weights, has_bias=has_bias, num_layers=num_layers, dropout=dropout,
            training=training, bidirectional=bidirectional,
        )
        return output, (h_n,)

    def fused_packed(
        self, data: Tensor, batch_sizes: Tensor, state: States, weights: list[Tensor], *,
        has_bias: bool, num_layers: int, dropout: float, training: bool, bidirectional: bool,
    ) -> tuple[Tensor, States]:
        output, h_n = fused_gru_packed(
            data, batch_sizes, state[0], weights, has_bias=has_bias, num_layers=num_layers,
            dropout=dropout, training=training, bidirectional=bidirectional,
        )
        return output, (h_n,)

    def reconstructed_direction(
        self, x: Tensor, state: States, weights: list[Tensor], lengths: Tensor, *, reverse: bool,
        final_state: bool = True,
    ) -> tuple[Tensor, States]:
        output, h_n = reconstructed_direction(x, state[0], weights, lengths, reverse=reverse)
        return output, (h_n,)

    def contracted_direction(
        self, x: Tensor, state: States, weight_ih: FactorizedMatrix,
        weight_hh: FactorizedMatrix, bias_ih: Tensor | None, bias_hh: Tensor | None,
        lengths: Tensor | None, *, reverse: bool,
    ) -> tuple[Tensor, States]:
        output, h_n = contracted_direction(
            x, state[0], weight_ih, weight_hh, bias_ih, bias_hh, lengths, reverse=reverse
        )
        return output, (h_n,)


GRU_OPS = GRUOps()
