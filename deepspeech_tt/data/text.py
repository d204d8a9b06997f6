"""Transcript normalisation as LibriSpeech writes it: upper-case letters, apostrophe, space.

``normalize_transcript`` changes only what does not change what was said:

- letters are upper-cased, one for one (``ß``, whose upper case is two letters, is kept);
- white space, hyphens, dashes, slashes and underscores become one space;
- the punctuation ASR transcripts conventionally leave out is removed: ``. , ; : ! ?``,
  quotation marks, brackets, ellipses, inverted ``¡ ¿``;
- curly apostrophes become ``'``, kept inside words (``DON'T``) and removed at word edges,
  where they are quotation marks.

Everything else is kept as written: digits, symbols (``&``, ``%``, ``$``) and letters outside
A-Z (``É``, ``Ü``, ``Ø``). They are never dropped or transliterated -- ``THE 3RD CAFÉ`` does
not become ``THE RD CAFE``, which the audio does not say -- so preparation finds them and
reports each, naming the file, the utterance and the character (``'3' (U+0033)``), or skips
the utterance with ``skip_bad``. Write such words out (``THIRD``) or train with a tokenizer
that spells them. The corpus generator, which writes audio from its own text, keeps only
sentences whose characters all normalise into ``ALPHABET``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ' "
"""The characters a transcript may hold for the character tokenizer."""

_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'"})
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015/_]+")
_PUNCTUATION = re.compile(r"[.,;:!?\"()\[\]{}\u00ab\u00bb\u201c\u201d\u201e\u2026\u00a1\u00bf]")
_QUOTE_APOSTROPHES = re.compile(r"(^| )'+|'+( |$)")


def normalize_transcript(text: str) -> str:
    """``text`` upper-cased, without conventional punctuation, spaces collapsed.

    See the module docstring for what changes; every other character is kept, composed
    (NFC: ``E`` and a combining acute accent become ``É``), for preparation to check.
    """
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    text = "".join(_upper(c) for c in text)
    text = _SEPARATORS.sub(" ", text)
    text = _PUNCTUATION.sub("", text)
    text = _QUOTE_APOSTROPHES.sub(" ", text)
    return " ".join(text.split())


def unknown_characters(text: str) -> set[str]:
    """The characters of ``text`` that are not in ``ALPHABET``."""
    return set(text) - set(ALPHABET)


def describe_characters(characters: Iterable[str]) -> str:
    """``characters`` sorted and named for a message: ``'3' (U+0033), 'É' (U+00C9)``."""
    return ", ".join(f"{c!r} (U+{ord(c):04X})" for c in sorted(set(characters)))


def _upper(character: str) -> str:
    upper = character.upper()
    return upper if len(upper) == 1 else character
