"""Manifests: one JSON object a line per utterance, the currency of the data layer.

Every reader (LibriSpeech tree, Kaldi/WSJ data dir, existing JSONL) produces ``Utterance``
rows, and everything downstream (datasets, batching, decoding) reads them. A row is::

    {"id": "19-198-0001", "audio": "/abs/path.flac", "duration": 3.42,
     "text": "NORMALISED TRANSCRIPT", "speaker": "19"}

``audio`` is a path, or a Kaldi ``wav.scp`` command ending in ``|`` whose standard output is
audio. Rows cut from a longer recording (Kaldi ``segments``) also carry ``"offset"``, the
start time in seconds; ``duration`` is then the segment's length.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from deepspeech_tt.data.errors import DataError

_REQUIRED = ("id", "audio", "duration", "text", "speaker")


class ManifestError(DataError):
    """A manifest file that cannot be read: names the file, the line and the problem."""


@dataclass(frozen=True)
class Utterance:
    id: str  # unique utterance id, e.g. "19-198-0001"
    audio: str  # path, or a command ending in "|"
    duration: float  # seconds (of the segment, when offset is set)
    text: str  # normalised transcript; "" where none is known
    speaker: str  # speaker id
    offset: float = 0.0  # start in seconds within the audio (Kaldi segments)

    def to_json(self) -> str:
        row = asdict(self)
        if not self.offset:
            del row["offset"]
        return json.dumps(row, ensure_ascii=False)


def write_manifest(rows: Iterable[Utterance], path: str | Path) -> Path:
    """Write ``rows`` to ``path`` atomically: a crash leaves the old file, never half a new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(row.to_json() + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_manifest(path: str | Path) -> list[Utterance]:
    """The rows of a JSONL manifest; a ManifestError naming the line for any malformed row."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest {path} does not exist")
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                rows.append(_parse_row(line, f"{path}:{number}"))
    return rows


def _parse_row(line: str, where: str) -> Utterance:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ManifestError(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [key for key in _REQUIRED if key not in row]
    if missing:
        raise ManifestError(f"{where}: missing {', '.join(missing)} (a row needs {_REQUIRED})")
    try:
        return Utterance(
            id=str(row["id"]),
            audio=str(row["audio"]),
            duration=float(row["duration"]),
            text=str(row["text"]),
            speaker=str(row["speaker"]),
            offset=float(row.get("offset", 0.0)),
        )
    except (TypeError, ValueError) as error:
        raise ManifestError(f"{where}: {error}") from None
