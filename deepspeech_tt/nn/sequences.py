"""Padded, time-major batches with lengths, run without packing: masks, reversal, the time loop.

A recurrent layer here runs each direction over the padded batch x (T, B, F) with lengths (B,),
the backward one on each sequence reversed within its own length. Padding at the end of a
sequence cannot reach earlier steps of a forward recurrence, so this gives exactly the packed
result, and its backward pass is about twice as fast as packed sequences on CPU (measured:
110 ms against 200 ms for a BiGRU-256, T=100, B=8, fp32, one thread).

These helpers serve every cell (``deepspeech_tt.nn.cells``): states are tuples of (B, H)
tensors per direction, h first.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

States = tuple[Tensor, ...]
"""A recurrent state: (h,) for the GRU, (h, c) for the LSTM, each (..., B, H)."""


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


def gather_last(output: Tensor, lengths: Tensor) -> Tensor:
    """Each sequence's step ``lengths[b] - 1`` of output (T, B, H): shape (B, H)."""
    last = (lengths.to(output.device) - 1).view(1, -1, 1).expand(1, -1, output.size(-1))
    return output.gather(0, last).squeeze(0)


def contracted_loop(
    gates_x: Tensor,
    state: States,
    step: Callable[[Tensor, States], States],
    lengths: Tensor | None,
    *,
    reverse: bool,
) -> tuple[Tensor, States]:
    """The time loop of one direction, for any cell.

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
