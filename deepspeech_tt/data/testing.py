"""Small, real corpora on disk for tests: dummy recordings in the layouts the readers take.

Like lhotse's ``testing`` helpers, these live in the package so that tests of every part (and
users' own tests) can build a corpus in a temporary directory without a download.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import soundfile

from deepspeech_tt.data.manifest import Utterance


def write_dummy_audio(
    path: str | Path,
    seconds: float = 1.0,
    sample_rate: int = 16_000,
    channels: int = 1,
    seed: int = 0,
) -> Path:
    """Write a deterministic tone-plus-noise recording; the format follows the suffix.

    Args:
        path: where to write (``.flac``, ``.wav``, ``.sph``...; parents are created).
        seconds: length; ``0`` writes a valid file with no samples.
        sample_rate: samples per second.
        channels: number of channels (each a different tone).
        seed: seeds the noise, so the same arguments give the same samples.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    tones = [
        0.3 * np.sin(2 * math.pi * (220.0 + 110.0 * c + 10.0 * seed) * t) for c in range(channels)
    ]
    noise = np.random.default_rng(seed).normal(0.0, 0.01, size=(t.size, channels))
    samples = (np.stack(tones, axis=1) + noise).astype(np.float32)
    subtype = "PCM_16" if path.suffix.lower() in {".sph", ".nist"} else None
    soundfile.write(path, samples, sample_rate, subtype=subtype)
    return path


def write_librispeech_split(
    split_dir: str | Path,
    transcripts: Mapping[str, str],
    seconds: float = 0.5,
    suffix: str = ".flac",
) -> list[Path]:
    """Write a LibriSpeech split holding ``transcripts`` ({"<spk>-<chap>-<n>": text}).

    Utterance ``i`` (in id order) lasts ``seconds + 0.1 * i`` seconds, so durations differ.

    Returns:
        The audio paths, in id order.
    """
    split_dir = Path(split_dir)
    paths: list[Path] = []
    chapters: dict[Path, list[str]] = {}
    for i, utt_id in enumerate(sorted(transcripts)):
        speaker, chapter, _ = utt_id.split("-")
        folder = split_dir / speaker / chapter
        paths.append(write_dummy_audio(folder / f"{utt_id}{suffix}", seconds + 0.1 * i, seed=i))
        chapters.setdefault(folder / f"{speaker}-{chapter}.trans.txt", []).append(utt_id)
    for trans, ids in chapters.items():
        trans.write_text("".join(f"{u} {transcripts[u]}\n" for u in ids), encoding="utf-8")
    return paths


def write_kaldi_dir(data_dir: str | Path, rows: Iterable[Utterance]) -> Path:
    """Write ``wav.scp``, ``text``, ``utt2spk`` and ``spk2utt`` for whole-recording ``rows``."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda row: row.id)
    speakers: dict[str, list[str]] = {}
    for row in rows:
        speakers.setdefault(row.speaker, []).append(row.id)
    tables = {
        "wav.scp": [f"{r.id} {r.audio}" for r in rows],
        "text": [f"{r.id} {r.text}" for r in rows],
        "utt2spk": [f"{r.id} {r.speaker}" for r in rows],
        "spk2utt": [f"{s} {' '.join(ids)}" for s, ids in sorted(speakers.items())],
    }
    for name, lines in tables.items():
        (data_dir / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return data_dir
