"""Reader for an existing JSONL manifest (see ``deepspeech_tt.data.manifest`` for the rows)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from deepspeech_tt.data.audio import is_command
from deepspeech_tt.data.errors import DataError, Problem, report
from deepspeech_tt.data.manifest import ManifestError, Utterance, read_manifest


def read_jsonl(path: str | Path, problems: list[Problem] | None = None) -> list[Utterance]:
    """The rows of an existing JSONL manifest, checked.

    Relative audio paths are taken relative to the manifest's directory and made absolute,
    so a manifest can travel with its audio. Texts are kept as written (the tokenizer check
    in ``prepare_manifest`` decides whether they are usable).

    Args:
        path: the manifest.
        problems: where to record rows with a non-positive duration, a negative offset or no
            audio; they are left out. Without a list, the first problem raises.

    Raises:
        DataError: a line is not a valid row (naming the file and line number), or (without
            ``problems``) the first unusable row.
    """
    path = Path(path)
    try:
        rows = read_manifest(path)
    except ManifestError as error:
        raise DataError(str(error)) from None
    checked = []
    for row in rows:
        reason = _row_problem(row)
        if reason:
            report(Problem(row.id, row.id, f"{reason} in {path}"), problems)
        else:
            checked.append(replace(row, audio=_relative_to(row.audio, path.parent)))
    return checked


def jsonl_files(path: str | Path) -> list[Path]:
    """The manifest and the audio files its rows name (commands are left out)."""
    path = Path(path)
    audio = {row.audio for row in read_jsonl(path, problems=[]) if not is_command(row.audio)}
    return [path, *sorted(Path(a) for a in audio)]


def _row_problem(row: Utterance) -> str | None:
    if not row.audio.strip():
        return "no audio"
    if not row.duration > 0:
        return f"duration {row.duration} is not positive"
    if row.offset < 0:
        return f"offset {row.offset} is negative"
    return None


def _relative_to(audio: str, folder: Path) -> str:
    if is_command(audio) or os.path.isabs(audio):
        return audio
    return os.path.abspath(folder / audio)
