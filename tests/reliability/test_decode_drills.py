"""Decoding drills: what ``decode.py`` did with careless audio directories and damaged LMs.

The drills: in ``audio=<dir>``, ``clip.mp3`` and ``clip.ogg`` both became utterance ``clip``
(one result overwrote the other); a ``.txt`` among the recordings was passed over without a
word; a 0.05 s recording gave an empty hypothesis with no remark (and one under 0.02 s, too
short for a single feature frame, crashed the decode); a fake KenLM binary given as the LM
printed a 24-line traceback. The fast tests hold the input reading; the slow ones decode with
the checkpoint ``short_run`` trains.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepspeech_tt.decoding import cli
from deepspeech_tt.decoding.cli import main
from deepspeech_tt.decoding.lm import KENLM_MAGIC, LanguageModelError
from deepspeech_tt.errors import DEBUG_VARIABLE, UserError
from tests.reliability.helpers import ROOT, assert_one_line_error


@pytest.fixture(scope="module")
def best(short_run: Path) -> Path:
    (path,) = (short_run / "checkpoints").glob("best-*.ckpt")
    return path


def _decode(*args: str) -> int:
    return main(["print_transcripts=false", *args])


def _results(out: Path, name: str) -> dict:
    return json.loads((out / f"results-{name}.json").read_text())


def _skipped(out: Path, name: str) -> dict[str, str]:
    """{where: reason} of ``skipped-<name>.tsv``."""
    lines = (out / f"skipped-{name}.tsv").read_text().splitlines()
    assert lines[0] == "utterance\twhere\treason"
    return {where: reason for _, where, reason in (line.split("\t") for line in lines[1:])}


# --- a damaged language model ------------------------------------------------------------------


def _random_bytes(path: Path, header: bytes = b"") -> Path:
    path.write_bytes(header + np.random.default_rng(0).bytes(4096))
    return path


LMS = {
    "random-bin": lambda d: _random_bytes(d / "3gram.bin"),
    "random-arpa": lambda d: _random_bytes(d / "3gram.arpa"),
    "fake-kenlm": lambda d: _random_bytes(d / "3gram.bin", KENLM_MAGIC),  # KenLM's own header
}
"""Damaged LM files; only ``fake-kenlm`` reaches KenLM, which once raised a bare RuntimeError."""

PROBLEM = {"random-bin": "neither ARPA text", "random-arpa": "neither ARPA text",
           "fake-kenlm": "KenLM cannot load it"}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(LMS))
def test_a_damaged_lm_is_one_line_naming_it_before_decoding(
    kind: str, best: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lm = LMS[kind](tmp_path)
    code = _decode(f"checkpoint={best}", "audio=test", "decoder=beam_lm", f"lm={lm}",
                   "lexicon=" + str(_lexicon(tmp_path)), f"out={tmp_path / 'out'}")  # fmt: skip
    assert code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("decode")]
    assert len(errors) == 1 and errors[0].startswith(f"decode.py: error: {lm}: ")
    assert PROBLEM[kind] in errors[0]
    assert not (tmp_path / "out").exists()  # stopped before decoding anything


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(LMS))
def test_a_damaged_lm_given_to_decode_py_ends_with_one_line(
    kind: str, best: Path, tmp_path: Path
) -> None:
    lm = LMS[kind](tmp_path)
    env = {k: v for k, v in os.environ.items() if k != DEBUG_VARIABLE}
    result = subprocess.run(
        [sys.executable, "decode.py", f"checkpoint={best}", "audio=test", "decoder=beam_lm",
         f"lm={lm}", "lexicon=" + str(_lexicon(tmp_path)), f"out={tmp_path / 'out'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert_one_line_error(result, str(lm), PROBLEM[kind], program="decode.py")
    assert not (tmp_path / "out").exists()


def _lexicon(directory: Path) -> Path:
    """A word list, so that a KenLM binary (whose words cannot be read here) reaches KenLM."""
    path = directory / "words.txt"
    path.write_text("HELLO WORLD\n")
    return path


# --- the one-line report -----------------------------------------------------------------------


class _Refused(UserError):
    """A user error of a kind cli.py never listed."""


def _refuse(cfg: object) -> None:
    raise _Refused("audio=x.wav: refused\nfor a reason")


def test_any_user_error_is_one_line_and_status_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    monkeypatch.setattr(cli, "decode", _refuse)
    assert main(["checkpoint=x.ckpt", "audio=x.wav"]) == 2
    assert capsys.readouterr().err == "decode.py: error: audio=x.wav: refused for a reason\n"


def test_the_debug_variable_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    monkeypatch.setattr(cli, "decode", _refuse)
    with pytest.raises(_Refused):
        main(["checkpoint=x.ckpt", "audio=x.wav"])


@pytest.mark.slow
def test_the_debug_variable_shows_a_damaged_lms_traceback(
    best: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    lm = LMS["fake-kenlm"](tmp_path)
    with pytest.raises(LanguageModelError, match="KenLM cannot load it"):
        _decode(f"checkpoint={best}", "audio=test", "decoder=beam_lm", f"lm={lm}",
                "lexicon=" + str(_lexicon(tmp_path)), f"out={tmp_path / 'out'}")  # fmt: skip
