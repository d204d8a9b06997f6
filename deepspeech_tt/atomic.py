"""Files written whole or not at all: a temporary file beside the target, synced, then renamed.

A process killed while writing leaves the previous file at the path as it was (and at most a
stray ``.<name>.*.tmp`` beside it). Checkpoints are written through the same ``replacing``
(``deepspeech_tt.checkpoints.save_atomically``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process's umask once: temporary files are created owner-only


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its directory; returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, creating its directory; returns the path."""
    path = Path(path)
    with replacing(path) as f:
        os.chmod(f.name, 0o666 & ~_UMASK)  # the mode an ordinary open() would have given
        f.write(data)
    return path


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` when the block ends without an error.

    The file is a temporary one beside ``path`` (created owner-only), synced before the
    rename; on an error it is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
