"""Finished runs read back from disk: their ``summary.json`` and their decoding results.

A run is any directory holding ``summary.json`` (written at the end of training, see
:mod:`deepspeech_tt.training.summary`); its decoding results are
``<run>/decode/results-<split>-<decoder>.json`` (see :mod:`deepspeech_tt.decoding.run`).

Decisions:

- Decoding results are matched on the ``split`` and ``decoder`` fields inside each file, not on
  its name, so that the split ``test`` never picks up ``results-test-clean-greedy.json``.
- A malformed ``summary.json`` or result file (bad JSON, a missing or mistyped field) is logged
  as a warning naming its path and skipped; a root that does not exist is an error. Absent
  optional fields (recipe, rank, metrics) count as null; a summary from before the stack was
  described (no ``rnn_type``, ``rnn_label``) is a GRU labelled by its format and rank.
- A run's series (the plot's colour and legend entry) is its format, and its cell type where
  it is not a GRU ("tt LSTM"), so that LSTM and hybrid runs stand apart.
- A run is named by its path relative to the root it was found under (the root's own name when
  the root is the run); a run reached through two overlapping roots is listed once.
- Runs come sorted by format in the order dense, tt, cp, tucker, lowrank (the dense baseline
  first, unknown formats after it alphabetically), then by total parameters: the order of the
  table's rows and of the plot's series.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from deepspeech_tt.training.summary import SUMMARY_FILE

log = logging.getLogger(__name__)

DECODE_RESULTS = "decode/results-*.json"
FORMAT_ORDER = ("dense", "tt", "cp", "tucker", "lowrank")
SUMMARY_METRICS = ("dev_wer", "dev_cer", "test_wer", "test_cer")
"""The metrics of ``summary.json``, named ``<split>_<metric>``."""


class DecodeScores(NamedTuple):
    """One decoder's scores on one split; ``None`` where the result file has none."""

    wer: float | None
    cer: float | None
    rtf: float | None


@dataclass(frozen=True)
class RunResult:
    """One training run: its ``summary.json`` and its decoding results on one split."""

    path: Path  # the run directory
    name: str  # path relative to the root it was found under
    recipe: str | None  # None when trained without a recipe
    format: str
    rank: int | None  # None for dense
    params_total: int
    params_rnn: int
    dev_wer: float | None
    dev_cer: float | None
    test_wer: float | None
    test_cer: float | None
    best_checkpoint: str | None = None  # relative to ``path``; None when the run saved none
    rnn_type: str = "gru"  # the recurrent cell
    rnn_label: str | None = None  # the whole stack, e.g. "GRU toeplitz r4 + lowrank r32 x2"
    split: str = "test"  # the split of ``decoders``
    decoders: Mapping[str, DecodeScores] = field(default_factory=dict)  # decoder -> scores
    compressed: bool = False  # started from a trained model's weights (``init_from``)

    @property
    def label(self) -> str:
        """The recurrent stack in words (from the summary, or its format and rank), marked
        "(compressed)" for a run that started from a trained model's weights."""
        rank = "" if self.rank is None else f" r{self.rank}"
        label = self.rnn_label or f"{self.rnn_type.upper()} {self.format}{rank}"
        return f"{label} (compressed)" if self.compressed else label

    @property
    def series(self) -> str:
        """The plot series: the format, with the cell type unless it is a GRU."""
        return self.format if self.rnn_type == "gru" else f"{self.format} {self.rnn_type.upper()}"

    @property
    def greedy_wer(self) -> float | None:
        """Greedy WER on ``split``: the decoding result, else the summary's WER on that split.

        Training scores dev and test greedily, so the summary stands in for a missing decoding.
        """
        scores = self.decoders.get("greedy")
        if scores is not None and scores.wer is not None:
            return scores.wer
        return {"dev": self.dev_wer, "test": self.test_wer}.get(self.split)


def find_runs(roots: Iterable[str | Path], split: str = "test") -> list[RunResult]:
    """Every run under ``roots``, sorted by format then total parameters.

    Args:
        roots: directories searched recursively for ``summary.json``.
        split: the split whose decoding results are read.

    Returns:
        The runs whose ``summary.json`` is well formed (the others are logged and skipped).

    Raises:
        FileNotFoundError: a root does not exist or is not a directory.
    """
    root_paths = [Path(root) for root in roots]
    missing = [str(root) for root in root_paths if not root.is_dir()]
    if missing:
        raise FileNotFoundError(f"run root not found (or not a directory): {', '.join(missing)}")
    runs: dict[Path, RunResult] = {}
    for root in root_paths:
        for summary in _summary_files(root):
            key = summary.parent.resolve()
            if key not in runs and (run := _load_run(summary, root, split)) is not None:
                runs[key] = run
    return sorted(runs.values(), key=_sort_key)


def split_of(runs: Sequence[RunResult]) -> str:
    """The split of the runs' decoding results (``test`` when there are no runs)."""
    return runs[0].split if runs else "test"


def format_position(fmt: str) -> tuple[int, str]:
    """Sort key of a tensor format: its place in ``FORMAT_ORDER``, unknown ones after by name."""
    known = fmt in FORMAT_ORDER
    return (FORMAT_ORDER.index(fmt), "") if known else (len(FORMAT_ORDER), fmt)


def _sort_key(run: RunResult) -> tuple[int, str, int, str]:
    return (*format_position(run.format), run.params_total, run.name)


def _summary_files(root: Path) -> list[Path]:
    found = []
    for directory, subdirectories, files in os.walk(root):  # symlinked directories not followed
        subdirectories.sort()
        if SUMMARY_FILE in files:
            found.append(Path(directory) / SUMMARY_FILE)
    return found


def _load_run(summary: Path, root: Path, split: str) -> RunResult | None:
    try:
        data = _read_object(summary)
        run = RunResult(
            path=summary.parent,
            name=_run_name(summary.parent, root),
            recipe=_field(data, "recipe", str, optional=True),
            format=_field(data, "format", str),
            rank=_field(data, "rank", int, optional=True),
            params_total=_field(data, "params_total", int),
            params_rnn=_field(data, "params_rnn", int),
            **{key: _field(data, key, float, optional=True) for key in SUMMARY_METRICS},
            best_checkpoint=_field(data, "best_checkpoint", str, optional=True),
            rnn_type=_field(data, "rnn_type", str, optional=True) or "gru",
            rnn_label=_field(data, "rnn_label", str, optional=True),
            compressed=data.get("init_from") is not None,
        )
    except (OSError, ValueError) as error:
        log.warning("skipping run with malformed %s: %s", summary, error)
        return None
    return replace(run, split=split, decoders=_load_decoders(summary.parent, split))


def _load_decoders(run_dir: Path, split: str) -> dict[str, DecodeScores]:
    decoders = {}
    for path in sorted(run_dir.glob(DECODE_RESULTS)):
        try:
            data = _read_object(path)
            result_split, decoder = _field(data, "split", str), _field(data, "decoder", str)
            scores = DecodeScores(
                *(_field(data, key, float, optional=True) for key in DecodeScores._fields)
            )
        except (OSError, ValueError) as error:
            log.warning("skipping malformed decoding result %s: %s", path, error)
            continue
        if result_split == split:
            decoders[decoder] = scores
    return decoders


def _read_object(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but {type(data).__name__}")
    return data


def _field(data: Mapping[str, Any], key: str, kind: type, optional: bool = False) -> Any:
    """``data[key]`` checked to be a ``kind`` (ints pass as floats; bools never pass)."""
    value = data.get(key)
    if value is None:
        if optional:
            return None
        raise ValueError(f"{key!r} is missing or null")
    accepted = (int, float) if kind is float else kind
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise ValueError(f"{key!r} should be {kind.__name__}, not {value!r}")
    return float(data[key]) if kind is float else value  # data[key]: not narrowed to object


def _run_name(run_dir: Path, root: Path) -> str:
    relative = run_dir.relative_to(root).as_posix()
    return relative if relative != "." else root.resolve().name
