"""Reader for a Kaldi data directory, the layout of Kaldi's WSJ (and most other) recipes.

Files read (Povey et al., "The Kaldi speech recognition toolkit", 2011; the data-dir format
of ``utils/validate_data_dir.sh``)::

    wav.scp   <recording-id> <path>   or   <recording-id> <command ... |>   (required)
    text      <utterance-id> <TRANSCRIPT ...>                                 (required)
    utt2spk   <utterance-id> <speaker-id>       (optional: without it each utterance is its
                                                 own speaker, as Kaldi assumes)
    spk2utt   <speaker-id> <utterance-id> ...   (optional: checked against utt2spk)
    segments  <utterance-id> <recording-id> <start> <end>   (optional; end -1 = to the end)

Without ``segments`` each recording is one utterance with the recording's id. Relative audio
paths are taken relative to the current directory (Kaldi runs recipes from their top
directory) and made absolute; commands are kept as written.

Transcripts: WSJ-style noise and event markers in angle or square brackets (``<NOISE>``,
``[door_slam]``, ``<UNK>``) are not speech and are removed; what remains is normalised with
``normalize_transcript``, so verbalised punctuation words (``,COMMA``, ``"DOUBLE-QUOTE``,
``%PERCENT``, ``&AMPERSAND``), which the speaker did say, become ``COMMA``, ``DOUBLE QUOTE``,
``PERCENT`` and ``AMPERSAND``, and the marks around partial, truncated or mispronounced words
(``*WORD*``, ``WORD~``, ``(PART)-``) are dropped, keeping the letters. Any other character
outside the tokenizer's alphabet (a digit, an accented letter) is kept for preparation to
report.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from deepspeech_tt.data.audio import AudioError, audio_duration, is_command
from deepspeech_tt.data.errors import DataError, Problem, audio_problem, report
from deepspeech_tt.data.manifest import Utterance
from deepspeech_tt.data.text import normalize_transcript

_MARKER = re.compile(r"<[^<>]*>|\[[^\[\]]*\]")
_WORD_MARKS = re.compile(r"[*~]|(?<!\S)[%&](?=[A-Za-z])")  # *WORD*, WORD~, %PERCENT, &AMPERSAND


def read_kaldi_dir(data_dir: str | Path, problems: list[Problem] | None = None) -> list[Utterance]:
    """The utterances of a Kaldi data directory, sorted by id.

    Args:
        data_dir: the directory holding ``wav.scp``, ``text`` and the optional files.
        problems: where to record unusable utterances (no transcript, no recording, a bad
            segment, an unreadable recording, a speaker that utt2spk and spk2utt disagree on);
            they are left out. Without a list, the first problem raises.

    Raises:
        DataError: a required file is missing, a line is malformed or an id repeats (these
            name the file and line), or (without ``problems``) the first unusable utterance.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no such directory")
    wav_scp = _table(data_dir / "wav.scp")
    tables = _Tables(
        recordings={key: _audio_source(value) for key, value in wav_scp.items()},
        texts=_table(data_dir / "text", allow_empty=True),
        speakers=_table(data_dir / "utt2spk") if (data_dir / "utt2spk").exists() else None,
        spk2utt=_inverted_spk2utt(data_dir / "spk2utt"),
    )
    has_segments = (data_dir / "segments").exists()
    if has_segments:
        segments = _segments(data_dir / "segments")
    else:
        segments = {key: (key, 0.0, -1.0) for key in tables.recordings}
    rows = []
    for utt_id, segment in segments.items():
        row = _utterance(utt_id, segment, tables)
        if isinstance(row, Problem):
            report(row, problems)
        else:
            rows.append(row)
    index = "segments" if has_segments else "wav.scp"
    for utt_id in sorted(tables.texts.keys() - segments.keys()):
        report(Problem(utt_id, str(data_dir / "text"), f"{utt_id} is not in {index}"), problems)
    return sorted(rows, key=lambda row: row.id)


TABLES = ("wav.scp", "text", "utt2spk", "spk2utt", "segments")
"""The files of a Kaldi data directory that the reader reads, where present."""


def data_dir_files(data_dir: str | Path) -> list[Path]:
    """The tables of ``data_dir`` and the audio files ``wav.scp`` names (commands left out).

    Raises:
        DataError: ``data_dir`` has no readable ``wav.scp``.
    """
    data_dir = Path(data_dir)
    sources = (_audio_source(value) for value in _table(data_dir / "wav.scp").values())
    audio = sorted({Path(source) for source in sources if not is_command(source)})
    return [data_dir / name for name in TABLES if (data_dir / name).exists()] + audio


def transcript_file(data_dir: str | Path, row: Utterance) -> str:
    """The ``text`` table that holds ``row``'s transcript."""
    return os.path.abspath(Path(data_dir) / "text")


def clean_transcript(text: str) -> str:
    """A Kaldi/WSJ transcript without noise markers and word marks, normalised as LibriSpeech's."""
    return normalize_transcript(_WORD_MARKS.sub("", _MARKER.sub(" ", text)))


@dataclass(frozen=True)
class _Tables:
    recordings: dict[str, str]  # recording id -> absolute path or command
    texts: dict[str, str]  # utterance id -> transcript as written
    speakers: dict[str, str] | None  # utterance id -> speaker id; None without utt2spk
    spk2utt: dict[str, str] | None  # the same, from spk2utt; None without spk2utt


def _utterance(
    utt_id: str, segment: tuple[str, float, float], tables: _Tables
) -> Utterance | Problem:
    recording, start, end = segment
    if recording not in tables.recordings:
        return Problem(utt_id, utt_id, f"recording {recording} is not in wav.scp")
    if utt_id not in tables.texts:
        return Problem(utt_id, utt_id, "no transcript in text")
    speaker = utt_id if tables.speakers is None else tables.speakers.get(utt_id)
    if speaker is None:
        return Problem(utt_id, utt_id, "no speaker in utt2spk")
    if tables.spk2utt is not None and tables.spk2utt.get(utt_id) != speaker:
        other = f"under {tables.spk2utt[utt_id]}" if utt_id in tables.spk2utt else "nowhere"
        return Problem(utt_id, utt_id, f"utt2spk gives speaker {speaker}, spk2utt lists it {other}")
    audio = tables.recordings[recording]
    try:
        stop = audio_duration(audio) if end < 0 else end
    except AudioError as error:
        return audio_problem(utt_id, audio, error)
    if start < 0 or stop <= start:
        return Problem(utt_id, utt_id, f"segment {start:g} to {end:g} s is empty or negative")
    text = clean_transcript(tables.texts[utt_id])
    return Utterance(utt_id, audio, stop - start, text, speaker, offset=start)


def _inverted_spk2utt(path: Path) -> dict[str, str] | None:
    """{utterance id: speaker id} from spk2utt, to check utt2spk against; None without it."""
    if not path.exists():
        return None
    return {utt: speaker for speaker, utts in _table(path).items() for utt in utts.split()}


def _segments(path: Path) -> dict[str, tuple[str, float, float]]:
    """{utterance id: (recording id, start, end)}; end is -1 for "to the end"."""
    segments = {}
    for key, value in _table(path).items():
        fields = value.split()
        try:
            recording, start, end = fields[0], float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            raise DataError(
                f"{path}: {key}: expected '<utterance-id> <recording-id> <start> <end>'"
            ) from None
        segments[key] = (recording, start, end)
    return segments


def _table(path: Path, allow_empty: bool = False) -> dict[str, str]:
    """The ``<key> <value ...>`` lines of a Kaldi file, in order; unique keys."""
    if not path.is_file():
        raise DataError(f"{path}: no such file (a Kaldi data dir needs wav.scp and text)")
    table: dict[str, str] = {}
    lines: dict[str, int] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = line.strip().split(maxsplit=1)
            if not fields:
                continue
            if len(fields) == 1 and not allow_empty:
                raise DataError(f"{path}:{number}: expected '<id> <value>', got {line.strip()!r}")
            if fields[0] in table:
                first = lines[fields[0]]
                where = f"{path}:{number}"
                raise DataError(f"{where}: {fields[0]} appears twice (first on line {first})")
            table[fields[0]] = fields[1] if len(fields) > 1 else ""
            lines[fields[0]] = number
    return table


def _audio_source(value: str) -> str:
    """A command kept as written, or an absolute path."""
    return value.strip() if is_command(value) else os.path.abspath(value.strip())
