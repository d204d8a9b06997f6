"""The WER-versus-parameters scatter plot of runs, as a PNG and in a TensorBoard events file.

Decisions:

- One series per format (with the cell type where it is not a GRU: "tt LSTM") and decoder, in
  the order of :func:`~deepspeech_tt.reporting.runs.format_position`. The greedy point (filled) is
  :attr:`RunResult.greedy_wer`: the greedy decoding result on the split, else the summary's WER
  on that split. The beam_lm point (hollow) comes from decoding results only. Tensor-format points
  are labelled with their rank. Colours are fixed per format so that two plots read alike.
- A run started from a trained model's weights (``train.py init_from=``, "compressed + tuned")
  is drawn as a triangle (up: greedy, down: beam_lm) in its format's colour, so that compressing
  a large model and training the small one from scratch are told apart at a glance.
- Figures use matplotlib's object API rendered by Agg: the library neither touches pyplot's
  global state nor needs a display.
- The TensorBoard events file (the figure and the Markdown table, at step 0) is written in a
  staging directory and moved into place, replacing the previous comparison's events file in
  that directory (told apart by its name suffix), so that TensorBoard shows the latest
  comparison rather than several at step 0.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch.utils.tensorboard import SummaryWriter

from deepspeech_tt.atomic import write_bytes
from deepspeech_tt.reporting.runs import RunResult, format_position, split_of
from deepspeech_tt.reporting.table import to_markdown

EVENTS_SUFFIX = ".compare_runs"
"""Name suffix of the events file :func:`log_to_tensorboard` writes (and replaces)."""

_COLOURS = {"dense": "black", "tt": "C0", "cp": "C1", "tucker": "C2", "lowrank": "C3"}
_MARKERS = {"greedy": ("o", True), "beam_lm": ("s", False)}  # decoder: (marker, filled)
_COMPRESSED_MARKERS = {"greedy": "^", "beam_lm": "v"}  # runs started from a trained model


def wer_figure(runs: Sequence[RunResult]) -> Figure:
    """WER on the runs' split against total parameters: a series per format and decoder."""
    split = split_of(runs)
    figure = Figure(figsize=(8, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    drawn = [
        _scatter(axes, [run for run in runs if run.series == series
                        and run.compressed == compressed], series, decoder, compressed)
        for series in sorted({run.series for run in runs}, key=format_position)
        for compressed in (False, True)
        for decoder in _MARKERS
    ]  # fmt: skip
    axes.set_xscale("log")
    axes.set_xlabel("parameters (total, log scale)")
    axes.set_ylabel(f"{split} WER")
    axes.set_title(f"WER on {split} versus parameters ({len(runs)} runs)")
    axes.grid(True, which="both", alpha=0.3)
    if any(drawn):
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, f"no WER on {split}", ha="center", transform=axes.transAxes)
    return figure


def plot_wer_vs_params(runs: Sequence[RunResult], path: str | Path) -> Figure:
    """Draw :func:`wer_figure` into a PNG at ``path``; returns the figure for TensorBoard."""
    figure = wer_figure(runs)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes(path, buffer.getvalue())
    return figure


def log_to_tensorboard(runs: Sequence[RunResult], logdir: str | Path, figure: Figure) -> Path:
    """Write ``figure`` and the Markdown table as a TensorBoard events file in ``logdir``.

    Returns:
        The events file; it replaces the one a previous comparison wrote in ``logdir``.
    """
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=logdir, prefix=".tensorboard-"))
    try:
        writer = SummaryWriter(log_dir=str(staging), filename_suffix=EVENTS_SUFFIX)
        split = split_of(runs)
        writer.add_figure(f"comparison/wer_vs_params_{split}", figure, global_step=0, close=False)
        writer.add_text("comparison/table", to_markdown(runs), global_step=0)
        writer.close()
        (events,) = staging.glob(f"events.out.tfevents.*{EVENTS_SUFFIX}")
        for previous in logdir.glob(f"events.out.tfevents.*{EVENTS_SUFFIX}"):
            previous.unlink()
        target = logdir / events.name
        os.replace(events, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _scatter(
    axes: Axes, runs: Sequence[RunResult], series: str, decoder: str, compressed: bool = False
) -> bool:
    """One series' points; a compressed run's as triangles, labelled "compressed + tuned"."""
    points = [
        (run.params_total, wer, run.rank)
        for run in runs
        if (wer := _plotted_wer(run, decoder)) is not None and math.isfinite(wer)
    ]
    if not points:
        return False
    colour = _colour(series)
    marker, filled = _MARKERS[decoder]
    if compressed:
        marker = _COMPRESSED_MARKERS[decoder]
    axes.scatter(
        [p[0] for p in points],
        [p[1] for p in points],
        s=48,
        marker=marker,
        facecolors=colour if filled else "none",
        edgecolors=colour,
        linewidths=1.5,
        label=f"{series} ({decoder}{', compressed + tuned' if compressed else ''})",
    )
    for params, wer, rank in points:
        if rank is not None:
            axes.annotate(
                f"r{rank}",
                (params, wer),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=8,
                color=colour,
            )
    return True


def _plotted_wer(run: RunResult, decoder: str) -> float | None:
    if decoder == "greedy":
        return run.greedy_wer
    scores = run.decoders.get(decoder)
    return None if scores is None else scores.wer


def _colour(fmt: str) -> str:
    if fmt in _COLOURS:
        return _COLOURS[fmt]
    return f"C{4 + sum(ord(char) for char in fmt) % 6}"  # C4..C9, stable for a name
