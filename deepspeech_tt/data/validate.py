"""Checks that an utterance is usable for training, each returning the Problem it finds.

Transcripts: non-empty, every character one the tokenizer can spell (without a tokenizer, one
of ``ALPHABET``); a problem names the transcript's file, the utterance and each character with
its code point (``'3' (U+0033)``). Ids: unique. Audio: exists, decodes in full, holds samples,
and lasts the declared duration (so a file damaged after its header is found). Any sample rate
or channel count is fine: audio is read as 16 kHz mono.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from deepspeech_tt.atomic import write_text
from deepspeech_tt.data.audio import SAMPLE_RATE, AudioError, read_audio
from deepspeech_tt.data.errors import Problem, audio_problem, report
from deepspeech_tt.data.manifest import Utterance
from deepspeech_tt.data.text import describe_characters, unknown_characters

DURATION_TOLERANCE = 0.1
"""Seconds (plus 1% of the duration) that decoded audio may fall short of the declared length."""


class Encoder(Protocol):
    """What preparation needs of a tokenizer: ``encode`` raises ValueError on what it cannot."""

    def encode(self, text: str) -> list[int]: ...


def check_utterances(
    rows: list[Utterance],
    tokenizer: Encoder | None = None,
    problems: list[Problem] | None = None,
    workers: int = 1,
    progress: bool = True,
    transcript_file: Callable[[Utterance], str] | None = None,
) -> list[Utterance]:
    """The usable ``rows``, in order (see ``prepare_manifest`` for what usable means).

    Transcripts and ids are checked first (cheap), then the audio of the rest is decoded.

    Args:
        rows: the utterances to check.
        tokenizer: checks that transcripts are encodable; None checks against ``ALPHABET``.
        problems: where to record unusable rows; without a list, the first one raises.
        workers: threads decoding audio.
        progress: show a progress bar over the audio files.
        transcript_file: the file holding a row's transcript, named in transcript problems.
    """
    seen: set[str] = set()
    candidates = []
    for row in rows:
        where = transcript_file(row) if transcript_file else None
        problem = _duplicate_problem(row, seen) or transcript_problem(row, tokenizer, where)
        if problem is None:
            candidates.append(row)
        else:
            report(problem, problems)
    return _check_audio_all(candidates, problems, workers, progress)


def transcript_problem(
    row: Utterance, tokenizer: Encoder | None = None, where: str | None = None
) -> Problem | None:
    """Why ``row``'s transcript is unusable (empty, or not encodable), or None.

    Args:
        row: the utterance.
        tokenizer: decides what is encodable; None allows ``ALPHABET`` only.
        where: the file holding the transcript; the problem then names it and the utterance,
            else the utterance alone.
    """
    about = f"{row.id}: " if where else ""
    reason = _transcript_reason(row.text, tokenizer)
    return None if reason is None else Problem(row.id, where or row.id, about + reason)


def _transcript_reason(text: str, tokenizer: Encoder | None) -> str | None:
    if not text.strip():
        return "empty transcript"
    if tokenizer is None:
        unknown = unknown_characters(text)
        if not unknown:
            return None
        return f"characters outside the alphabet (A-Z, ', space): {describe_characters(unknown)}"
    try:
        tokenizer.encode(text)
    except ValueError as error:
        unknown = {c for c in set(text) if not _encodes(tokenizer, c)}
        if not unknown:  # the tokenizer refuses the text for another reason
            return str(error)
        return f"characters the tokenizer cannot spell: {describe_characters(unknown)}"
    return None


def _encodes(tokenizer: Encoder, character: str) -> bool:
    try:
        tokenizer.encode(character)
    except ValueError:
        return False
    return True


def audio_problem_of(row: Utterance) -> Problem | None:
    """Why ``row``'s audio is unusable (missing, undecodable, empty, short), or None.

    Decodes the utterance's span in full: cheap next to training on it, and the only way to
    find a file that is damaged after its header.
    """
    try:
        wave = read_audio(row.audio, offset=row.offset, duration=row.duration)
    except AudioError as error:
        return audio_problem(row.id, row.audio, error)
    seconds = wave.numel() / SAMPLE_RATE
    if seconds < row.duration * 0.99 - DURATION_TOLERANCE:
        start = f" from {row.offset:g} s" if row.offset else ""
        reason = f"holds {seconds:.2f} s of audio{start}, not the {row.duration:.2f} s declared"
        return Problem(row.id, row.audio, reason)
    return None


def write_skipped(problems: list[Problem], path: str | Path) -> Path:
    """Write ``problems`` as a TSV (utterance, where, reason) with a header line."""
    lines = ["utterance\twhere\treason"]
    lines += ["\t".join(_one_line(f) for f in (p.utterance, p.where, p.reason)) for p in problems]
    return write_text(path, "\n".join(lines) + "\n")


def _check_audio_all(
    rows: list[Utterance], problems: list[Problem] | None, workers: int, progress: bool
) -> list[Utterance]:
    good = []
    bar = tqdm(total=len(rows), disable=not progress, desc="checking audio", unit="utt")
    with bar, ThreadPoolExecutor(max(1, workers)) as pool:
        try:
            for row, problem in zip(rows, pool.map(audio_problem_of, rows), strict=True):
                bar.update()
                if problem is None:
                    good.append(row)
                else:
                    report(problem, problems)
        except BaseException:
            pool.shutdown(cancel_futures=True)  # fail fast: do not decode the rest
            raise
    return good


def _duplicate_problem(row: Utterance, seen: set[str]) -> Problem | None:
    if row.id in seen:
        return Problem(row.id, row.id, "the id appears twice (the second one is left out)")
    seen.add(row.id)
    return None


def _one_line(field: str) -> str:
    return " ".join(field.split())
