"""Decode every finished run under the given directories, with and without the language model.

Each run (a directory holding ``summary.json``) has its best checkpoint decoded by
``decode.py``, one command per step, in this order:

1. ``audio=test`` greedy;
2. ``audio=dev decoder=beam_lm tune=true``: the LM weight and word bonus searched on dev and
   stored beside the checkpoint;
3. ``audio=test decoder=beam_lm``: beam search with the LM and the tuned pair.

A step whose result already exists (``<run>/decode/results-test-<decoder>.json``, the
checkpoint's ``<stem>.lm-tuning.json``) is skipped unless ``--force`` is given, so adding a run to a
sweep and calling this again decodes only the new one. A failing step is reported and the
run's later steps skipped; the other runs go on. ``python scripts/compare_runs.py`` then puts
every run in one table and plot. Examples::

    make lm
    python scripts/decode_runs.py outputs/
    python scripts/decode_runs.py outputs/multirun --no-lm --threads 1

Exit status: 0 when every step succeeded or was skipped, 1 when a step failed or no run was
found, 2 when a root does not exist.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from deepspeech_tt.decoding.run import tuning_path
from deepspeech_tt.reporting.runs import RunResult, find_runs
from deepspeech_tt.training.summary import SUMMARY_FILE

DECODE = Path(__file__).resolve().parents[1] / "decode.py"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("roots", nargs="+", type=Path, help="directories searched for runs")
    parser.add_argument("--no-lm", action="store_true", help="greedy only (no LM, no tuning)")
    parser.add_argument("--lm", help="ARPA model (default: decode.py's, <data.root>/lm/3gram.arpa)")
    parser.add_argument("--threads", type=int, help="torch threads of each decode")
    parser.add_argument("--force", action="store_true", help="redo steps whose results exist")
    return parser.parse_args(argv)


def _steps(run_dir: Path, checkpoint: Path, use_lm: bool) -> list[tuple[list[str], Path]]:
    """``(decode.py arguments, the file that shows the step is done)`` of one run."""
    results = run_dir / "decode"
    steps = [(["audio=test"], results / "results-test-greedy.json")]
    if use_lm:
        steps += [
            (["audio=dev", "decoder=beam_lm", "tune=true"], tuning_path(checkpoint)),
            (["audio=test", "decoder=beam_lm"], results / "results-test-beam_lm.json"),
        ]
    return steps


def _best_checkpoint(run: RunResult) -> Path:
    """The run's best checkpoint, as its ``summary.json`` names it; ``ValueError`` when none."""
    if run.best_checkpoint is None:
        raise ValueError("summary.json names no best_checkpoint")
    checkpoint = run.path / run.best_checkpoint
    if not checkpoint.is_file():
        raise ValueError(f"best checkpoint {checkpoint} does not exist")
    return checkpoint


def main(argv: list[str] | None = None) -> int:
    """Decode the runs; returns the exit status."""
    args = _parse_args(argv)
    try:
        runs = find_runs(args.roots)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not runs:
        print(f"error: no {SUMMARY_FILE} under {', '.join(map(str, args.roots))}", file=sys.stderr)
        return 1
    common = ["print_transcripts=false"]
    if args.lm:
        common.append(f"lm={args.lm}")
    if args.threads:
        common.append(f"threads={args.threads}")
    failed = []
    for number, run in enumerate(runs, 1):
        print(f"[{number}/{len(runs)}] {run.path}", flush=True)
        try:
            checkpoint = _best_checkpoint(run)
        except ValueError as error:
            print(f"  skipped: {error}", file=sys.stderr)
            failed.append(run.name)
            continue
        for arguments, done in _steps(run.path, checkpoint, use_lm=not args.no_lm):
            if done.exists() and not args.force:
                print(f"  done already: {' '.join(arguments)} ({done.name})", flush=True)
                continue
            command = [sys.executable, str(DECODE), f"checkpoint={checkpoint}", *arguments]
            print(f"  {' '.join(command[1:] + common)}", flush=True)
            if subprocess.run(command + common, check=False).returncode != 0:
                print(f"  failed: {' '.join(arguments)}; later steps of this run skipped",
                      file=sys.stderr)  # fmt: skip
                failed.append(run.name)
                break
    if failed:
        print(f"error: {len(failed)} run(s) not fully decoded: {', '.join(failed)}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
