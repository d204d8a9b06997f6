"""Run comparison: finding runs, the Markdown and CSV tables, the plot and the command line."""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from deepspeech_tt import atomic
from deepspeech_tt.reporting import plot
from deepspeech_tt.reporting.plot import wer_figure
from deepspeech_tt.reporting.runs import DecodeScores, RunResult, find_runs
from deepspeech_tt.reporting.table import to_csv, to_markdown

SCRIPT = Path(__file__).parents[2] / "scripts" / "compare_runs.py"

TT8 = {"recipe": "tiny_tt", "format": "tt", "rank": 8, "params_total": 61213,
       "params_rnn": 37632, "dev_wer": 0.731, "dev_cer": 0.224, "test_wer": 0.780,
       "test_cer": 0.256, "best_checkpoint": "checkpoints/best-step886-wer0.7309.ckpt",
       "train_seconds": 911.0}  # fmt: skip
"""The contract's example summary."""

SUMMARY_KEYS = ("recipe", "format", "rank", "params_total", "params_rnn", "dev_wer", "dev_cer",
                "test_wer", "test_cer")  # fmt: skip
DENSE, SWEEP = "tiny_dense/2026-01-01_00-00-00", "multirun/2026-01-02_00-00-00"
RUNS = {
    DENSE: ("tiny_dense", "dense", None, 150000, 120000, 0.7, 0.2, 0.72, 0.21),
    f"{SWEEP}/rank=2": ("tiny_tt", "tt", 2, 40000, 16000, 0.9, 0.4, None, None),
    f"{SWEEP}/rank=4": ("tiny_tt", "tt", 4, 50000, 26000, 0.8, 0.3, 0.82, 0.31),
    f"{SWEEP}/rank=8": tuple(TT8[key] for key in SUMMARY_KEYS),
}
"""The valid runs of the ``root`` fixture (values in ``SUMMARY_KEYS`` order), in table order."""


def _summary(**fields: Any) -> dict[str, Any]:
    return {**TT8, **fields}


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _write_decode(run: Path, split: str, decoder: str, **scores: object) -> None:
    result = {"checkpoint": f"{run}/checkpoints/best.ckpt", "audio": split, "split": split,
              "decoder": decoder, "utterances": 75, "audio_seconds": 301.2, "wer": None,
              "cer": None, "rtf": None, "rtf_search": 0.001, "lm": None, "lm_weight": None,
              "word_score": None, "beam_size": None, **scores}  # fmt: skip
    _write_json(run / "decode" / f"results-{split}-{decoder}.json", result)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The runs of ``RUNS`` (dense and rank 4 decoded) and a broken summary.json."""
    root = tmp_path / "outputs"
    for name, values in RUNS.items():
        _write_json(
            root / name / "summary.json", _summary(**dict(zip(SUMMARY_KEYS, values, strict=True)))
        )
    dense, rank4 = root / DENSE, root / SWEEP / "rank=4"
    _write_decode(dense, "test", "greedy", wer=0.725, cer=0.211, rtf=0.02)
    _write_decode(rank4, "test", "greedy", wer=0.815, cer=0.305, rtf=0.012)
    _write_decode(rank4, "test", "beam_lm", wer=0.70, cer=0.25, rtf=0.05, lm="lm.arpa")
    _write_decode(rank4, "dev", "greedy", wer=0.79, cer=0.29, rtf=0.011)
    _write_decode(rank4, "test-clean", "greedy", wer=0.5, cer=0.1, rtf=0.01)
    (rank4 / "decode" / "results-test-beam.json").write_text("{")
    (root / "broken").mkdir()
    (root / "broken" / "summary.json").write_text('{"recipe": "tiny_tt", "format"')
    return root


def _names(runs: list[RunResult]) -> list[str]:
    return [run.name for run in runs]


def test_find_runs_finds_the_valid_runs_and_warns_about_the_malformed_one(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        runs = find_runs([root])
    assert _names(runs) == list(RUNS)
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert str(root / "broken" / "summary.json") in warned
    assert str(root / SWEEP / "rank=4/decode/results-test-beam.json") in warned
    rank8 = runs[-1]
    assert (rank8.recipe, rank8.format, rank8.rank) == ("tiny_tt", "tt", 8)
    assert (rank8.params_total, rank8.params_rnn, rank8.test_wer) == (61213, 37632, 0.780)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[1, 2]",
        json.dumps(_summary(format=None)),
        json.dumps(_summary(rank="4")),
        json.dumps(_summary(params_total="61k")),
        json.dumps(_summary(dev_wer=True)),
    ],
)
def test_a_malformed_summary_is_skipped_with_a_warning(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    _write_json(tmp_path / "good" / "summary.json", TT8)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text(content)
    with caplog.at_level(logging.WARNING):
        assert _names(find_runs([tmp_path])) == ["good"]
    assert str(tmp_path / "bad" / "summary.json") in caplog.text


def test_a_missing_root_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_runs([tmp_path, tmp_path / "nowhere"])


def test_overlapping_roots_list_a_run_once_named_after_its_own_root(root: Path) -> None:
    run = root / SWEEP / "rank=8"
    assert _names(find_runs([run, root / "multirun"])) == [
        "2026-01-02_00-00-00/rank=2",
        "2026-01-02_00-00-00/rank=4",
        "rank=8",
    ]


def test_decoding_results_are_those_of_the_chosen_split(root: Path) -> None:
    rank4 = find_runs([root])[2]
    assert dict(rank4.decoders) == {
        "greedy": DecodeScores(0.815, 0.305, 0.012),
        "beam_lm": DecodeScores(0.70, 0.25, 0.05),
    }
    assert dict(find_runs([root], split="dev")[2].decoders) == {
        "greedy": DecodeScores(0.79, 0.29, 0.011)
    }
    assert set(find_runs([root], split="test-clean")[2].decoders) == {"greedy"}


def _markdown_rows(markdown: str) -> list[dict[str, str]]:
    lines = markdown.strip().splitlines()
    header, rule, *body = ([cell.strip() for cell in line.strip("|").split("|")] for line in lines)
    assert set("".join(rule)) <= {"-", ":"}
    return [dict(zip(header, row, strict=True)) for row in body]


def test_markdown_table_has_a_row_per_run_with_its_numbers(root: Path) -> None:
    rows = _markdown_rows(to_markdown(find_runs([root])))
    assert [(row["run"], row["format"]) for row in rows] == [
        (name, values[1]) for name, values in RUNS.items()
    ]
    assert rows[0]["rank"] == "-"
    assert rows[3] == {
        "run": "multirun/2026-01-02_00-00-00/rank=8",
        "recipe": "tiny_tt",
        "format": "tt",
        "rank": "8",
        "recurrent layers": "GRU tt r8",  # a summary from before rnn_label: format and rank
        "params": "61,213",
        "RNN params": "37,632",
        "dev WER": "0.731",
        "dev CER": "0.224",
        "test WER": "0.780",
        "test CER": "0.256",
        "test WER (greedy)": "-",
        "RTF (greedy)": "-",
        "test WER (beam_lm)": "-",
        "RTF (beam_lm)": "-",
    }
    assert (rows[2]["test WER (greedy)"], rows[2]["RTF (greedy)"]) == ("0.815", "0.012")
    assert (rows[2]["test WER (beam_lm)"], rows[2]["RTF (beam_lm)"]) == ("0.700", "0.05")
    assert (rows[1]["test WER"], rows[1]["test CER"]) == ("-", "-")


def test_a_run_trained_without_a_recipe_is_listed(tmp_path: Path) -> None:
    _write_json(tmp_path / "run" / "summary.json", _summary(recipe=None))
    (row,) = _markdown_rows(to_markdown(find_runs([tmp_path])))
    assert (row["recipe"], row["format"], row["rank"]) == ("-", "tt", "8")


def test_csv_reads_back_with_raw_values_and_empty_missing_cells(root: Path) -> None:
    path = root / "table.csv"
    to_csv(find_runs([root]), path)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row, values in zip(rows, RUNS.values(), strict=True):
        summary = dict(zip(SUMMARY_KEYS, values, strict=True))
        assert row["params"] == str(summary["params_total"])
        assert row["test WER"] == ("" if summary["test_wer"] is None else str(summary["test_wer"]))
    assert float(rows[3]["test WER"]) == 0.780
    assert rows[3]["test WER (greedy)"] == ""
    assert float(rows[2]["test WER (beam_lm)"]) == 0.70
    assert rows[0]["rank"] == ""


def test_a_write_interrupted_midway_leaves_the_previous_file(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = find_runs([root])
    path = root / "table.csv"
    to_csv(runs[:1], path)
    before = path.read_text()

    def killed(fd: int) -> None:
        raise KeyboardInterrupt  # as a signal arriving mid-write

    monkeypatch.setattr(atomic.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        to_csv(runs, path)
    assert path.read_text() == before
    assert not list(root.glob(".table.csv.*"))  # the temporary file is gone


def test_plot_shows_greedy_filled_and_beam_lm_hollow_per_format(root: Path) -> None:
    axes = wer_figure(find_runs([root])).axes[0]
    series = {collection.get_label(): collection for collection in axes.collections}
    assert list(series) == ["dense (greedy)", "tt (greedy)", "tt (beam_lm)"]
    # greedy: the decoding result (rank 4), else the summary's test WER (rank 8); rank 2 has none
    greedy, beam_lm = series["tt (greedy)"], series["tt (beam_lm)"]
    assert np.asarray(greedy.get_offsets()).tolist() == [[50000, 0.815], [61213, 0.780]]
    assert np.asarray(beam_lm.get_offsets()).tolist() == [[50000, 0.70]]
    tt_colour = list(matplotlib.colors.to_rgba(plot._colour("tt")))
    assert np.asarray(greedy.get_facecolor()).tolist() == [tt_colour]  # filled
    assert np.asarray(beam_lm.get_edgecolor()).tolist() == [tt_colour]
    assert not np.asarray(beam_lm.get_facecolor())[..., 3].any()  # hollow: no visible fill
    assert sorted(text.get_text() for text in axes.texts) == ["r4", "r4", "r8"]
    assert axes.get_xscale() == "log"
    assert "test" in axes.get_title() and "test" in axes.get_ylabel()


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_runs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cli_main() -> Callable[[list[str]], int]:
    return _load_script().main


def test_cli_writes_table_csv_png_and_tensorboard_events(
    root: Path,
    tmp_path: Path,
    cli_main: Callable[[list[str]], int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "cmp"
    assert cli_main([str(root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"| {SWEEP}/rank=8 " in printed
    assert f"wrote {out / 'comparison.md'}" in printed
    assert len(_markdown_rows((out / "comparison.md").read_text())) == 4
    assert len(list(csv.DictReader((out / "comparison.csv").read_text().splitlines()))) == 4
    png = out / "wer_vs_params.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(png).shape == (500, 800, 4)
    (events,) = out.glob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    assert accumulator.Tags()["images"] == ["comparison/wer_vs_params_test"]
    (text,) = accumulator.Tensors("comparison/table/text_summary")
    assert f"| {SWEEP}/rank=8 ".encode() in text.tensor_proto.string_val[0]


def test_cli_writes_under_the_first_root_by_default_and_replaces_its_events(
    root: Path, tmp_path: Path, cli_main: Callable[[list[str]], int]
) -> None:
    other = tmp_path / "other"
    _write_json(other / "run" / "summary.json", TT8)
    assert cli_main([str(root), str(other)]) == 0
    assert cli_main([str(root), str(other)]) == 0
    out = root / "comparison"
    assert len(_markdown_rows((out / "comparison.md").read_text())) == 5
    assert len(list(out.glob("events.out.tfevents.*"))) == 1
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("events")) == [
        "comparison.csv",
        "comparison.md",
        "wer_vs_params.png",
    ]


def test_cli_returns_1_when_no_run_is_found(
    tmp_path: Path, cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main([str(tmp_path)]) == 1
    assert str(tmp_path) in capsys.readouterr().err
    assert not (tmp_path / "comparison").exists()


def test_cli_returns_2_for_a_missing_root(
    tmp_path: Path, cli_main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main([str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_lstm_and_hybrid_runs_are_labelled_by_their_whole_stack(tmp_path: Path) -> None:
    hybrid = _summary(format="toeplitz+lowrank", rank=None,
                      rnn_label="GRU toeplitz r4 + lowrank r32 x2, shared V")
    lstm = _summary(rnn_type="lstm", rnn_label="LSTM tt r8 x3")
    _write_json(tmp_path / "hybrid" / "summary.json", hybrid)
    _write_json(tmp_path / "lstm" / "summary.json", lstm)
    _write_json(tmp_path / "gru" / "summary.json", TT8)
    runs = {run.name: run for run in find_runs([tmp_path])}
    assert runs["hybrid"].label == "GRU toeplitz r4 + lowrank r32 x2, shared V"
    assert {name: run.series for name, run in runs.items()} == {
        "hybrid": "toeplitz+lowrank", "lstm": "tt LSTM", "gru": "tt"}  # fmt: skip
    rows = _markdown_rows(to_markdown(list(runs.values())))
    assert {row["run"]: row["recurrent layers"] for row in rows} == {
        "hybrid": "GRU toeplitz r4 + lowrank r32 x2, shared V", "lstm": "LSTM tt r8 x3",
        "gru": "GRU tt r8"}  # fmt: skip
    legend = wer_figure(list(runs.values())).axes[0].get_legend()
    assert legend is not None
    entries = [text.get_text() for text in legend.get_texts()]
    assert "tt LSTM (greedy)" in entries and "tt (greedy)" in entries


def test_a_compressed_and_fine_tuned_run_is_told_apart_from_one_trained_small(
    tmp_path: Path,
) -> None:
    origin = {"source": "/runs/dense/best.ckpt", "source_blake2b": "ab" * 32, "fine_tuned": True,
              "max_error": 0.41, "fits": []}  # fmt: skip
    _write_json(tmp_path / "scratch" / "summary.json", TT8)
    _write_json(tmp_path / "tuned" / "summary.json", _summary(init_from=origin, test_wer=0.7))
    runs = {run.name: run for run in find_runs([tmp_path])}
    assert runs["tuned"].compressed and not runs["scratch"].compressed
    rows = _markdown_rows(to_markdown(list(runs.values())))
    assert {row["run"]: row["recurrent layers"] for row in rows} == {
        "scratch": "GRU tt r8", "tuned": "GRU tt r8 (compressed)"}  # fmt: skip
    axes = wer_figure(list(runs.values())).axes[0]
    series = {collection.get_label(): collection for collection in axes.collections}
    assert list(series) == ["tt (greedy)", "tt (greedy, compressed + tuned)"]
    assert np.asarray(series["tt (greedy, compressed + tuned)"].get_offsets()).tolist() == [
        [61213, 0.7]
    ]
    markers = [collection.get_paths()[0] for collection in series.values()]
    assert len(markers[0].vertices) != len(markers[1].vertices)  # a circle and a triangle
