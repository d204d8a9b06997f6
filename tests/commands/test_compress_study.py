"""``scripts/compress_study.py``: a trained checkpoint compressed, fine-tuned and scored, and a
second call that finds every step done."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from deepspeech_tt.decoding.lm import write_arpa
from tests.scripts import load_script

pytestmark = pytest.mark.slow


def _study() -> Callable[[list[str]], int]:
    return load_script("compress_study").main  # type: ignore[no-any-return]


def test_each_target_is_compressed_fine_tuned_and_scored_and_a_rerun_does_nothing(
    best: Path, training_overrides: Callable[..., list[str]], tiny_corpus: Path,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "run" / "checkpoints" / best.name  # the study writes its LM tuning beside
    source.parent.mkdir(parents=True)
    shutil.copy(best, source)
    shutil.copy(best.parent.parent / "summary.json", tmp_path / "run" / "summary.json")
    lm = write_arpa((tiny_corpus / "lm_text.txt").read_text().splitlines(), tmp_path / "3g.arpa")
    scratch = tmp_path / "scratch.csv"
    scratch.write_text("label,params_rnn,minutes,test_wer_greedy,test_cer_greedy,test_wer_lm,"
                       "test_cer_lm\ntt rank 2,900,15,0.9,0.5,0.8,0.4\n")  # fmt: skip
    train = training_overrides("features.normalize=global", "trainer.max_steps=2",
                               "trainer.limit_val_batches=1", "trainer.test_after_fit=false")
    arguments = [str(source), "--out", str(tmp_path / "study"), "--targets", "tt:2",
                 "--lm", str(lm), "--threads", "1", "--scratch", str(scratch),
                 *(f"--train-arg={arg}" for arg in train)]  # fmt: skip

    assert _study()(arguments) == 0

    result = json.loads((tmp_path / "study" / "tt-r2" / "result.json").read_text())
    summary = json.loads((tmp_path / "study" / "tt-r2" / "finetune" / "summary.json").read_text())
    assert summary["init_from"]["source"] == str(source.resolve())
    assert summary["init_from"]["fine_tuned"] is True
    assert result["params_rnn"] == summary["params_rnn"] < 20_000
    assert 0 < result["max_fit_error"] < 1
    for path in ("compressed", "finetuned"):
        assert set(result[path]) >= {"test_wer_greedy", "test_cer_greedy", "test_wer_lm",
                                     "test_cer_lm", "lm_weight", "word_score"}  # fmt: skip
    table = (tmp_path / "study" / "study.md").read_text()
    assert "| tt rank 2 |" in table and "| the source |" in table
    assert "| compressed + fine-tuned |" in table and "| from scratch |" in table
    assert (tmp_path / "study" / "study.png").stat().st_size > 10_000
    capsys.readouterr()

    assert _study()(arguments) == 0
    assert "$ " not in capsys.readouterr().out  # nothing run again
