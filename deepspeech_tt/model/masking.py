"""Lengths of padded batches: checking them and masking the frames beyond them.

Every module of the model takes a padded batch and its lengths, and keeps one invariant: frames
beyond an utterance's length are zero where the next module reads them, so that a padded batch
gives each utterance exactly what it gets alone (a convolution then sees the same zeros as its
own zero padding).
"""

from __future__ import annotations

import torch
from torch import Tensor


def frame_mask(lengths: Tensor, steps: int) -> Tensor:
    """True where frame t lies inside utterance b: shape (B, T)."""
    t = torch.arange(steps, device=lengths.device)
    return t[None, :] < lengths[:, None]  # (B, T)


def mask_frames(x: Tensor, lengths: Tensor, time_dim: int = 1) -> Tensor:
    """x with every frame beyond its utterance's length set to zero.

    Args:
        x: a batch whose dimension 0 is the batch and ``time_dim`` the time, e.g. (B, T, F).
        lengths: (B,) valid frames of each utterance.
        time_dim: the time dimension of x.
    """
    mask = frame_mask(lengths, x.size(time_dim))  # (B, T)
    shape = [1] * x.dim()
    shape[0], shape[time_dim] = mask.shape
    return x.masked_fill(~mask.view(shape), 0.0)


def check_lengths(lengths: Tensor, batch: int, steps: int, device: torch.device) -> Tensor:
    """``lengths`` as int64 on ``device``; a ValueError unless it holds B values in [1, T]."""
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (batch,) or lengths.is_floating_point() or lengths.is_complex():
        raise ValueError(
            f"lengths must hold one integer per utterance, {batch} in all; got "
            f"{lengths.dtype} of shape {tuple(lengths.shape)}"
        )
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > steps):
        raise ValueError(
            f"lengths must lie in [1, {steps}] (the padded number of frames); got "
            f"{int(lengths.min())}..{int(lengths.max())}"
        )
    return lengths.to(device=device, dtype=torch.int64)
