"""Sequence-wise batch normalisation over the valid frames of a padded batch.

DeepSpeech2 (Amodei et al., 2016, section 3.2) normalises each feature over the minibatch and
over time, "sequence-wise". Over a padded batch the padding would enter the statistics, so a
batch's mean and variance would depend on how it was padded; here only the frames inside each
utterance are normalised, and padded frames come out zero.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deepspeech_tt.model.masking import frame_mask


class SequenceBatchNorm(nn.Module):
    """``nn.BatchNorm1d`` over the valid frames of a padded (B, T, C, ...) batch.

    Statistics (and the running estimates) are taken over the valid frames of every utterance
    and, for inputs with trailing dimensions, over those too: per channel C.

    Args:
        num_features: C, the channels normalised separately.
        eps: added to the variance, as in ``nn.BatchNorm1d``.
        momentum: of the running estimates, as in ``nn.BatchNorm1d``.

    Shape:
        x: (B, T, C) or (B, T, C, L); lengths: (B,). Output: like x, zero beyond each length.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(num_features, eps=eps, momentum=momentum)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        mask = frame_mask(lengths, x.size(1))  # (B, T)
        valid = self.norm(x[mask])  # (N, C) or (N, C, L): the valid frames only
        return torch.zeros_like(x).index_put((mask,), valid)
