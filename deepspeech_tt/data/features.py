"""Acoustic features as an ``nn.Module``, so that they run on the training device.

Two kinds, both from a short-time Fourier transform with a 20 ms Hamming window (symmetric,
as scipy's) and a 10 ms hop:

* ``logspec``: DeepSpeech2's log-spectrogram, ``log(1 + |STFT|)`` (Amodei et al. 2016; the
  magnitude, as deepspeech.pytorch computes it), FFT size = window (320 points -> 161 bins);
* ``logmel``: ``log(mel power + 1e-6)`` with an HTK-scale triangular filterbank, 0 Hz to
  Nyquist, unnormalised triangles, on a zero-padded FFT of the next power of two (512 points),
  as Kaldi does: with 161 bins the lowest of 80 bands would fall between two bins and be empty.

Frames are not centred (``center=False``): frame t covers samples [t*hop, t*hop + window), so an
utterance of S samples has ``1 + (S - window) // hop`` frames (0 when S < window) and its
features do not depend on how much padding follows it. Frames past an utterance's length are
set to 0 after normalisation.

Normalisation: ``global`` subtracts a per-bin mean and divides by a per-bin standard deviation
computed once on training audio (``fit_normalization``) and kept in buffers, so checkpoints
carry them; ``utterance`` uses each utterance's own per-bin statistics over its valid frames;
``none`` leaves the log features as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from deepspeech_tt.data.audio import SAMPLE_RATE

KINDS = ("logspec", "logmel")
NORMALIZATIONS = ("global", "utterance", "none")
_MEL_FLOOR = 1e-6
_STD_FLOOR = 1e-5


class FeatureExtractor(nn.Module):
    """Log-spectrogram or log-mel features of padded audio batches.

    Args:
        kind: ``"logspec"`` or ``"logmel"``.
        sample_rate: the audio's rate in Hz.
        window_ms: analysis window length in milliseconds.
        hop_ms: frame shift in milliseconds.
        n_mels: mel bands (``logmel`` only).
        normalize: ``"global"``, ``"utterance"`` or ``"none"``.
    """

    window: Tensor  # (window,)
    filterbank: Tensor  # (n_freqs, n_mels), logmel only
    mean: Tensor  # (F,) global normalisation statistics
    std: Tensor  # (F,)
    fitted_frames: Tensor  # () frames the statistics were fitted on; 0 = not fitted

    def __init__(
        self,
        kind: str = "logspec",
        sample_rate: int = SAMPLE_RATE,
        window_ms: float = 20.0,
        hop_ms: float = 10.0,
        n_mels: int = 80,
        normalize: str = "global",
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown feature kind {kind!r}; choose one of {KINDS}")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {normalize!r}; choose one of {NORMALIZATIONS}")
        self.kind, self.normalize = kind, normalize
        self.sample_rate = sample_rate
        self.win_length = round(sample_rate * window_ms / 1000)
        self.hop_length = round(sample_rate * hop_ms / 1000)
        if not 0 < self.hop_length <= self.win_length:
            raise ValueError(f"need 0 < hop ({hop_ms} ms) <= window ({window_ms} ms)")
        # DeepSpeech2's spectrogram uses the window length as FFT size; the mel filterbank a
        # power of two (Kaldi's choice), so that no narrow low band falls between two bins.
        self.n_fft = (
            self.win_length if kind == "logspec" else 1 << (self.win_length - 1).bit_length()
        )
        n_freqs = self.n_fft // 2 + 1
        self.register_buffer("window", torch.hamming_window(self.win_length, periodic=False))
        if kind == "logmel":
            fbank = mel_filterbank(n_freqs, n_mels, sample_rate)
            self.register_buffer("filterbank", fbank)  # (n_freqs, n_mels)
        self.feature_dim = n_mels if kind == "logmel" else n_freqs
        self.register_buffer("mean", torch.zeros(self.feature_dim))
        self.register_buffer("std", torch.ones(self.feature_dim))
        self.register_buffer("fitted_frames", torch.zeros((), dtype=torch.long))

    def num_frames(self, num_samples: Tensor | int) -> Tensor | int:
        """Frames of an utterance of ``num_samples`` samples (0 when shorter than a window)."""
        if isinstance(num_samples, Tensor):
            frames = torch.div(
                num_samples - self.win_length, self.hop_length, rounding_mode="floor"
            )
            return (frames + 1).clamp(min=0)
        return max(0, 1 + (num_samples - self.win_length) // self.hop_length)

    def forward(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Features of ``audio`` (B, S) with ``lengths`` (B,) samples -> ((B, T, F), (B,))."""
        features, frame_lengths = self.raw(audio, lengths)
        mask = _frame_mask(frame_lengths, features.shape[1])  # (B, T, 1)
        if self.normalize == "global":
            if not self.fitted_frames:
                raise RuntimeError(
                    "global feature normalisation has no statistics: call fit_normalization "
                    "on training audio first (or use normalize='utterance')"
                )
            features = (features - self.mean) / self.std
        elif self.normalize == "utterance":
            features = _normalize_each(features, mask, frame_lengths)
        return features.masked_fill(~mask, 0.0), frame_lengths

    def raw(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Unnormalised log features (B, T, F) and frame counts (B,), in float32."""
        with torch.autocast(audio.device.type, enabled=False):
            audio = audio.float()
            if audio.shape[-1] < self.win_length:  # not one whole frame in the batch
                audio = nn.functional.pad(audio, (0, self.win_length - audio.shape[-1]))
            frames = audio.unfold(-1, self.win_length, self.hop_length)  # (B, T, window)
            spec = torch.fft.rfft(frames * self.window, n=self.n_fft).abs()  # (B, T, F)
            if self.kind == "logspec":
                features = torch.log1p(spec)
            else:
                features = torch.log(spec.square() @ self.filterbank + _MEL_FLOOR)
        frame_lengths = self.num_frames(lengths.to(audio.device))
        assert isinstance(frame_lengths, Tensor)
        return features, frame_lengths

    @torch.no_grad()
    def fit_normalization(self, batches: Iterable[tuple[Tensor, Tensor]]) -> int:
        """Fit the global mean and std on (audio (B, S), lengths (B,)) batches; frames counted."""
        total = torch.zeros(self.feature_dim, dtype=torch.float64)
        square = torch.zeros(self.feature_dim, dtype=torch.float64)
        count = 0
        for audio, lengths in batches:
            features, frame_lengths = self.raw(audio.to(self.window.device), lengths)
            valid = features[_frame_mask(frame_lengths, features.shape[1]).squeeze(-1)]
            valid = valid.double().cpu()  # (N, F)
            total += valid.sum(0)
            square += valid.square().sum(0)
            count += valid.shape[0]
        if count == 0:
            raise ValueError("no frames to fit the feature normalisation on")
        mean = total / count
        std = (square / count - mean.square()).clamp(min=0).sqrt().clamp(min=_STD_FLOOR)
        self.mean.copy_(mean.float())
        self.std.copy_(std.float())
        self.fitted_frames.fill_(count)
        return count

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind!r}, feature_dim={self.feature_dim}, window={self.win_length}, "
            f"hop={self.hop_length}, normalize={self.normalize!r}"
        )


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int) -> Tensor:
    """HTK-scale triangular filters (n_freqs, n_mels) from 0 Hz to Nyquist, peak 1."""
    if n_mels < 1:
        raise ValueError(f"n_mels must be positive, got {n_mels}")
    nyquist = sample_rate / 2
    mels = torch.linspace(0.0, _hz_to_mel(nyquist), n_mels + 2, dtype=torch.float64)
    edges = 700.0 * (torch.pow(10.0, mels / 2595.0) - 1.0)  # (n_mels + 2,) in Hz
    freqs = torch.linspace(0.0, nyquist, n_freqs, dtype=torch.float64)[:, None]  # (n_freqs, 1)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    fbank = torch.minimum(rising, falling).clamp(min=0)
    empty = (fbank.sum(0) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"{n_mels} mel bands are too many for {n_freqs} frequency bins: bands {empty} "
            "cover no bin; use fewer bands or a longer window"
        )
    return fbank.float()


def _hz_to_mel(hz: float) -> float:
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def _frame_mask(frame_lengths: Tensor, frames: int) -> Tensor:
    """(B, T, 1) True on each utterance's valid frames."""
    steps = torch.arange(frames, device=frame_lengths.device)
    return (steps[None, :] < frame_lengths[:, None])[..., None]


def _normalize_each(features: Tensor, mask: Tensor, frame_lengths: Tensor) -> Tensor:
    """Per-utterance, per-bin mean and std over valid frames only."""
    count = frame_lengths.clamp(min=1).to(features.dtype)[:, None, None]  # (B, 1, 1)
    masked = features.masked_fill(~mask, 0.0)
    mean = masked.sum(1, keepdim=True) / count
    var = ((features - mean).masked_fill(~mask, 0.0).square().sum(1, keepdim=True)) / count
    return (features - mean) / var.sqrt().clamp(min=_STD_FLOOR)
