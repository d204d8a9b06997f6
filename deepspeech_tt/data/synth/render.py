"""One speaker's recordings: eSpeak speech, resampled to 16 kHz, with gain, padding and noise.

``render_speaker`` runs in a fresh process per speaker (see ``espeak``: the engine keeps state
between sentences), so a speaker's audio depends only on its ``SpeakerTask``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch

from deepspeech_tt.data.audio import SAMPLE_RATE, resample
from deepspeech_tt.data.synth.espeak import Voice, engine
from deepspeech_tt.data.text import normalize_transcript

LEVEL_DBFS = (-32.0, -18.0)  # RMS level of the speech
SNR_DB = (25.0, 40.0)  # white noise under it
PAD_SECONDS = (0.05, 0.3)  # silence (with noise) before and after


@dataclass(frozen=True)
class SpeakerTask:
    """What one speaker says: sentences in order, until a duration or a count is reached."""

    split_dir: Path  # where <speaker>/<chapter>/ goes
    speaker: int
    chapters: tuple[int, int]  # the first half of the recordings goes in the first
    voice: Voice
    sentences: tuple[str, ...]  # candidates, said in this order
    seed: int
    seconds: float | None = None  # stop near this much audio...
    count: int | None = None  # ...or after this many recordings


@dataclass(frozen=True)
class Recording:
    id: str  # "<speaker>-<chapter>-<index:04d>"
    speaker: int
    chapter: int
    path: Path  # the FLAC file
    sentence: str  # as spoken, with its punctuation
    transcript: str  # normalised
    seconds: float


def render_speaker(task: SpeakerTask) -> list[Recording]:
    """Say ``task.sentences`` in order with ``task.voice`` and write one FLAC file each.

    In duration mode a sentence is kept while the total stays nearer ``task.seconds`` with it
    than without it (at least one is kept); in count mode the first ``task.count`` are kept.
    """
    torch.set_num_threads(1)  # one process per core is the parallelism
    rng = np.random.default_rng(task.seed)
    recordings: list[Recording] = []
    per_chapter = dict.fromkeys(task.chapters, 0)
    total = 0.0
    for sentence in task.sentences:
        if task.count is not None and len(recordings) >= task.count:
            break
        wave = _degrade(_speak(sentence, task.voice, rng), rng)
        seconds = wave.shape[0] / SAMPLE_RATE
        if task.seconds is not None and recordings and total + seconds / 2 > task.seconds:
            break
        chapter = task.chapters[0 if _first_half(task, len(recordings), total) else 1]
        recordings.append(_write(task, chapter, per_chapter[chapter], sentence, wave))
        per_chapter[chapter] += 1
        total += seconds
    return recordings


def _first_half(task: SpeakerTask, index: int, seconds_so_far: float) -> bool:
    if task.count is not None:
        return index < math.ceil(task.count / 2)
    return seconds_so_far < (task.seconds or 0.0) / 2


def _speak(sentence: str, voice: Voice, rng: np.random.Generator) -> np.ndarray:
    """eSpeak's speech at 16 kHz, float32 in [-1, 1]."""
    espeak = engine()
    samples = espeak.synthesize(sentence, voice, seed=int(rng.integers(2**31)))
    wave = torch.from_numpy(samples.astype(np.float32) / 32768.0)
    return resample(wave, espeak.sample_rate, SAMPLE_RATE).numpy()


def _degrade(speech: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random level, silence either side and white noise at a random SNR (float32)."""
    speech_rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64)))) or 1.0
    level = 10 ** (rng.uniform(*LEVEL_DBFS) / 20)
    before, after = (int(rng.uniform(*PAD_SECONDS) * SAMPLE_RATE) for _ in range(2))
    wave = np.pad(speech * (level / speech_rms), (before, after))
    noise_rms = level / 10 ** (rng.uniform(*SNR_DB) / 20)
    wave = wave + noise_rms * rng.standard_normal(wave.shape[0])
    peak = float(np.abs(wave).max())
    if peak > 0.99:
        wave *= 0.99 / peak
    return wave.astype(np.float32)


def _write(
    task: SpeakerTask, chapter: int, index: int, sentence: str, wave: np.ndarray
) -> Recording:
    utterance_id = f"{task.speaker}-{chapter}-{index:04d}"
    path = task.split_dir / str(task.speaker) / str(chapter) / f"{utterance_id}.flac"
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, wave, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return Recording(
        id=utterance_id,
        speaker=task.speaker,
        chapter=chapter,
        path=path,
        sentence=sentence,
        transcript=normalize_transcript(sentence),
        seconds=wave.shape[0] / SAMPLE_RATE,
    )
