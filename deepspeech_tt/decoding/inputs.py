"""What ``decode.py audio=...`` names, as utterances: a file, a directory, a manifest or a split.

In order of precedence::

    audio=clip.flac                 one audio file (any format and rate soundfile reads)
    audio=manifest.jsonl            a JSONL manifest (references from its "text")
    audio=data/tiny/test            a LibriSpeech split (has *.trans.txt): with references
    audio=data/tiny/kaldi/test      a Kaldi data dir (has wav.scp): with references if it has text
    audio=recordings/               any other directory: every audio file under it, no references
    audio=test                      a split of the checkpoint's training data config (dev, test,
                                    train): its cached manifest, else its directory

Decisions:

- Audio files found in a directory are named by their stem (``clip.flac`` is ``clip``). Files
  whose stems collide (``clip.mp3`` and ``clip.ogg``) are named by their file name with its
  extension instead (``clip.mp3``, ``clip.ogg``), and files whose names collide too (``a/x.wav``,
  ``b/x.wav``) by their path under the directory; whitespace in a name becomes ``_``, as ids
  are whitespace-separated in the result files. No result ever overwrites another.
- Nothing is passed over in silence: an unreadable entry, and every file of a directory that is
  not decoded (a ``.txt`` among recordings, audio a LibriSpeech split has no place for, a file
  in a Kaldi data dir that is neither Kaldi's nor listed in ``wav.scp``) is returned as a
  problem saying why, to be reported and listed. A LibriSpeech split's ``*.trans.txt`` and
  metadata files and a Kaldi data dir's own files are the corpus, not passed over.
"""

from __future__ import annotations

import re
from collections import Counter
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

KALDI_FILES = frozenset({
    "wav.scp", "text", "utt2spk", "spk2utt", "segments", "reco2file_and_channel", "utt2dur",
    "reco2dur", "utt2num_frames", "feats.scp", "cmvn.scp", "spk2gender", "utt2lang", "utt2uniq",
    "frame_shift", "vad.scp", "utt2warp", "spk2warp", "stm", "glm",
})  # fmt: skip
"""Files of a Kaldi data directory (``utils/validate_data_dir.sh`` and friends)."""

LIBRISPEECH_FILES = frozenset(
    {"README.TXT", "SPEAKERS.TXT", "CHAPTERS.TXT", "BOOKS.TXT", "LICENSE.TXT"}
)
"""Metadata files a LibriSpeech download holds besides its splits."""


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
        return _files(path.stem, [path], path.parent)
    if path.is_dir():
        return _directory(path)
    if data is not None and audio in SPLITS:
        return _split(audio, data)
    known = f" or a split name ({', '.join(SPLITS)})" if data is not None else ""
    raise DataError(f"audio={audio}: no such file or directory{known}")


def _directory(path: Path) -> DecodeInput:
    name = path.name or path.resolve().name
    if (path / "wav.scp").is_file():
        found = _checked(name, lambda problems: read_corpus(path, "kaldi", problems))
        found.problems += _passed_over(_kaldi_strays(path, found.utterances))
        return found
    if next(path.rglob("*.trans.txt"), None) is not None:
        found = _checked(name, lambda problems: read_corpus(path, "librispeech", problems))
        found.problems += _passed_over(_librispeech_strays(path))
        return found
    files = sorted(p for p in path.rglob("*") if p.is_file())
    audio = [p for p in files if _is_audio_name(p)]
    if not audio:
        raise DataError(f"{path}: no audio files, transcripts (*.trans.txt) or wav.scp in it")
    found = _files(name, audio, path)
    strays = [(p, f"not an audio file ({p.suffix or 'no extension'})") for p in files
              if not _is_audio_name(p)]  # fmt: skip
    found.problems += _passed_over(strays)
    return found


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


def _files(name: str, files: Sequence[Path], root: Path) -> DecodeInput:
    """Audio files without references; unreadable headers become problems."""
    rows, problems = [], []
    for path, utt_id in zip(files, utterance_ids(files, root), strict=True):
        try:
            duration = audio_duration(path)
        except AudioError as error:
            problems.append(audio_problem(utt_id, str(path), error))
            continue
        rows.append(Utterance(id=utt_id, audio=str(path), duration=duration, text="",
                              speaker=""))  # fmt: skip
    if not rows:
        raise DataError(f"{name}: none of its {len(files)} audio files can be read "
                        f"({problems[0]})")  # fmt: skip
    return DecodeInput(name, rows, problems)


def utterance_ids(files: Sequence[Path], root: Path) -> list[str]:
    """One distinct id per file: its stem, else its name, else its path under ``root``.

    Each file keeps the shortest of the three that no other file shares (see the module
    docstring); whitespace becomes ``_``.

    Raises:
        DataError: two files that even their paths under ``root`` cannot tell apart (names
            that differ only in whitespace), naming both.
    """
    namings: list[Callable[[Path], str]] = [
        lambda p: p.stem, lambda p: p.name, lambda p: p.relative_to(root).as_posix()
    ]  # fmt: skip
    ids = [_no_space(namings[0](p)) for p in files]
    for naming in namings[1:]:
        counts = Counter(ids)
        pairs = zip(files, ids, strict=True)
        ids = [_no_space(naming(p)) if counts[i] > 1 else i for p, i in pairs]
    counts = Counter(ids)
    clashes = [str(p) for p, i in zip(files, ids, strict=True) if counts[i] > 1]
    if clashes:
        raise DataError(f"{' and '.join(clashes[:2])}: the same utterance id; rename one")
    return ids


def _no_space(text: str) -> str:
    return re.sub(r"\s+", "_", text)


def _kaldi_strays(path: Path, rows: Sequence[Utterance]) -> list[tuple[Path, str]]:
    """Files of a Kaldi data dir that are neither Kaldi's nor audio its ``wav.scp`` lists."""
    listed = {Path(row.audio).resolve() for row in rows}
    return [(p, "neither a Kaldi data-dir file nor audio listed in wav.scp")
            for p in sorted(path.iterdir())
            if p.is_file() and p.name not in KALDI_FILES and p.resolve() not in listed]  # fmt: skip


def _librispeech_strays(path: Path) -> list[tuple[Path, str]]:
    """Files of a LibriSpeech split that the reader does not read."""
    strays = []
    for p in sorted(path.rglob("*")):
        depth = len(p.relative_to(path).parts)
        if not p.is_file() or p.name.endswith(".trans.txt") or p.name in LIBRISPEECH_FILES:
            continue
        if depth != 3 or p.suffix not in (".flac", ".wav"):
            strays.append((p, "not <speaker>/<chapter>/ audio or a *.trans.txt transcript"))
        elif p.suffix == ".wav" and p.with_suffix(".flac").is_file():
            strays.append((p, f"{p.with_suffix('.flac').name} is decoded instead"))
    return strays


def _passed_over(files: Sequence[tuple[Path, str]]) -> list[Problem]:
    return [Problem("", str(path), f"passed over: {reason}") for path, reason in files]


def _normalized(rows: Sequence[Utterance]) -> list[Utterance]:
    return [replace(row, text=normalize_transcript(row.text)) for row in rows]


def _is_audio_name(path: Path) -> bool:
    return path.suffix[1:].upper() in _SOUNDFILE_TYPES or path.suffix.lower() == ".sph"


_SOUNDFILE_TYPES = set(soundfile.available_formats())
"""File extensions libsndfile reads (WAV, FLAC, OGG, MP3...), upper case."""
