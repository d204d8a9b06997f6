"""The one base class of every error a user must act on, and the one place that prints it.

Each layer keeps its own error class (``DataError``, ``FormatError``, ``CheckpointError``,
``ConfigError``...), all subclasses of ``UserError``: the message names the file, key or
layer, the value, and what would be allowed. The command-line entry points catch ``UserError``
and print ``<program>: error: <message>`` as one line with exit status 2 and no traceback;
``DEEPSPEECH_TT_DEBUG=1`` re-raises it with its traceback. Anything else is a bug, and keeps
its traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

DEBUG_VARIABLE = "DEEPSPEECH_TT_DEBUG"
"""Set to 1 to see the traceback behind a one-line error."""

EXIT_USER_ERROR = 2


class UserError(ValueError):
    """Bad input; ``str(error)`` is the one-line message: what, which value, what is allowed."""


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line: its lines joined by spaces, blank ones dropped."""
    text = str(error).strip() or type(error).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def debugging() -> bool:
    """Whether tracebacks are wanted (``DEEPSPEECH_TT_DEBUG`` set to anything but 0 or empty)."""
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def print_error(program: str, error: BaseException) -> None:
    """Print ``<program>: error: <message>`` on stderr, the message on one line."""
    print(f"{program}: error: {one_line(error)}", file=sys.stderr, flush=True)


def fail(program: str, error: BaseException) -> NoReturn:
    """``print_error``, then exit with status 2."""
    print_error(program, error)
    raise SystemExit(EXIT_USER_ERROR)


@contextmanager
def reported(program: str) -> Iterator[None]:
    """Turn a ``UserError`` raised in the block into one line and exit status 2.

    With ``DEEPSPEECH_TT_DEBUG=1`` the error propagates with its traceback instead.
    """
    try:
        yield
    except UserError as error:
        if debugging():
            raise
        fail(program, error)
