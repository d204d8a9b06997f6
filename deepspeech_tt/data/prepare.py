"""Corpus preparation: read a corpus, check every utterance, write a JSONL manifest.

Reading finds the utterances (``read_librispeech``, ``read_kaldi_dir``, ``read_jsonl``);
checking decodes each recording in full and checks its transcript, so that a corrupt, empty
or missing file, a missing transcript, or characters the tokenizer cannot encode are found
here, with a message naming the file and the problem, and never in the middle of an epoch.
A transcript problem names the transcript's file, the utterance and each character the
tokenizer cannot spell, with its code point; such characters are never dropped or folded
(``deepspeech_tt.data.text``).

By default the first problem stops preparation with a ``DataError``. With ``skip_bad`` the bad
utterances are left out, counted, logged and listed with their reasons in a TSV next to the
manifest. The manifest is written atomically once everything is checked, so a failed run
leaves any earlier manifest as it was.

CLI::

    python -m deepspeech_tt.data.prepare --format librispeech \\
        --source LibriSpeech/train-clean-100 --out data/train.jsonl [--skip-bad] [--tokenizer char]
"""

from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deepspeech_tt.data.errors import DataError, Problem
from deepspeech_tt.data.formats import FORMATS, corpus_format, read_corpus
from deepspeech_tt.data.jsonl import read_jsonl
from deepspeech_tt.data.manifest import Utterance, write_manifest
from deepspeech_tt.data.validate import Encoder, check_utterances, write_skipped
from deepspeech_tt.errors import reported

__all__ = ["PROGRAM", "Prepared", "main", "prepare_manifest", "read_corpus", "read_jsonl"]

logger = logging.getLogger(__name__)

PROGRAM = "python -m deepspeech_tt.data.prepare"
"""The CLI's name in its usage and error lines."""


@dataclass(frozen=True)
class Prepared:
    """What ``prepare_manifest`` wrote."""

    manifest: Path  # the JSONL manifest
    rows: list[Utterance]  # the rows in it
    skipped: list[Problem]  # what was left out, and why (always empty without skip_bad)
    skipped_path: Path | None  # the TSV listing them (written whenever skip_bad is set)


def prepare_manifest(
    source: str | Path | Iterable[Utterance],
    out: str | Path,
    *,
    format: str | None = None,
    tokenizer: Encoder | None = None,
    skip_bad: bool = False,
    skipped_path: str | Path | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Prepared:
    """Read a corpus, check each utterance, and write the usable ones to ``out``.

    An utterance is usable when its transcript is non-empty and every character is
    encodable (by ``tokenizer``, or in ``ALPHABET`` without one), its id is unique, and its
    audio exists, decodes, holds samples and lasts (within ``DURATION_TOLERANCE``) the
    declared duration. Sample rates and channel counts do not matter: audio is read as
    16 kHz mono. Duration filters belong to batching, not here.

    Args:
        source: a corpus path read as ``format``, or rows already read.
        out: the JSONL manifest to write.
        format: ``"librispeech"``, ``"kaldi"`` or ``"jsonl"``; needed when ``source`` is a path.
        tokenizer: checks that transcripts are encodable; None checks against ``ALPHABET``.
        skip_bad: leave unusable utterances out (listed in ``skipped_path``) instead of failing.
        skipped_path: where the TSV of skipped utterances goes; default ``<out stem>.skipped.tsv``
            next to ``out``.
        workers: threads decoding audio (decoding releases the GIL).
        progress: show a progress bar.

    Raises:
        DataError: the first unusable utterance (without ``skip_bad``), or no usable one.
    """
    problems: list[Problem] | None = [] if skip_bad else None
    transcript_file = None
    if not isinstance(source, (str, Path)):
        rows = list(source)
    elif format is None:
        raise ValueError(f"a format is needed to read {source}: one of {sorted(FORMATS)}")
    else:
        reader, path = corpus_format(format), Path(source)
        rows = reader.read(path, problems)
        transcript_file = functools.partial(reader.transcript_file, path)
    found = len(rows) + len(problems or [])
    good = check_utterances(rows, tokenizer, problems, workers, progress, transcript_file)
    out = Path(out)
    listed = None
    if problems is not None:
        listed = write_skipped(problems, skipped_path or out.with_name(f"{out.stem}.skipped.tsv"))
        _log_skipped(len(problems), found, listed)
    if not good:
        where = f" (reasons in {listed})" if listed and problems else ""
        raise DataError(f"no usable utterances among the {found} found{where}")
    write_manifest(good, out)
    return Prepared(out, good, problems or [], listed)


def _log_skipped(count: int, found: int, path: Path) -> None:
    level = logging.WARNING if count else logging.INFO
    logger.log(level, "skipped %d of %d utterances; list in %s", count, found, path)


def main(argv: list[str] | None = None) -> None:
    """The CLI: prepare one manifest.

    Bad data ends it with one line, ``<PROGRAM>: error: <file>: <problem>``, and exit status 2
    (``DEEPSPEECH_TT_DEBUG=1`` shows the traceback).
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with reported(PROGRAM):
        prepared = prepare_manifest(
            args.source,
            args.out,
            format=args.format,
            tokenizer=_load_tokenizer(args.tokenizer),
            skip_bad=args.skip_bad,
            skipped_path=args.skipped,
            workers=args.workers,
            progress=not args.quiet,
        )
    hours = sum(row.duration for row in prepared.rows) / 3600
    print(f"wrote {len(prepared.rows)} utterances ({hours:.2f} h) to {prepared.manifest}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Check a corpus and write its JSONL manifest.",
    )
    parser.add_argument("--format", required=True, choices=sorted(FORMATS))
    parser.add_argument("--source", required=True, help="split dir, Kaldi data dir or .jsonl")
    parser.add_argument("--out", required=True, help="the manifest to write (.jsonl)")
    parser.add_argument("--skip-bad", action="store_true", help="leave bad utterances out")
    parser.add_argument("--skipped", help="TSV of skipped utterances (default: next to --out)")
    parser.add_argument(
        "--tokenizer", help="'char', or a saved tokenizer state; default: check the alphabet"
    )
    parser.add_argument("--workers", type=int, default=2, help="threads decoding audio")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _load_tokenizer(name: str | None) -> Encoder | None:
    """None, the character tokenizer, or a tokenizer restored from a saved state dict."""
    if name is None:
        return None
    # imported here: only the CLI needs it
    from deepspeech_tt.data.tokenizer import CharTokenizer, tokenizer_from_state

    if name == "char":
        return CharTokenizer()
    import torch

    if not Path(name).is_file():
        raise DataError(f"--tokenizer {name}: no such file (give 'char' or a saved tokenizer)")
    try:
        state = torch.load(name, weights_only=True)
    except (OSError, RuntimeError, ValueError) as error:  # pickle errors are RuntimeErrors here
        raise DataError(f"--tokenizer {name}: cannot be loaded ({error})") from None
    return tokenizer_from_state(state)


if __name__ == "__main__":
    main()
