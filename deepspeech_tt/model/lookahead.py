"""DeepSpeech2's lookahead ("row") convolution for unidirectional, streaming models.

Amodei et al. (2016), section 3.5: after forward-only recurrent layers, each feature i of the
output at step t mixes that feature over a fixed future context of tau steps,

    y[t, i] = sum_{j=0..tau} W[i, j] x[t + j, i],

so the model sees tau frames ahead at the cost of tau frames of latency, and stays causal
beyond them.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from deepspeech_tt.model.masking import mask_frames


class Lookahead(nn.Module):
    """Row convolution over ``context`` future frames, one filter per feature.

    Args:
        num_features: features of each frame (each has its own filter).
        context: tau, future frames each output mixes in (at least 1).

    Shape:
        x: (B, T, num_features), lengths: (B,) -> (B, T, num_features), lengths.
    """

    def __init__(self, num_features: int, context: int) -> None:
        super().__init__()
        if context < 1:
            raise ValueError(f"lookahead context must be at least 1 frame, got {context}")
        self.context = context
        # Depthwise: groups=num_features gives one (context + 1)-tap filter per feature.
        self.conv = nn.Conv1d(
            num_features, num_features, context + 1, groups=num_features, bias=False
        )

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = mask_frames(x, lengths)  # the future beyond an utterance's end is zero
        x = F.pad(x.transpose(1, 2), (0, self.context))  # (B, F, T + tau)
        return self.conv(x).transpose(1, 2), lengths  # (B, T, F)
