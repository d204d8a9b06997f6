"""``python -m deepspeech_tt.data.synth --out data/tiny --hours 1``: generate the corpus."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

from deepspeech_tt.data.synth.corpus import generate_corpus
from deepspeech_tt.errors import reported

PROGRAM = "python -m deepspeech_tt.data.synth"
"""The CLI's name in its usage and error lines."""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, generate the corpus and print its summary.

    A bad argument or output directory ends it with one line, ``<PROGRAM>: error: <message>``,
    and exit status 2 (``DEEPSPEECH_TT_DEBUG=1`` shows the traceback).
    """
    args = _parser().parse_args(argv)
    start = time.perf_counter()
    with reported(PROGRAM):
        summary = generate_corpus(
            args.out,
            hours=args.hours,
            dev_minutes=args.dev_minutes,
            test_minutes=args.test_minutes,
            seed=args.seed,
            workers=args.workers,
            progress=not args.quiet,
        )
    for name, split in summary.splits.items():
        print(
            f"{name:5s} {split.utterances:6d} utterances {split.speakers:4d} speakers "
            f"{split.seconds / 60:7.1f} min"
        )
    print(f"lm_text {summary.lm_sentences} sentences")
    print(f"{summary.root} ({time.perf_counter() - start:.1f} s)")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Generate the synthetic eSpeak speech corpus (LibriSpeech and Kaldi layouts).",
    )
    parser.add_argument("--out", required=True, help="corpus directory (absent, empty or same)")
    parser.add_argument("--hours", type=float, default=1.0, help="training audio (default 1)")
    parser.add_argument("--dev-minutes", type=float, default=5.0, help="dev audio (default 5)")
    parser.add_argument("--test-minutes", type=float, default=5.0, help="test audio (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="synthesis processes (default: 2, or 1 on one core); the output does not depend on it",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
