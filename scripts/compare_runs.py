"""Compare finished training runs: a Markdown and CSV table and a WER-versus-parameters plot.

Every directory under the given roots that holds ``summary.json`` is a run; its decoding results
on ``--split`` (``<run>/decode/results-<split>-<decoder>.json``) add a WER and RTF column per
decoder. Writes ``comparison.md``, ``comparison.csv``, ``wer_vs_params.png`` and a TensorBoard
events file (the plot and the table) to ``--out``, by default ``<first root>/comparison/``, so that
``tensorboard --logdir outputs`` shows them; prints the table and the paths written.

Exit status: 0 when the comparison was written, 1 when no run was found, 2 when a root does not
exist. The logic lives in :mod:`deepspeech_tt.reporting`.

Examples::

    python scripts/compare_runs.py outputs/
    python scripts/compare_runs.py outputs/multirun outputs/tiny_tt --split dev --out /tmp/cmp
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import matplotlib

from deepspeech_tt.reporting.compare import write_comparison
from deepspeech_tt.reporting.runs import find_runs
from deepspeech_tt.reporting.table import to_markdown
from deepspeech_tt.training.summary import SUMMARY_FILE


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("roots", nargs="+", type=Path, help="directories searched for runs")
    parser.add_argument("--out", type=Path, help="output directory (default: ROOT/comparison)")
    parser.add_argument("--split", default="test", help="split of the decoding results (test)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; returns the exit status."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    matplotlib.use("Agg")  # torch's add_figure imports pyplot: never ask for a display
    try:
        runs = find_runs(args.roots, split=args.split)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not runs:
        roots = ", ".join(str(root) for root in args.roots)
        print(f"no runs found: no {SUMMARY_FILE} under {roots}", file=sys.stderr)
        return 1
    written = write_comparison(runs, args.out or args.roots[0] / "comparison")
    print(to_markdown(runs))
    print("\n".join(f"wrote {path}" for path in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
