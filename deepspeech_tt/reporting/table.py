"""The comparison table of runs, one row per run in the order given, as Markdown or CSV.

Columns: the run's name, recipe, format, rank and recurrent layers (the whole stack: cell, each
layer's format and rank, shared factors), its total and RNN parameters, the dev and test
WER and CER of its ``summary.json``, then a WER and a real-time-factor column per decoder with
results on the runs' split (greedy, beam, beam_lm, then unknown decoders by name).

Decisions:

- WER and CER are fractions, as training and decoding write them, shown with 3 decimals
  (``0.731``), not as percentages: the table reads like ``summary.json``.
- Markdown shows "-" for a missing value, parameter counts with thousands separators and
  real-time factors with 3 significant digits (they span orders of magnitude); its columns are
  padded so that the table lines up in plain text too.
- The CSV keeps values as read: full floats, raw integers, an empty cell for a missing value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from deepspeech_tt.atomic import write_text
from deepspeech_tt.reporting.runs import SUMMARY_METRICS, RunResult, split_of

DECODER_ORDER = ("greedy", "beam", "beam_lm")

Cell = str | int | float | None


@dataclass(frozen=True)
class _Column:
    title: str
    value: Callable[[RunResult], Cell]
    shown: Callable[[Any], str]  # Markdown text of a present value
    numeric: bool = True


def to_markdown(runs: Sequence[RunResult]) -> str:
    """The runs as a Markdown table, one row per run, columns padded to line up in plain text."""
    columns = _columns(runs)
    header = [column.title for column in columns]
    body = [[_markdown_cell(column, run) for column in columns] for run in runs]
    widths = [max(3, *(len(cell) for cell in cells)) for cells in zip(header, *body, strict=True)]
    rule = [
        ("-" * (w - 1) + ":") if c.numeric else "-" * w
        for c, w in zip(columns, widths, strict=True)
    ]
    rows = [_markdown_row(cells, widths, columns) for cells in (header, *body)]
    return "\n".join([rows[0], "| " + " | ".join(rule) + " |", *rows[1:]]) + "\n"


def to_csv(runs: Sequence[RunResult], path: str | Path) -> Path:
    """Write the runs' table to ``path`` as CSV (raw values, empty cells where missing)."""
    columns = _columns(runs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.title for column in columns])
    for run in runs:
        writer.writerow(
            ["" if (value := column.value(run)) is None else value for column in columns]
        )
    return write_text(path, buffer.getvalue())


def _columns(runs: Sequence[RunResult]) -> list[_Column]:
    columns = [
        _Column("run", attrgetter("name"), str, numeric=False),
        _Column("recipe", attrgetter("recipe"), str, numeric=False),
        _Column("format", attrgetter("format"), str, numeric=False),
        _Column("rank", attrgetter("rank"), str),
        _Column("recurrent layers", attrgetter("label"), str, numeric=False),
        _Column("params", attrgetter("params_total"), "{:,}".format),
        _Column("RNN params", attrgetter("params_rnn"), "{:,}".format),
        *(_Column(_metric_title(key), attrgetter(key), _rate) for key in SUMMARY_METRICS),
    ]
    split = split_of(runs)
    for decoder in _decoders_present(runs):
        columns.append(_Column(f"{split} WER ({decoder})", _decoder_score(decoder, "wer"), _rate))
        columns.append(_Column(f"RTF ({decoder})", _decoder_score(decoder, "rtf"), "{:.3g}".format))
    return columns


def _metric_title(key: str) -> str:
    split, metric = key.split("_")  # "dev_wer" -> "dev WER"
    return f"{split} {metric.upper()}"


def _rate(value: float) -> str:
    return f"{value:.3f}"


def _decoders_present(runs: Sequence[RunResult]) -> list[str]:
    present = {decoder for run in runs for decoder in run.decoders}
    known = [decoder for decoder in DECODER_ORDER if decoder in present]
    return known + sorted(present - set(DECODER_ORDER))


def _decoder_score(decoder: str, score: str) -> Callable[[RunResult], Cell]:
    def value(run: RunResult) -> Cell:
        scores = run.decoders.get(decoder)
        return None if scores is None else getattr(scores, score)

    return value


def _markdown_cell(column: _Column, run: RunResult) -> str:
    value = column.value(run)
    return "-" if value is None else column.shown(value).replace("|", "\\|")


def _markdown_row(cells: Sequence[str], widths: Sequence[int], columns: Sequence[_Column]) -> str:
    padded = [
        cell.rjust(w) if column.numeric else cell.ljust(w)
        for cell, w, column in zip(cells, widths, columns, strict=True)
    ]
    return "| " + " | ".join(padded) + " |"
