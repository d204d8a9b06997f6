"""``python decode.py checkpoint=<ckpt> audio=<file|dir|manifest|split> [key=value ...]``.

Bad input — an unknown key, a missing or foreign checkpoint, a missing or malformed LM, audio
that names nothing — ends with one line on stderr and exit status 2, before any decoding.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from deepspeech_tt.data.errors import DataError
from deepspeech_tt.decoding.config import DecodeConfigError, parse_decode_args, usage
from deepspeech_tt.decoding.lm import LanguageModelError
from deepspeech_tt.decoding.recognizer import CheckpointError
from deepspeech_tt.decoding.run import decode

USER_ERRORS = (DecodeConfigError, CheckpointError, LanguageModelError, DataError)


def main(argv: Sequence[str] | None = None) -> int:
    """Decode as the arguments say; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or "--help" in args or "-h" in args:
        print(usage())
        return 0 if args else 2
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s")
    try:
        decode(parse_decode_args(args))
    except USER_ERRORS as error:
        print(f"decode.py: error: {error}", file=sys.stderr)
        return 2
    return 0
