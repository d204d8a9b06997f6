"""``scripts/decode_runs.py``: every run of a sweep decoded greedily and with the tuned LM."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from deepspeech_tt.decoding.lm import write_arpa
from deepspeech_tt.reporting.runs import find_runs
from tests.scripts import load_script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def decode_runs() -> Callable[[list[str]], int]:
    return load_script("decode_runs").main  # type: ignore[no-any-return]


def _copy_run(short_run: Path, destination: Path) -> Path:
    shutil.copytree(short_run, destination, ignore=shutil.ignore_patterns("decode", "*.json"))
    shutil.copy(short_run / "summary.json", destination / "summary.json")
    return destination


def test_each_run_gets_greedy_and_tuned_lm_results_and_a_rerun_skips_them(
    short_run: Path,
    tiny_corpus: Path,
    tmp_path: Path,
    decode_runs: Callable[[list[str]], int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sweep = tmp_path / "multirun"
    for rank in (2, 4):
        _copy_run(short_run, sweep / f"rank={rank}")
    lm = write_arpa((tiny_corpus / "lm_text.txt").read_text().splitlines(), tmp_path / "3g.arpa")

    assert decode_runs([str(sweep), f"--lm={lm}", "--threads=1"]) == 0

    runs = find_runs([sweep])
    assert [run.name for run in runs] == ["rank=2", "rank=4"]
    summary = json.loads((short_run / "summary.json").read_text())
    for run in runs:
        assert set(run.decoders) == {"greedy", "beam_lm"}
        assert run.decoders["greedy"].wer == pytest.approx(summary["test_wer"], abs=1e-6)
        (tuning,) = (run.path / "checkpoints").glob("*.lm-tuning.json")
        tuned = json.loads(tuning.read_text())
        beam_lm = json.loads((run.path / "decode" / "results-test-beam_lm.json").read_text())
        assert (beam_lm["lm_weight"], beam_lm["word_score"]) == (
            tuned["lm_weight"], tuned["word_score"])  # fmt: skip
    capsys.readouterr()

    assert decode_runs([str(sweep), f"--lm={lm}"]) == 0
    assert capsys.readouterr().out.count("done already") == 3 * len(runs)


def test_a_run_without_its_checkpoint_is_reported_and_the_others_decoded(
    short_run: Path,
    tmp_path: Path,
    decode_runs: Callable[[list[str]], int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = _copy_run(short_run, tmp_path / "runs" / "a_broken")
    shutil.rmtree(broken / "checkpoints")
    good = _copy_run(short_run, tmp_path / "runs" / "b_good")

    assert decode_runs([str(tmp_path / "runs"), "--no-lm"]) == 1

    assert "a_broken" in capsys.readouterr().err
    assert (good / "decode" / "results-test-greedy.json").is_file()
    assert not (good / "decode" / "results-test-beam_lm.json").exists()
    assert decode_runs([str(tmp_path / "nowhere")]) == 2
