"""Bad config values: one line naming the key, the value and what is allowed, before any data.

The drills: ``rank="44"`` trained TT ranks (4, 4); ``rank=abc`` was read character by
character; ``trainer.max_epochs=0`` exited 0 with a summary of nulls; ``optim.lr=-1`` failed
inside ``trainer.fit`` after the data and model were built (60 lines); a rank too large or zero
and a 5-piece BPE vocabulary ended in tracebacks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.helpers import assert_one_line_error, run_python, train_py


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ('rank="44"', ["rank='44'", "whole number"]),
        ("rank=abc", ["rank='abc'", "whole number"]),
        ("rank=0", ["rank=0"]),
        ("rank=[4,-1]", ["rank=[4, -1]"]),
        ("optim.lr=-1", ["optim.lr=-1.0", "positive"]),
        ("trainer.max_epochs=0", ["trainer.max_epochs=0", ">= 1"]),
        ("trainer.max_steps=0", ["trainer.max_steps=0"]),
        ("tokenizer=bpe", ["tokenizer.vocab_size=5", "at least 30"]),
        ("data.min_duration=20", ["data.min_duration=20", "data.max_duration"]),
        ("model.dropout=1.5", ["model.dropout=1.5", "[0, 1)"]),
        ("trainer.max_time=15min", ["trainer.max_time='15min'", "DD:HH:MM:SS"]),
        ("features.kind=mfcc", ["features.kind='mfcc'", "logmel"]),
        ("rank=999", ["rank", "999", "at most"]),
        ("foo=1", ["'foo'"]),
        ("+foo=1", ["'foo'"]),
        ("recipe=nope", ["recipe/nope", "tiny_tt"]),
        ("optim.lr=abc", ["optim.lr", "abc"]),
        ("resume=missing.ckpt", ["resume=missing.ckpt", "no such checkpoint"]),
    ],
)
def test_a_bad_value_is_one_line_before_any_data_is_read(
    training_overrides: Callable[..., list[str]], tmp_path: Path, override: str, words: list[str]
) -> None:
    extra = ["tokenizer.vocab_size=5"] if override == "tokenizer=bpe" else []
    corpus = tmp_path / "corpus-never-read"  # to be generated, if anything got that far
    overrides = [o for o in training_overrides(f"hydra.run.dir={tmp_path / 'run'}")
                 if not o.startswith(("data.root=", "data.generate_hours="))]  # fmt: skip
    result = train_py(*overrides, f"data.root={corpus}", "data.generate_hours=0.01", override,
                      *extra)  # fmt: skip
    assert_one_line_error(result, *words)
    assert not corpus.exists()  # nothing generated, read or written before the check
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_debug_variable_shows_the_traceback(
    training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    overrides = training_overrides(f"hydra.run.dir={tmp_path}", "optim.lr=-1")
    env = {**os.environ, "DEEPSPEECH_TT_DEBUG": "1"}
    result = run_python("train.py", *overrides, env=env)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ConfigError" in result.stderr
