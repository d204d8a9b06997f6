"""Session fixtures shared by the whole suite."""

from __future__ import annotations

import functools
from collections.abc import Callable
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


SMALL_MODEL = ("model.conv_layers=1", "model.hidden_size=64", "model.rnn_layers=2")
"""A DeepSpeech2 that trains in seconds on the tiny corpus."""


def _training_overrides(corpus: Path, manifests: Path, *more: str) -> list[str]:
    return [
        f"data.root={corpus}", "data.generate_hours=null", f"data.manifest_dir={manifests}",
        "data.num_workers=0", "data.stats_utterances=12", "trainer.enable_progress_bar=false",
        "trainer.log_every_n_steps=1", "trainer.max_time=null", "trainer.max_epochs=100",
        *SMALL_MODEL, *more,
    ]  # fmt: skip


@pytest.fixture(scope="session")
def training_overrides(
    tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., list[str]]:
    """``training_overrides("key=value", ...)``: train.py overrides for a small model on
    ``tiny_corpus``, manifests cached in one session directory, then the given ones."""
    return functools.partial(_training_overrides, tiny_corpus, tmp_path_factory.mktemp("manifests"))


@pytest.fixture(scope="session")
def short_run(
    training_overrides: Callable[..., list[str]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A finished run directory: two epochs of a small tiny_tt-shaped model, validated each
    epoch, then tested; checkpoints, ``summary.json`` and TensorBoard events. Read-only."""
    from deepspeech_tt.commands.train import train
    from deepspeech_tt.config import compose_config

    run_dir = tmp_path_factory.mktemp("run")
    overrides = [
        "data.max_frames=2000",
        "trainer.max_epochs=2",
        "trainer.example_transcripts=2",
        "features.normalize=global",
    ]  # statistics fitted, so checkpoints must carry them
    train(compose_config(training_overrides(*overrides)), run_dir, choices={"recipe": "tiny_tt"})
    return run_dir


@pytest.fixture(scope="session")
def best(short_run: Path) -> Path:
    """``short_run``'s best checkpoint (by dev WER). Read-only."""
    (path,) = (short_run / "checkpoints").glob("best-*.ckpt")
    return path
