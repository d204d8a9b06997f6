"""Corpus formats: how each is read, where its transcripts are, and what files it is made of.

``FORMATS`` maps the names that ``--format`` and ``data.format`` take to a ``CorpusFormat``::

    librispeech   one split directory       read_librispeech   transcripts in *.trans.txt
    kaldi         a Kaldi data directory    read_kaldi_dir     transcripts in text
    jsonl         a JSONL manifest          read_jsonl         transcripts in the manifest

``transcript_file`` lets preparation name the file to fix when a transcript is unusable;
``files`` lists what a corpus is read from, so that a cached manifest is rebuilt when any of
them changes (``deepspeech_tt.data.cache``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deepspeech_tt.data import kaldi, librispeech
from deepspeech_tt.data.errors import DataError, Problem
from deepspeech_tt.data.jsonl import jsonl_files, read_jsonl
from deepspeech_tt.data.manifest import Utterance

Reader = Callable[[Path, list[Problem] | None], list[Utterance]]
"""``read(source, problems)``: the utterances; problems recorded in the list, or raised."""


@dataclass(frozen=True)
class CorpusFormat:
    """One corpus layout: its reader and what preparation and the cache need to know of it."""

    read: Reader  # the utterances of a source
    transcript_file: Callable[[Path, Utterance], str]  # (source, row) -> file with row's text
    files: Callable[[Path], list[Path]]  # source -> every file the reader reads


def _manifest_itself(source: Path, row: Utterance) -> str:
    return os.path.abspath(source)


FORMATS: dict[str, CorpusFormat] = {
    "librispeech": CorpusFormat(
        librispeech.read_librispeech, librispeech.transcript_file, librispeech.split_files
    ),
    "kaldi": CorpusFormat(kaldi.read_kaldi_dir, kaldi.transcript_file, kaldi.data_dir_files),
    "jsonl": CorpusFormat(read_jsonl, _manifest_itself, jsonl_files),
}
"""Corpus formats by name."""


def corpus_format(name: str) -> CorpusFormat:
    """The format called ``name``; a DataError listing the formats for an unknown one."""
    if name not in FORMATS:
        raise DataError(f"unknown corpus format {name!r}; choose one of {sorted(FORMATS)}")
    return FORMATS[name]


def read_corpus(
    source: str | Path, format: str, problems: list[Problem] | None = None
) -> list[Utterance]:
    """The utterances of ``source`` read as ``format`` (a key of ``FORMATS``)."""
    return corpus_format(format).read(Path(source), problems)
