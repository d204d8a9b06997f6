"""``decode.py`` end to end on a checkpoint trained in the session: files, scores, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile
import torch

from deepspeech_tt.decoding.cli import main
from deepspeech_tt.decoding.lm import write_arpa

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def arpa(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (tiny_corpus / "lm_text.txt").read_text().splitlines()
    return write_arpa(text, tmp_path_factory.mktemp("lm") / "3gram.arpa")


def _decode(*args: str) -> int:
    return main(["print_transcripts=false", *args])


def test_greedy_decode_of_the_test_split_reproduces_the_training_score(
    short_run: Path, best: Path, tmp_path: Path
) -> None:
    assert _decode(f"checkpoint={best}", "audio=test", f"out={tmp_path}") == 0
    results = json.loads((tmp_path / "results-test-greedy.json").read_text())
    summary = json.loads((short_run / "summary.json").read_text())
    assert results["wer"] == pytest.approx(summary["test_wer"], abs=1e-6)
    assert results["cer"] == pytest.approx(summary["test_cer"], abs=1e-6)
    assert results["utterances"] == 4 and results["rtf"] > 0
    recogs = (tmp_path / "recogs-test-greedy.txt").read_text().splitlines()
    refs = [line.split("ref=", 1)[1] for line in recogs if "\tref=" in line]
    hyps = [line.split("hyp=", 1)[1] for line in recogs if "\thyp=" in line]
    assert jiwer.wer(refs, hyps) == pytest.approx(results["wer"])
    summary_lines = (tmp_path / "wer-summary-test-greedy.txt").read_text()
    assert summary_lines.startswith(f"%WER {100 * results['wer']:.2f}")
    assert len((tmp_path / "errs-test-greedy.txt").read_text().splitlines()) == 3 + 4


def test_results_go_to_the_run_directory_by_default(short_run: Path, best: Path) -> None:
    assert _decode(f"checkpoint={best}", "audio=dev") == 0
    assert (short_run / "decode" / "results-dev-greedy.json").is_file()


def test_a_directory_of_any_rate_and_channels_is_decoded_and_a_bad_file_skipped(
    tiny_corpus: Path, best: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = sorted((tiny_corpus / "test").rglob("*.flac"))[0]
    wave, rate = soundfile.read(source, dtype="float32")
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(source, clips / "mono16k.flac")
    soundfile.write(clips / "stereo16k.wav", np.stack([wave, wave], axis=1), rate)
    soundfile.write(clips / "mono8k.wav", wave[::2], 8000)
    (clips / "broken.wav").write_bytes(b"RIFF not really a wave file")
    assert main([f"checkpoint={best}", f"audio={clips}", f"out={tmp_path / 'out'}"]) == 0
    printed = dict(line.split(" ", 1) for line in capsys.readouterr().out.splitlines() if line)
    assert set(printed) == {"mono16k", "stereo16k", "mono8k"}
    assert printed["stereo16k"] == printed["mono16k"]  # channels averaged: the same samples
    assert not (tmp_path / "out" / "recogs-clips-greedy.txt").exists()  # no references
    results = json.loads((tmp_path / "out" / "results-clips-greedy.json").read_text())
    assert results["skipped"] == 1 and results["wer"] is None


def test_beam_search_with_the_lm_and_tuning(
    best: Path, arpa: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    common = [f"checkpoint={best}", "decoder=beam_lm", f"lm={arpa}", f"out={tmp_path}",
              "beam_size=8"]  # fmt: skip
    assert _decode(*common, "audio=dev", "tune=true", "tune_lm_weights=[0,1]",
                   "tune_word_scores=[0,2]") == 0  # fmt: skip
    tuned = json.loads(best.with_name(f"{best.stem}.lm-tuning.json").read_text())
    assert len(tuned["grid"]) == 4
    assert "at the end of tune_lm_weights=[0.0, 1.0]" in caplog.text  # two values: both ends
    assert tuned["wer"] == min(row["wer"] for row in tuned["grid"])
    assert _decode(*common, "audio=test") == 0
    results = json.loads((tmp_path / "results-test-beam_lm.json").read_text())
    assert (results["lm_weight"], results["word_score"]) == (
        tuned["lm_weight"], tuned["word_score"])  # fmt: skip
    assert results["wer"] is not None and results["beam_size"] == 8


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such checkpoint"),
        (lambda p: p.write_bytes(b"\x00garbage"), "not a readable PyTorch checkpoint"),
        (lambda p: torch.save({"state_dict": {}}, p), "not a deepspeech-tt checkpoint"),
    ],
    ids=["missing", "corrupt", "foreign"],
)
def test_a_bad_checkpoint_gets_one_clear_error(
    make, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "model.ckpt"
    make(path)
    assert _decode(f"checkpoint={path}", "audio=test", f"out={tmp_path / 'out'}") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]
    assert not (tmp_path / "out").exists()


def test_a_malformed_lm_fails_before_decoding(
    best: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lm = tmp_path / "bad.arpa"
    lm.write_text("not an ARPA file\n")
    code = _decode(f"checkpoint={best}", "audio=test", "decoder=beam_lm", f"lm={lm}",
                   f"out={tmp_path / 'out'}")  # fmt: skip
    assert code == 2 and "bad.arpa" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audio=test"], "missing checkpoint="),
        (["checkpoint=x", "audio=test", "beam=3"], "'beam'"),
        (["checkpoint=x", "audio=test", "decoder=viterbi"], "choose one of"),
        (["checkpoint=x", "audio=test", "beam_size=many"], "'beam_size'"),
    ],
)
def test_bad_arguments_are_named(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err
