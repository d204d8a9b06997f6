"""``python decode.py checkpoint=<ckpt> audio=<file|dir|manifest|split> [key=value ...]``.

Bad input — an unknown key, a missing or foreign checkpoint, a missing or malformed LM, audio
that names nothing — is a ``UserError``: it ends with one line on stderr, ``decode.py: error:
<message>``, and exit status 2, before any decoding. ``DEEPSPEECH_TT_DEBUG=1`` re-raises it with
its traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from deepspeech_tt.decoding.config import parse_decode_args, usage
from deepspeech_tt.decoding.run import decode
from deepspeech_tt.errors import EXIT_USER_ERROR, UserError, debugging, print_error

PROGRAM = "decode.py"


def main(argv: Sequence[str] | None = None) -> int:
    """Decode as the arguments say; returns the exit status (2 for a user error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or "--help" in args or "-h" in args:
        print(usage())
        return 0 if args else EXIT_USER_ERROR
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s")
    try:
        decode(parse_decode_args(args))
    except UserError as error:
        if debugging():
            raise
        print_error(PROGRAM, error)
        return EXIT_USER_ERROR
    return 0
