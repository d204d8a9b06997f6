"""Data augmentation: SpecAugment masks on features, speed perturbation on audio.

SpecAugment (Park et al., Interspeech 2019) without time warping: ``freq_masks`` bands of up to
``freq_width`` bins and ``time_masks`` spans of up to ``time_width`` of each utterance's own
length are set to 0 (the mean, after normalisation). Masks fall inside each utterance's valid
frames, so padding never hides a mask. Applied in training mode only.

Speed perturbation (Ko et al., Interspeech 2015), as Kaldi does it with sox's ``speed``: the
audio is resampled so that it plays ``factor`` times faster, changing tempo and pitch together.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deepspeech_tt.data.audio import SAMPLE_RATE, resample


class SpecAugment(nn.Module):
    """Frequency and time masks on (B, T, F) features; the identity in eval mode.

    Args:
        freq_masks: frequency bands masked per utterance.
        freq_width: the widest band, in bins (each band's width is uniform in [0, freq_width]).
        time_masks: time spans masked per utterance.
        time_width: the longest span, as a fraction of the utterance's frames.
        generator: random source; the global one when None.
    """

    def __init__(
        self,
        freq_masks: int = 2,
        freq_width: int = 27,
        time_masks: int = 2,
        time_width: float = 0.05,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if min(freq_masks, freq_width, time_masks) < 0 or not 0 <= time_width <= 1:
            raise ValueError(
                "SpecAugment needs non-negative mask counts and widths and 0 <= time_width <= 1"
            )
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width
        self.generator = generator

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        """Masked copy of ``features`` (B, T, F), with ``lengths`` (B,) valid frames each."""
        if not self.training:
            return features
        frames, bins = features.shape[1:]
        lengths = lengths.to(features.device)
        full = torch.full_like(lengths, bins)
        freq = self._spans(full, self.freq_masks, torch.full_like(lengths, self.freq_width), bins)
        widths = (lengths.float() * self.time_width).floor().long()
        time = self._spans(lengths, self.time_masks, widths, frames)
        valid = torch.arange(frames, device=features.device)[None, :] < lengths[:, None]
        masked = (freq[:, None, :] & valid[:, :, None]) | time[:, :, None]  # (B, T, F)
        return features.masked_fill(masked, 0.0)

    def _spans(self, extent: Tensor, count: int, max_width: Tensor, size: int) -> Tensor:
        """(B, size) mask of ``count`` random spans of width <= max_width inside [0, extent)."""
        batch = extent.shape[0]
        mask = torch.zeros(batch, size, dtype=torch.bool, device=extent.device)
        if count == 0:
            return mask
        shape = (batch, count)
        width = (self._uniform(shape, extent.device) * (max_width[:, None] + 1)).long()
        width = torch.minimum(width, extent[:, None])
        start = (self._uniform(shape, extent.device) * (extent[:, None] - width + 1)).long()
        steps = torch.arange(size, device=extent.device)[None, None, :]  # (1, 1, size)
        inside = (steps >= start[..., None]) & (steps < (start + width)[..., None])
        return inside.any(dim=1)

    def _uniform(self, shape: tuple[int, int], device: torch.device) -> Tensor:
        return torch.rand(shape, generator=self.generator).to(device)

    def extra_repr(self) -> str:
        return (
            f"freq_masks={self.freq_masks}, freq_width={self.freq_width}, "
            f"time_masks={self.time_masks}, time_width={self.time_width}"
        )


def speed_perturb(wave: Tensor, factor: float, sample_rate: int = SAMPLE_RATE) -> Tensor:
    """``wave`` played ``factor`` times faster: about ``len / factor`` samples, pitch shifted."""
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    if factor == 1.0:
        return wave
    return resample(wave, round(sample_rate * factor), sample_rate)
