"""Reader for one LibriSpeech split, such as ``LibriSpeech/train-clean-100``.

The layout (Panayotov et al., ICASSP 2015)::

    <split>/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac
    <split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt   # "<utt-id> <TRANSCRIPT>" lines

The reader takes one split directory, not the root of a download that holds several: mixing
training and test splits by accident is worse than typing one more path component. Given a
root, it fails and names the split directories it found.
"""

from __future__ import annotations

import os
from pathlib import Path

from deepspeech_tt.data.audio import AudioError, audio_duration
from deepspeech_tt.data.errors import DataError, Problem, audio_problem, report
from deepspeech_tt.data.manifest import Utterance
from deepspeech_tt.data.text import normalize_transcript

AUDIO_SUFFIXES = (".flac", ".wav")
"""Audio file types looked for next to a transcript, in order of preference."""


def read_librispeech(
    split_dir: str | Path, problems: list[Problem] | None = None
) -> list[Utterance]:
    """The utterances of a LibriSpeech split, sorted by id.

    Audio paths are absolute; durations come from the file headers; transcripts are
    normalised with ``normalize_transcript``; the speaker is the first field of the id.

    Args:
        split_dir: the directory holding ``<speaker>/<chapter>/`` directories.
        problems: where to record unusable utterances (a transcript line without audio, audio
            without a transcript line, an unreadable header); they are left out. Without a
            list, the first problem raises.

    Raises:
        DataError: ``split_dir`` is not a split directory, or (without ``problems``) the first
            unusable utterance.
    """
    split_dir = Path(os.path.abspath(split_dir))
    rows: list[Utterance] = []
    for chapter in _chapter_dirs(split_dir):
        rows.extend(_read_chapter(chapter, problems))
    return sorted(rows, key=lambda row: row.id)


def split_files(split_dir: str | Path) -> list[Path]:
    """The transcripts and audio files of a split, sorted: what ``read_librispeech`` reads.

    Raises:
        DataError: ``split_dir`` is not a directory, or holds no chapter directories.
    """
    split_dir = Path(os.path.abspath(split_dir))
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: no such directory")
    files = sorted(p for p in split_dir.glob("*/*/*") if _is_transcript(p) or _is_audio(p))
    if not files:
        raise DataError(f"{split_dir}: {_why_no_chapters(split_dir)}")
    return files


def transcript_file(split_dir: str | Path, row: Utterance) -> str:
    """The ``<speaker>-<chapter>.trans.txt`` that holds ``row``'s transcript."""
    return str(Path(row.audio).parent / f"{row.id.rsplit('-', 1)[0]}.trans.txt")


def _chapter_dirs(split_dir: Path) -> list[Path]:
    return sorted({p.parent for p in split_files(split_dir)})


def _why_no_chapters(split_dir: Path) -> str:
    found = sorted({str(p.parents[2]) for p in split_dir.rglob("*.trans.txt")})
    expected = "no <speaker>/<chapter>/*.trans.txt in this directory"
    if not found:
        return expected
    shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
    return f"{expected}; pass one split directory instead, e.g. {shown}"


def _read_chapter(chapter: Path, problems: list[Problem] | None) -> list[Utterance]:
    audio = _audio_files(chapter)
    transcripts = sorted(chapter.glob("*.trans.txt"))
    rows = []
    for path in transcripts:
        for utt_id, text, where in _transcript_lines(path, problems):
            if utt_id not in audio:
                report(Problem(utt_id, where, f"no audio file {utt_id}.flac or .wav"), problems)
                continue
            row = _utterance(utt_id, audio.pop(utt_id), text, problems)
            if row is not None:
                rows.append(row)
    missing = f"in {transcripts[0].name}" if len(transcripts) == 1 else f"in {chapter}"
    for utt_id in sorted(audio):
        report(Problem(utt_id, utt_id, f"no transcript {missing}"), problems)
    return rows


def _transcript_lines(path: Path, problems: list[Problem] | None) -> list[tuple[str, str, str]]:
    """(utterance id, normalised text, "file:line") of each line of a ``.trans.txt``."""
    lines, seen = [], set()
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = line.split(maxsplit=1)
            if not fields:
                continue
            where = f"{path}:{number}"
            if fields[0] in seen:
                report(Problem(fields[0], where, f"{fields[0]} appears twice"), problems)
                continue
            seen.add(fields[0])
            text = normalize_transcript(fields[1]) if len(fields) > 1 else ""
            lines.append((fields[0], text, where))
    return lines


def _utterance(
    utt_id: str, path: Path, text: str, problems: list[Problem] | None
) -> Utterance | None:
    try:
        duration = audio_duration(path)
    except AudioError as error:
        report(audio_problem(utt_id, str(path), error), problems)
        return None
    speaker = utt_id.split("-")[0]
    return Utterance(id=utt_id, audio=str(path), duration=duration, text=text, speaker=speaker)


def _audio_files(chapter: Path) -> dict[str, Path]:
    """{utterance id: audio path} in ``chapter``, preferring FLAC where both exist."""
    files: dict[str, Path] = {}
    for suffix in reversed(AUDIO_SUFFIXES):
        files.update({p.stem: p for p in chapter.glob(f"*{suffix}") if p.is_file()})
    return files


def _is_transcript(path: Path) -> bool:
    return path.name.endswith(".trans.txt") and path.is_file()


def _is_audio(path: Path) -> bool:
    return path.suffix in AUDIO_SUFFIXES and path.is_file()
