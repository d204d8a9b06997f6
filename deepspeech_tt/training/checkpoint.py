"""Checkpoints in training: Lightning's writer and reader, resume checks, random states.

The files themselves (layout, digest, trusted loading) are ``deepspeech_tt.checkpoints``;
``AtomicCheckpointIO`` makes Lightning save and load through it. ``check_resumable`` refuses a
``resume=`` checkpoint of another model; ``rng_state`` and ``restore_rng`` carry the random
states a resumed run needs to draw what the uninterrupted one drew.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf

from deepspeech_tt.checkpoints import (
    CHECKPOINT_KEY,
    CheckpointError,
    read_checkpoint,
    save_atomically,
)
from deepspeech_tt.config import config_from_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it, syncs it, then renames it in place.

    A process killed while saving leaves the previous file at that path as it was (and at most
    a stray ``.<name>.*.tmp``); the new file appears complete or not at all.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):  # remote storage: Lightning's fsspec transaction
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        save_atomically(checkpoint, Path(path))

    def load_checkpoint(
        self, path: _PATH, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """``read_checkpoint(path)``, whatever Lightning asks: local, weights only, checked."""
        return read_checkpoint(path, ours=False)


RESUME_SECTIONS = ("features", "tokenizer", "model", "rnn")
"""Config groups a resumed run must share with its checkpoint: they shape the weights."""

FREE_ON_RESUME = ("rnn.strategy", "tokenizer.model_dir")
"""Settings of those groups a resumed run may change: how layers run, where caches are."""


def check_resumable(cfg: DictConfig, checkpoint: dict[str, Any]) -> None:
    """Fail, naming the first setting that differs, when ``checkpoint`` is not of ``cfg``'s model.

    Raises:
        CheckpointError: naming the key, the checkpoint's value and the config's.
    """
    saved = config_from_checkpoint(checkpoint[CHECKPOINT_KEY]["config"])
    for section in RESUME_SECTIONS:
        theirs = OmegaConf.to_container(saved[section], resolve=True)
        mine = OmegaConf.to_container(cfg[section], resolve=True)
        assert isinstance(theirs, dict) and isinstance(mine, dict)
        for key in sorted(set(theirs) | set(mine)):
            if f"{section}.{key}" in FREE_ON_RESUME:
                continue
            if theirs.get(key) != mine.get(key):
                raise CheckpointError(
                    f"resume={cfg.resume} was trained with {section}.{key}={theirs.get(key)!r}, "
                    f"this run has {section}.{key}={mine.get(key)!r}: a run resumes with the "
                    "model settings it started with"
                )


def rng_state() -> dict[str, Any]:
    """The Python, NumPy, torch (and CUDA) random states, as weights-only-loadable values."""
    numpy = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "key": torch.from_numpy(numpy["state"]["key"].astype(np.int64)),
            "pos": int(numpy["state"]["pos"]),
            "has_gauss": int(numpy["has_gauss"]),
            "gauss": float(numpy["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back the random states ``rng_state`` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy = state["numpy"]
    key = numpy["key"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", key, numpy["pos"], numpy["has_gauss"], numpy["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
