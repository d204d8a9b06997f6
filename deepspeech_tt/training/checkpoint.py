"""Checkpoints: written atomically, loadable with ``torch.load(weights_only=True)``, self-contained.

Besides Lightning's own entries (``state_dict``, whose ``model.*`` keys are the acoustic model
and ``features.*`` keys the feature extractor with its normalisation statistics; optimiser,
scheduler, loop progress, sampler position), every checkpoint holds under ``CHECKPOINT_KEY``::

    {"config": <resolved config as plain dicts>, "tokenizer": <tokenizer.state_dict()>,
     "rng": <random states>, "nonfinite_skipped": int, "format_version": int}

so decoding needs the file and nothing else (``submodule_state`` splits the weights). Every
value is a tensor, number, string, list or dict: nothing that ``weights_only`` loading refuses.

Trust. Every load (``resume=``, ``decode.py``, Lightning's own through ``AtomicCheckpointIO``)
goes through ``read_checkpoint``: local files only (a URL is refused, never fetched), always
``weights_only=True``, and checked. Each file saved here carries under ``DIGEST_KEY`` a BLAKE2b
digest of everything else in it (``content_digest``: every tensor's dtype, shape and bytes,
every key and value); a file whose contents no longer match (a flipped byte inside a tensor,
which PyTorch's own loader does not notice) is refused, and so is one holding a NaN or infinite
weight. Files from before the digest (format version 1) load with a warning. A save first
removes the temporary files an interrupted save left in the same directory; a full disk is one
``DiskFullError`` naming the file and the space it needed.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import pickle
import random
import shutil
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf

from deepspeech_tt.atomic import replacing
from deepspeech_tt.config import config_from_checkpoint
from deepspeech_tt.errors import UserError

log = logging.getLogger(__name__)

CHECKPOINT_KEY = "deepspeech_tt"
FORMAT_VERSION = 2  # 2: a content digest under DIGEST_KEY
DIGEST_KEY = "deepspeech_tt_digest"
"""Top-level entry holding ``{"algorithm": "blake2b", "hex": ...}`` of the rest of the file."""


class CheckpointError(UserError):
    """A checkpoint that cannot be used: missing, remote, corrupt, damaged, or not ours."""


class DiskFullError(UserError):
    """A file that could not be written for want of space: names it and the space it needed."""


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


def save_atomically(obj: dict[str, Any], path: Path) -> None:
    """``torch.save`` of ``obj`` with its digest, through a synced temporary file and a rename.

    Raises:
        DiskFullError: the disk filled up; the file at ``path`` is left as it was.
    """
    remove_stale_temporaries(path.parent)
    obj = {**obj, DIGEST_KEY: {"algorithm": "blake2b", "hex": content_digest(obj)}}
    try:
        with replacing(path) as f:
            torch.save(obj, f)
    except (OSError, RuntimeError) as error:
        if not _out_of_space(error):
            raise
        needed = sum(t.numel() * t.element_size() for t in _tensors(obj))
        free = shutil.disk_usage(path.parent).free
        raise DiskFullError(
            f"{path}: no space left on the device to save this checkpoint (it needs about "
            f"{needed / 2**20:.1f} MiB, {free / 2**20:.1f} MiB are free); the previous file "
            "there is intact"
        ) from None


def remove_stale_temporaries(directory: Path) -> None:
    """Delete ``.*.ckpt.*.tmp`` files that an interrupted save left in ``directory``."""
    for stale in directory.glob(".*.ckpt.*.tmp"):
        stale.unlink(missing_ok=True)
        log.info("removed %s, left by an interrupted save", stale)


def _out_of_space(error: BaseException | None) -> bool:
    """Whether ``error`` or an exception it was raised from is ENOSPC (torch wraps it)."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def read_checkpoint(path: str | Path, ours: bool = True) -> dict[str, Any]:
    """A checkpoint's contents on the CPU: a local file, loaded with ``weights_only=True``,
    its digest and the finiteness of its tensors checked.

    Args:
        path: the checkpoint file; a URL is refused.
        ours: also require the deepspeech-tt entry (the config, tokenizer...).

    Raises:
        CheckpointError: a URL, a missing or unreadable file, one that was changed since it was
            saved or holds a non-finite tensor, or (``ours``) another toolkit's checkpoint.
    """
    if "://" in str(path):
        raise CheckpointError(
            f"{path}: checkpoints are read from local files only (a remote file could run "
            "code when unpickled); download it, check it, and give its path"
        )
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    checkpoint = _load(path)
    if ours and CHECKPOINT_KEY not in checkpoint:
        raise CheckpointError(
            f"{path} is not a deepspeech-tt checkpoint (no {CHECKPOINT_KEY!r} entry)"
        )
    _check_digest(path, checkpoint)
    _check_finite(path, checkpoint)
    return checkpoint


def _load(path: Path) -> dict[str, Any]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({first})") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: holds a {type(checkpoint).__name__}, not a checkpoint")
    return checkpoint


def _check_digest(path: Path, checkpoint: dict[str, Any]) -> None:
    recorded = checkpoint.pop(DIGEST_KEY, None)
    if recorded is None:
        log.warning("%s has no content digest (saved before format version 2): not verified",
                    path)  # fmt: skip
        return
    if recorded.get("hex") != content_digest(checkpoint):
        raise CheckpointError(
            f"{path}: damaged: its contents do not match the digest saved with them (a changed "
            "or corrupted byte); use another checkpoint"
        )


def _check_finite(path: Path, checkpoint: dict[str, Any]) -> None:
    for name, value in checkpoint.get("state_dict", {}).items():
        if torch.is_tensor(value) and value.is_floating_point() and not value.isfinite().all():
            raise CheckpointError(f"{path}: weight {name!r} holds NaN or infinite values")


def content_digest(obj: Any) -> str:
    """BLAKE2b of ``obj``'s contents, the same after a ``torch.save``/``torch.load`` round trip.

    Mappings are read in key order, tuples as lists, tensors as dtype, shape and raw bytes.
    """
    digest = hashlib.blake2b(digest_size=32)
    for chunk in _canonical(obj):
        digest.update(chunk)
    return digest.hexdigest()


def _canonical(obj: Any) -> Iterator[Any]:
    """Byte chunks (``bytes`` or buffers) that spell out ``obj``."""
    if torch.is_tensor(obj):
        tensor = obj.detach().cpu().contiguous()
        yield f"T{tensor.dtype}{tuple(tensor.shape)}:".encode()
        yield tensor.reshape(-1).view(torch.uint8).numpy()  # a buffer: hashed without a copy
    elif isinstance(obj, Mapping):
        yield f"D{len(obj)}:".encode()
        for key in sorted(obj, key=repr):
            yield from _canonical(key)
            yield from _canonical(obj[key])
    elif isinstance(obj, list | tuple):
        yield f"L{len(obj)}:".encode()
        for item in obj:
            yield from _canonical(item)
    else:
        yield f"{type(obj).__name__}:{obj!r};".encode()


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    if torch.is_tensor(obj):
        yield obj
    elif isinstance(obj, Mapping):
        for value in obj.values():
            yield from _tensors(value)
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _tensors(item)


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
