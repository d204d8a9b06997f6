"""A comparison of runs written to one directory: the table twice, the plot, TensorBoard events.

:func:`write_comparison` ties the reporting modules together for ``scripts/compare_runs.py``:
:func:`~deepspeech_tt.reporting.runs.find_runs` gathers the runs,
:mod:`~deepspeech_tt.reporting.table` tabulates them, :mod:`~deepspeech_tt.reporting.plot` draws
them and puts picture and table where ``tensorboard --logdir outputs`` shows them.

Every file is written whole or not at all (:mod:`deepspeech_tt.atomic`), so that a comparison
interrupted midway leaves the previous one readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deepspeech_tt.atomic import write_text
from deepspeech_tt.reporting.plot import log_to_tensorboard, plot_wer_vs_params
from deepspeech_tt.reporting.runs import RunResult
from deepspeech_tt.reporting.table import to_csv, to_markdown


def write_comparison(runs: Sequence[RunResult], out: str | Path) -> list[Path]:
    """Write ``comparison.md``, ``comparison.csv``, ``wer_vs_params.png`` and events to ``out``.

    Returns:
        The paths written, in that order.
    """
    out = Path(out)
    markdown = write_text(out / "comparison.md", to_markdown(runs))
    table = to_csv(runs, out / "comparison.csv")
    picture = out / "wer_vs_params.png"
    figure = plot_wer_vs_params(runs, picture)
    return [markdown, table, picture, log_to_tensorboard(runs, out, figure)]
