"""Session fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepspeech_tt.data.synth import generate_corpus

TINY_UTTERANCES = {"train": 12, "dev": 4, "test": 4}
"""Recordings per split of ``tiny_corpus``: 4 training speakers, 2 dev, 2 test."""

TINY_SOURCES = ("pydoc_data.topics",)
"""The tiny corpus reads only the reference documentation: the full sources take seconds."""


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated corpus of 20 recordings (train/dev/test), made once per session.

    ``<root>/<split>/<spk>/<chap>/<spk>-<chap>-<utt>.flac`` with ``<spk>-<chap>.trans.txt``,
    ``<root>/kaldi/<split>/{wav.scp,text,utt2spk,spk2utt}``, ``<root>/lm_text.txt`` and
    ``<root>/SPEAKERS.TXT``; 16 kHz mono FLAC, about 5 s a recording. Treat it as read-only.
    """
    root = tmp_path_factory.mktemp("corpus") / "tiny"
    generate_corpus(root, utterances=TINY_UTTERANCES, sources=TINY_SOURCES, progress=False)
    return root
