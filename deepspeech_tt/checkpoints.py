"""Checkpoint files: written atomically with a digest, read only from trusted local files.

Besides Lightning's own entries (``state_dict``, whose ``model.*`` keys are the acoustic model
and ``features.*`` keys the feature extractor with its normalisation statistics; optimiser,
scheduler, loop progress, sampler position), every checkpoint holds under ``CHECKPOINT_KEY``::

    {"config": <resolved config as plain dicts>, "tokenizer": <tokenizer.state_dict()>,
     "rng": <random states>, "nonfinite_skipped": int, "format_version": int}

so decoding needs the file and nothing else (``submodule_state`` splits the weights). Every
value is a tensor, number, string, list or dict: nothing that ``weights_only`` loading refuses.

Trust. Every load (``resume=``, ``decode.py``, Lightning's own through
``training.checkpoint.AtomicCheckpointIO``) goes through ``read_checkpoint``: local files only
(a URL is refused, never fetched), always ``weights_only=True``, and checked. Each file saved
here carries under ``DIGEST_KEY`` a BLAKE2b digest of everything else in it
(``content_digest``: every tensor's dtype, shape and bytes, every key and value); a file whose
contents no longer match (a flipped byte inside a tensor, which PyTorch's own loader does not
notice) is refused, and so is one holding a NaN or infinite weight. Files from before the digest
(format version 1) load with a warning. A save first removes the temporary files an interrupted
save left in the same directory; a full disk is one ``DiskFullError`` naming the file and the
space it needed.

The module sits below every package that reads or writes checkpoints (training, builders,
decoding): it needs torch and, of the toolkit, ``atomic`` and ``errors`` only.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import pickle
import shutil
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from deepspeech_tt.atomic import replacing
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


def submodule_state(checkpoint: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``state_dict`` of the LightningModule's submodule ``name`` ("model", "features")."""
    prefix = f"{name}."
    state = checkpoint["state_dict"]
    return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}


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
    if not isinstance(recorded, dict) or recorded.get("hex") != content_digest(checkpoint):
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
