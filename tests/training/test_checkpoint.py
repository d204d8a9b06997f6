"""Checkpoint files: atomic writes, weights-only loading, random states."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from deepspeech_tt import checkpoints
from deepspeech_tt.training.checkpoint import AtomicCheckpointIO, restore_rng, rng_state


def test_save_and_load_round_trip_with_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "a.ckpt"
    payload = {"state_dict": {"w": torch.arange(4.0)}, "deepspeech_tt": {"rng": rng_state()}}
    AtomicCheckpointIO().save_checkpoint(payload, path)
    loaded = torch.load(path, weights_only=True)
    torch.testing.assert_close(loaded["state_dict"]["w"], torch.arange(4.0))


def test_a_save_killed_midway_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1, "w": torch.ones(3)}, path)

    def killed(obj: object, f: object, *args: object, **kwargs: object) -> None:
        f.write(b"half a checkpoint")  # type: ignore[attr-defined]
        raise KeyboardInterrupt  # as a signal arriving mid-write

    monkeypatch.setattr(checkpoints.torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_random_states_come_back() -> None:
    state = rng_state()
    first = (random.random(), np.random.rand(), torch.rand(()).item())
    restore_rng(state)
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == first
