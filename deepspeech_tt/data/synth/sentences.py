"""English sentences from prose installed with Python, filtered so eSpeak says what is written.

Sources (see ``TEXT_SOURCES``): the Python reference and library documentation shipped as
``pydoc_data.topics``, and the docstrings (every triple-quoted string) of the standard
library and of the installed numpy and torch packages. Files are read in sorted order and the
sentences are sorted, so the pool depends only on the installed versions, not on the file
system.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sysconfig
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from deepspeech_tt.data.text import normalize_transcript

TEXT_SOURCES = ("pydoc_data.topics", "stdlib", "numpy", "torch")
"""The default sources: the reference documentation, then the docstrings of three code bases."""

MIN_WORDS = 4
MAX_WORDS = 25

_SKIPPED_DIRS = {"test", "tests", "testing", "idlelib", "lib2to3", "site-packages", "_vendor"}
_TRIPLE_QUOTED = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_ALLOWED = re.compile(r"[A-Za-z .,;:!?'\"-]+")
_EDGE_PUNCTUATION = ".,;:!?'\""
_ABBREVIATIONS = {"etc", "eg", "ie", "cf", "vs", "viz", "approx", "esp", "resp", "ok"}


def collect_sentences(sources: Sequence[str] = TEXT_SOURCES) -> list[str]:
    """The speakable sentences of ``sources``, one per distinct transcript, sorted.

    Args:
        sources: ``"pydoc_data.topics"``, ``"stdlib"``, or the name of an installed package
            whose ``.py`` files are read.

    Raises:
        ValueError: a source is unknown or not installed.
    """
    by_transcript: dict[str, str] = {}
    for text in _source_texts(sources):
        for sentence in split_sentences(text):
            if is_speakable(sentence):
                by_transcript.setdefault(normalize_transcript(sentence), sentence)
    return sorted(by_transcript.values(), key=normalize_transcript)


def split_sentences(text: str) -> Iterator[str]:
    """The sentences of ``text``, paragraph by paragraph, each on one line."""
    for paragraph in re.split(r"\n\s*\n", inspect.cleandoc(text)):
        joined = " ".join(paragraph.split())
        yield from _SENTENCE_END.split(joined)


def is_speakable(sentence: str) -> bool:
    """Whether eSpeak will say ``sentence`` as its normalised transcript reads.

    A sentence passes when it starts with a capital letter, ends with ``.``, ``!`` or ``?``,
    has ``MIN_WORDS`` to ``MAX_WORDS`` words, and holds only ASCII letters, spaces and
    ``. , ; : ! ? ' " -``: so no digits (eSpeak would say numbers the transcript drops),
    underscores, brackets, ``=``, slashes or URLs. Every word must also look like a word:
    no dots or colons inside (``e.g``, ``os.path``), no capitals after its first letter
    (acronyms are spelt letter by letter, ``CamelCase`` is code), a vowel somewhere (``str``,
    ``Mr``), no single letters but ``a`` and ``I``, no leading or trailing hyphen, and none
    of a few abbreviations (``etc``) that eSpeak expands.
    """
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    if not (sentence[0].isupper() and sentence[-1] in ".!?"):
        return False
    if _ALLOWED.fullmatch(sentence) is None or "--" in sentence:
        return False
    return all(_is_word(word.strip(_EDGE_PUNCTUATION)) for word in words)


def _is_word(word: str) -> bool:
    if not word or any(mark in word for mark in _EDGE_PUNCTUATION.replace("'", "")):
        return False
    if word[0] == "-" or word[-1] == "-" or any(c.isupper() for c in word[1:]):
        return False
    if len(word) == 1:
        return word in "aAI"
    lower = word.lower()
    return lower not in _ABBREVIATIONS and any(vowel in lower for vowel in "aeiouy")


def _source_texts(sources: Sequence[str]) -> Iterator[str]:
    for source in sources:
        if source == "pydoc_data.topics":
            from pydoc_data.topics import topics

            yield from (topics[key] for key in sorted(topics))
        else:
            for path in _python_files(_source_root(source)):
                yield from _docstrings(path)


def _source_root(source: str) -> Path:
    if source == "stdlib":
        return Path(sysconfig.get_paths()["stdlib"])
    spec = importlib.util.find_spec(source) if source.isidentifier() else None
    if spec is None or not spec.submodule_search_locations:
        known = ", ".join(["pydoc_data.topics", "stdlib", "<an installed package>"])
        raise ValueError(f"unknown text source {source!r} (expected one of: {known})")
    return Path(next(iter(spec.submodule_search_locations)))


def _python_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*.py")):
        if not _SKIPPED_DIRS.intersection(path.relative_to(root).parts[:-1]):
            yield path


def _docstrings(path: Path) -> Iterator[str]:
    """Triple-quoted strings of a source file: docstrings, mostly (a regex is 10x an AST)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    for match in _TRIPLE_QUOTED.finditer(text):
        yield match.group(1) if match.group(1) is not None else match.group(2)
