import math
import shlex
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from deepspeech_tt.data.audio import AudioError, audio_duration, read_audio, resample


def _tone(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * math.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_any_rate_reads_as_16k(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "tone.wav"
    soundfile.write(path, _tone(rate, 1.0), rate)
    wave = read_audio(path)
    assert wave.dtype == torch.float32 and wave.shape == (16000,)
    expected = torch.from_numpy(_tone(16000, 1.0))
    assert (wave - expected)[100:-100].abs().max() < 2e-3  # band-limited tone survives


def test_channels_are_averaged(tmp_path: Path) -> None:
    left, right = _tone(16000, 0.5, 300), _tone(16000, 0.5, 700)
    path = tmp_path / "stereo.flac"
    soundfile.write(path, np.stack([left, right], axis=1), 16000)
    wave = read_audio(path).numpy()
    np.testing.assert_allclose(wave, (left + right) / 2, atol=1e-4)  # FLAC is 16-bit


def test_sphere_and_offsets(tmp_path: Path) -> None:
    tone = _tone(16000, 2.0)
    path = tmp_path / "x.sph"
    soundfile.write(path, tone, 16000, format="NIST", subtype="PCM_16")
    assert audio_duration(path) == pytest.approx(2.0)
    part = read_audio(path, offset=0.5, duration=1.0).numpy()
    np.testing.assert_allclose(part, tone[8000:24000], atol=1e-4)


def test_pipe_command(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    soundfile.write(path, _tone(8000, 0.5), 8000)
    wave = read_audio(f"cat {shlex.quote(str(path))} |")
    torch.testing.assert_close(wave, read_audio(path))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b"this is not audio at all" * 10), "cannot be decoded"),
        (lambda p: soundfile.write(p, np.zeros(0, np.float32), 16000), "no samples"),
    ],
)
def test_bad_files_name_the_file_and_problem(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=message) as error:
        read_audio(path)
    assert str(path) in str(error.value)


def test_failing_command(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="the command failed"):
        read_audio(f"cat {tmp_path}/missing.wav |")


def test_resample_keeps_length_rule_and_batch_shape() -> None:
    wave = torch.randn(2, 3, 22050)
    out = resample(wave, 22050, 16000)
    assert out.shape == (2, 3, 16000)
    torch.testing.assert_close(out[1, 2], resample(wave[1, 2], 22050, 16000))
