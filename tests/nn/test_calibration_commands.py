"""The calibration command and the benchmark that checks ``auto`` run end to end, small."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepspeech_tt.nn import calibrate
from deepspeech_tt.nn.cells import CELLS
from deepspeech_tt.nn.strategies import STRATEGIES, rates
from deepspeech_tt.tensor.registry import FORMATS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_calibrate_writes_every_rate_and_every_format_it_can_time(tmp_path: Path) -> None:
    path = calibrate.main(["--output", str(tmp_path / "rates.json")])
    stored = rates.load(path)
    factorized = {name for name in FORMATS if name != "dense"}
    assert set(stored.slowdowns) == factorized
    assert all(s.step_overhead is not None and s.step_overhead > 0
               for s in stored.slowdowns.values())  # fmt: skip
    assert stored.gemm_macs_per_s != rates.GEMM_MACS_PER_S  # measured, not the defaults
    assert set(stored.fused) == {cell.name for cell in CELLS.values() if cell.has_fused}
    assert all(factor > 0 and factor != 1.0 for speed in stored.fused.values()
               for factor in (*speed.forward, *speed.training))  # fmt: skip


def test_the_benchmark_times_every_strategy_and_judges_auto(tmp_path: Path) -> None:
    raw = tmp_path / "raw.jsonl"
    report = tmp_path / "report.md"
    environment = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}  # no calibration cached
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_rnn.py"), "--cell", "gru", "lstm",
         "--hidden", "32", "--batch", "2", "--formats", "tt", "cp", "--ranks", "2", "--steps",
         "4", "--repeats", "1", "--no-memory", "--raw", str(raw), "--output", str(report)],
        capture_output=True, text=True, check=True, env=environment,
    )  # fmt: skip
    cases = [json.loads(line) for line in raw.read_text().splitlines()]
    assert [(c["cell"], c["format"]) for c in cases] == [
        ("gru", "tt"), ("gru", "cp"), ("lstm", "tt"), ("lstm", "cp")
    ]
    for case in cases:
        assert set(case["seconds"]) == {f"{r}/{m}" for r in ("dense", *STRATEGIES)
                                        for m in ("fwd", "train")}  # fmt: skip
        assert set(case["plans"].values()) <= set(STRATEGIES)
    assert "auto's choice within 1.05x of the fastest strategy in" in result.stdout
    assert "of 8 (case, mode) pairs" in result.stdout
    assert "built-in rates" in result.stdout
    assert report.read_text().splitlines()[-1] in result.stdout
