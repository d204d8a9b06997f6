"""What ``decode.py audio=...`` names, as utterances: a file, a directory, a manifest or a split.

In order of precedence::

    audio=clip.flac                 one audio file (any format and rate soundfile reads)
    audio=manifest.jsonl            a JSONL manifest (references from its "text")
    audio=data/tiny/test            a LibriSpeech split (has *.trans.txt): with references
    audio=data/tiny/kaldi/test      a Kaldi data dir (has wav.scp): with references if it has text
    audio=recordings/               any other directory: every audio file under it, no references
    audio=test                      a split of the checkpoint's training data config (dev, test,
                                    train): its cached manifest, else its directory

Unreadable entries are returned as problems, to be reported and skipped, not raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import soundfile
from omegaconf import DictConfig

from deepspeech_tt.data.audio import AudioError, audio_duration
from deepspeech_tt.data.errors import DataError, Problem, audio_problem
from deepspeech_tt.data.manifest import Utterance, read_manifest
from deepspeech_tt.data.prepare import read_corpus, read_jsonl
from deepspeech_tt.data.text import normalize_transcript

SPLITS = ("train", "dev", "test")


@dataclass
class DecodeInput:
    """Utterances to decode, under a name used in the result files."""

    name: str  # e.g. "test", "clip", "recordings"
    utterances: list[Utterance]
    problems: list[Problem] = field(default_factory=list)  # skipped entries and why

    @property
    def has_references(self) -> bool:
        return any(row.text for row in self.utterances)


def find_utterances(audio: str, data: DictConfig | None = None) -> DecodeInput:
    """The utterances ``audio`` names (see the module docstring).

    Args:
        audio: a path, or a split name of ``data``.
        data: the checkpoint's ``data`` config, for split names.

    Raises:
        DataError: nothing by that name, or a corpus that cannot be read at all.
    """
    path = Path(audio)
    if path.is_file():
        if path.suffix == ".jsonl":
            return _checked(path.stem, lambda problems: read_jsonl(path, problems))
        return _files(path.stem, [path])
    if path.is_dir():
        return _directory(path)
    if data is not None and audio in SPLITS:
        return _split(audio, data)
    known = f" or a split name ({', '.join(SPLITS)})" if data is not None else ""
    raise DataError(f"audio={audio}: no such file or directory{known}")


def _directory(path: Path) -> DecodeInput:
    name = path.name or path.resolve().name
    if (path / "wav.scp").is_file():
        return _checked(name, lambda problems: read_corpus(path, "kaldi", problems))
    if next(path.rglob("*.trans.txt"), None) is not None:
        return _checked(name, lambda problems: read_corpus(path, "librispeech", problems))
    files = sorted(p for p in path.rglob("*") if p.is_file() and _is_audio_name(p))
    if not files:
        raise DataError(f"{path}: no audio files, transcripts (*.trans.txt) or wav.scp in it")
    return _files(name, files)


def _split(split: str, data: DictConfig) -> DecodeInput:
    """A split of the training config: the manifests training cached, or the corpus itself."""
    parts: Sequence[str] = data[split]
    cache = Path(data.manifest_dir) if data.manifest_dir else Path(data.root) / "manifests"
    rows: list[Utterance] = []
    problems: list[Problem] = []
    for part in parts:
        manifest = cache / f"{part.replace('/', '_')}.jsonl"
        if manifest.is_file():
            rows.extend(read_manifest(manifest))
        else:
            rows.extend(read_corpus(Path(data.root) / part, data.format, problems))
    if not rows:
        raise DataError(f"split {split!r} ({', '.join(parts)} under {data.root}) has no utterances")
    return DecodeInput(split, _normalized(rows), problems)


def _checked(name: str, read: Callable[[list[Problem]], list[Utterance]]) -> DecodeInput:
    problems: list[Problem] = []
    rows = read(problems)
    if not rows:
        detail = f": {problems[0]}" if problems else ""
        raise DataError(f"{name}: no usable utterances{detail}")
    return DecodeInput(name, _normalized(rows), problems)


def _files(name: str, files: Sequence[Path]) -> DecodeInput:
    """Audio files without references; unreadable headers become problems."""
    rows, problems = [], []
    for path in files:
        try:
            duration = audio_duration(path)
        except AudioError as error:
            problems.append(audio_problem(path.stem, str(path), error))
            continue
        rows.append(Utterance(id=path.stem, audio=str(path), duration=duration, text="",
                              speaker=""))  # fmt: skip
    if not rows:
        raise DataError(f"{name}: none of its {len(files)} audio files can be read "
                        f"({problems[0]})")  # fmt: skip
    return DecodeInput(name, rows, problems)


def _normalized(rows: Sequence[Utterance]) -> list[Utterance]:
    return [replace(row, text=normalize_transcript(row.text)) for row in rows]


def _is_audio_name(path: Path) -> bool:
    return path.suffix[1:].upper() in _SOUNDFILE_TYPES or path.suffix.lower() == ".sph"


_SOUNDFILE_TYPES = set(soundfile.available_formats())
"""File extensions libsndfile reads (WAV, FLAC, OGG, MP3...), upper case."""
