"""Checkpoints: written atomically, loadable with ``torch.load(weights_only=True)``, self-contained.

Besides Lightning's own entries (``state_dict``, whose ``model.*`` keys are the acoustic model
and ``features.*`` keys the feature extractor with its normalisation statistics; optimiser,
scheduler, loop progress, sampler position), every checkpoint holds under ``CHECKPOINT_KEY``::

    {"config": <resolved config as plain dicts>, "tokenizer": <tokenizer.state_dict()>,
     "rng": <random states>, "nonfinite_skipped": int, "format_version": int}

so decoding needs the file and nothing else (``submodule_state`` splits the weights). Every
value is a tensor, number, string, list or dict: nothing that ``weights_only`` loading refuses.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from deepspeech_tt.atomic import replacing

CHECKPOINT_KEY = "deepspeech_tt"
FORMAT_VERSION = 1


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


def save_atomically(obj: Any, path: Path) -> None:
    """``torch.save(obj, path)`` through a synced temporary file and ``os.replace``."""
    with replacing(path) as f:
        torch.save(obj, f)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents on the CPU, loaded with ``weights_only=True``.

    Raises:
        ValueError: the file is not a deepspeech-tt checkpoint.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if CHECKPOINT_KEY not in checkpoint:
        raise ValueError(f"{path} is not a deepspeech-tt checkpoint (no {CHECKPOINT_KEY!r} entry)")
    return checkpoint


def submodule_state(checkpoint: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``state_dict`` of the LightningModule's submodule ``name`` ("model", "features")."""
    prefix = f"{name}."
    state = checkpoint["state_dict"]
    return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}


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
