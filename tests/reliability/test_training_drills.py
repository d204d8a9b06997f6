"""Runs that would train nothing fail at start, saying why, instead of exiting 0 with nulls.

The drills: ``trainer.max_epochs=0`` (held in ``test_config_drills``) and a Kaldi corpus whose
utterances left no training batch both exited 0 with a ``summary.json`` of nulls.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.helpers import assert_one_line_error, train_py

pytestmark = pytest.mark.slow


def test_a_corpus_that_leaves_no_training_utterance_fails_saying_why(
    tiny_corpus: Path, training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    overrides = [o for o in training_overrides(f"hydra.run.dir={tmp_path / 'run'}",
                                               f"data.manifest_dir={tmp_path / 'manifests'}")
                 if not o.startswith("data.root=")]  # fmt: skip
    result = train_py(*overrides, f"data.root={tiny_corpus / 'kaldi'}", "data.format=kaldi",
                      "data.min_duration=0", "data.max_duration=0.2")  # fmt: skip
    assert_one_line_error(result, "no training utterance left", "all 12", "data.max_duration=0.2")
    assert not (tmp_path / "run" / "summary.json").exists()
    assert not (tmp_path / "run" / "checkpoints").exists()
