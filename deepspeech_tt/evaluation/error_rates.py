"""Word and character edit counts of hypotheses against references, computed by jiwer.

Rates are corpus-level: errors summed over all utterances, divided by the summed reference
length. Training's dev and test scores (``training.metrics``) and ``decode.py``'s results
(``decoding.scoring``) both count with these functions, so the two agree to the digit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jiwer


@dataclass(frozen=True)
class Errors:
    """Edit counts of a set of hypotheses against their references."""

    substitutions: int
    deletions: int
    insertions: int
    reference_length: int

    @property
    def rate(self) -> float:
        edits = self.substitutions + self.deletions + self.insertions
        return edits / max(self.reference_length, 1)


def word_errors(references: Sequence[str], hypotheses: Sequence[str]) -> Errors:
    """Word edits of ``hypotheses`` against non-empty ``references`` (pairwise)."""
    return _errors(jiwer.process_words, references, hypotheses)


def char_errors(references: Sequence[str], hypotheses: Sequence[str]) -> Errors:
    """Character edits (spaces count as characters) against non-empty ``references``."""
    return _errors(jiwer.process_characters, references, hypotheses)


def _errors(
    process: Callable[..., Any], references: Sequence[str], hypotheses: Sequence[str]
) -> Errors:
    pairs = [(r, h) for r, h in zip(references, hypotheses, strict=True) if r.strip()]
    if not pairs:
        return Errors(0, 0, 0, 0)
    out = process([r for r, _ in pairs], [h for _, h in pairs])
    return Errors(out.substitutions, out.deletions, out.insertions,
                  out.substitutions + out.deletions + out.hits)  # fmt: skip
