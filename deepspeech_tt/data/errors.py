"""Errors of the data layer that a user must act on: bad corpora, files and transcripts."""

from __future__ import annotations

from dataclasses import dataclass

from deepspeech_tt.errors import UserError


class DataError(UserError):
    """Input data that cannot be used: the message names the file or utterance and the problem."""


@dataclass(frozen=True)
class Problem:
    """One unusable utterance or file, found while reading or validating a corpus.

    ``where`` is what the user should look at: the audio file for audio problems, the
    utterance id for transcript problems. ``str(problem)`` is the message a ``DataError``
    carries when preparation fails fast.
    """

    utterance: str  # utterance id ("" when the problem is not tied to one)
    where: str  # file path, command or utterance id
    reason: str  # what is wrong, e.g. "cannot be decoded (...)"

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def report(problem: Problem, problems: list[Problem] | None) -> None:
    """Raise ``problem`` as a DataError when ``problems`` is None, else append it.

    Readers take an optional ``problems`` list: without one they fail fast on the first
    problem; with one they record it, leave the utterance out, and go on.
    """
    if problems is None:
        raise DataError(str(problem))
    problems.append(problem)


def audio_problem(utterance: str, source: str, error: Exception) -> Problem:
    """A Problem for an AudioError about ``source``, whose message starts with the source."""
    reason = str(error).removeprefix(f"{source}: ")
    return Problem(utterance, source, reason)
