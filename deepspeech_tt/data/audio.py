"""Audio loading: any file soundfile reads (FLAC, WAV, NIST SPHERE...) becomes 16 kHz mono float.

Sources are paths or Kaldi ``wav.scp`` commands ending in ``|`` (``sph2pipe -f wav x.wv1 |``),
whose standard output is read as an audio file. Channels are averaged; other sample rates are
resampled with a Hann-windowed sinc filter (the method torchaudio calls ``sinc_interp_hann``),
so the toolkit needs neither torchaudio nor FFmpeg.
"""

from __future__ import annotations

import io
import math
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile
import torch
import torch.nn.functional as F
from torch import Tensor

from deepspeech_tt.data.errors import DataError

SAMPLE_RATE = 16_000
"""The rate every model in the toolkit hears."""


class AudioError(DataError):
    """Audio that cannot be used: names the source and the problem."""


def is_command(source: str) -> bool:
    """Whether ``source`` is a Kaldi pipe command rather than a path."""
    return source.rstrip().endswith("|")


def read_audio(
    source: str | Path,
    offset: float = 0.0,
    duration: float | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> Tensor:
    """Samples of ``source`` as a float32 tensor of shape (S,), mono, at ``sample_rate``.

    Args:
        source: a file path, or a shell command ending in ``|`` that writes audio to stdout.
        offset: where to start, in seconds.
        duration: how much to read, in seconds; ``None`` reads to the end.
        sample_rate: the rate to return.

    Raises:
        AudioError: the source is missing, cannot be decoded, or holds no samples.
    """
    source = str(source)
    data, rate = _decode(source, offset, duration)
    if data.shape[0] == 0:
        raise AudioError(f"{source}: no samples" + (f" after {offset:.2f} s" if offset else ""))
    wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1, dtype=np.float32)))
    if not torch.isfinite(wave).all():
        raise AudioError(f"{source}: samples that are not finite numbers")
    return resample(wave, rate, sample_rate)


def audio_duration(source: str | Path) -> float:
    """Length of ``source`` in seconds, from its header where possible (no full decode)."""
    source = str(source)
    if is_command(source):
        data, rate = _decode(source)
        return data.shape[0] / rate
    try:
        info = soundfile.info(source)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{source}: cannot be read ({_reason(error)})") from None
    return info.frames / info.samplerate


def _decode(
    source: str, offset: float = 0.0, duration: float | None = None
) -> tuple[np.ndarray, int]:
    """(samples (S, C) float32, sample rate) of a path or a pipe command, from ``offset`` on.

    Files are read from ``offset`` only (a seek, not a full decode), so that many short
    segments of one long recording stay cheap; a command's output is decoded whole.
    """
    if is_command(source):
        data, rate = _decode_bytes(_run_command(source), source)
        return data[_span(offset, duration, rate)], rate
    if not Path(source).is_file():
        raise AudioError(f"{source}: no such file")
    try:
        with soundfile.SoundFile(source) as f:
            span = _span(offset, duration, f.samplerate)
            start = min(span.start or 0, f.frames)
            f.seek(start)
            frames = -1 if span.stop is None else max(span.stop - start, 0)
            return f.read(frames, dtype="float32", always_2d=True), f.samplerate
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{source}: cannot be decoded ({_reason(error)})") from None


def _span(offset: float, duration: float | None, rate: int) -> slice:
    start = int(round(offset * rate))
    return slice(start, None if duration is None else start + int(round(duration * rate)))


def _run_command(command: str) -> bytes:
    result = subprocess.run(
        command.rstrip().removesuffix("|"), shell=True, capture_output=True, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {result.returncode}"
        raise AudioError(f"{command}: the command failed ({detail})")
    return result.stdout


def _decode_bytes(payload: bytes, source: str) -> tuple[np.ndarray, int]:
    if not payload:
        raise AudioError(f"{source}: the command wrote no audio")
    try:
        data, rate = soundfile.read(io.BytesIO(payload), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{source}: output cannot be decoded ({_reason(error)})") from None
    return data, rate


def _reason(error: Exception) -> str:
    return str(error).split(": ")[-1] or type(error).__name__


def resample(wave: Tensor, orig_freq: int, new_freq: int) -> Tensor:
    """Resample the last axis of ``wave`` from ``orig_freq`` to ``new_freq`` Hz.

    A polyphase Hann-windowed sinc filter (6 zero crossings, roll-off 0.99), as in
    torchaudio's default; the output has ``ceil(S * new_freq / orig_freq)`` samples.
    """
    if orig_freq <= 0 or new_freq <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_freq} and {new_freq}")
    if orig_freq == new_freq:
        return wave
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    kernel, width = _sinc_kernel(orig, new)
    shape, length = wave.shape[:-1], wave.shape[-1]
    x = wave.reshape(-1, 1, length)  # (B, 1, S)
    x = F.pad(x, (width, width + orig))
    y = F.conv1d(x, kernel.to(wave.dtype), stride=orig)  # (B, new, S / orig)
    y = y.transpose(1, 2).reshape(x.shape[0], -1)
    return y[:, : math.ceil(new * length / orig)].reshape(*shape, -1)


@lru_cache(maxsize=16)
def _sinc_kernel(
    orig: int, new: int, zero_crossings: int = 6, rolloff: float = 0.99
) -> tuple[Tensor, int]:
    """Filter bank (new, 1, 2 * width + orig) of the polyphase resampler, and its half width."""
    base = min(orig, new) * rolloff
    width = math.ceil(zero_crossings * orig / base)
    taps = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = (torch.arange(0, -new, -1, dtype=torch.float64)[:, None, None] / new + taps) * base
    t = t.clamp(-zero_crossings, zero_crossings)
    window = torch.cos(t * math.pi / zero_crossings / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t)
    return (sinc * window * base / orig).float(), width
