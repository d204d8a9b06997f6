"""Transcript normalisation as LibriSpeech writes it: upper-case letters, apostrophe, space."""

from __future__ import annotations

import re
import unicodedata

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ' "
"""The characters a normalised transcript may hold."""

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015/_]+")
_DROPPED = re.compile(r"[^A-Z' ]")
_QUOTE_APOSTROPHES = re.compile(r"(^| )'+|'+( |$)")


def normalize_transcript(text: str) -> str:
    """Upper-case ``text`` and keep only LibriSpeech's characters.

    Accents are stripped (``café`` -> ``CAFE``), dashes and slashes become spaces, other
    punctuation is dropped, apostrophes are kept inside words (``DON'T``) but not as quotes,
    and runs of spaces collapse. Digits are dropped too: callers that care (the corpus
    generator) reject sentences with digits before they get here.
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u2018", "'").upper()
    text = _SEPARATORS.sub(" ", text)
    text = _DROPPED.sub("", text)
    text = _QUOTE_APOSTROPHES.sub(" ", text)
    return " ".join(text.split())


def unknown_characters(text: str) -> set[str]:
    """The characters of ``text`` that are not in ``ALPHABET``."""
    return set(text) - set(ALPHABET)
