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
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from deepspeech_tt.data.errors import DataError
from deepspeech_tt.data.manifest import Utterance, write_manifest
from deepspeech_tt.data.testing import write_dummy_audio
from deepspeech_tt.decoding import cli
from deepspeech_tt.decoding.cli import main
from deepspeech_tt.decoding.inputs import find_utterances
from deepspeech_tt.decoding.lm import KENLM_MAGIC, LanguageModelError
from deepspeech_tt.decoding.recognizer import load_recognizer
from deepspeech_tt.decoding.run import shortest_decodable
from deepspeech_tt.errors import DEBUG_VARIABLE, UserError
from tests.reliability.helpers import assert_one_line_error, run_python


def _decode(*args: str) -> int:
    return main(["print_transcripts=false", *args])


def _results(out: Path, name: str) -> dict:
    return json.loads((out / f"results-{name}.json").read_text())


def _skipped(out: Path, name: str) -> dict[str, str]:
    """{where: reason} of ``skipped-<name>.tsv``."""
    lines = (out / f"skipped-{name}.tsv").read_text().splitlines()
    assert lines[0] == "utterance\twhere\treason"
    return {where: reason for _, where, reason in (line.split("\t") for line in lines[1:])}


# --- same stems --------------------------------------------------------------------------------


def test_files_with_the_same_stem_get_different_ids(tmp_path: Path) -> None:
    for name in ("clip.mp3", "clip.ogg", "a/take.wav", "b/take.wav", "solo.flac", "my song.wav"):
        write_dummy_audio(tmp_path / name, 0.5)
    found = find_utterances(str(tmp_path))
    ids = {Path(row.audio).relative_to(tmp_path).as_posix(): row.id for row in found.utterances}
    assert ids == {
        "clip.mp3": "clip.mp3", "clip.ogg": "clip.ogg",  # stems collide: the file names
        "a/take.wav": "a/take.wav", "b/take.wav": "b/take.wav",  # names too: the paths
        "solo.flac": "solo",  # unique: the plain stem, as before
        "my song.wav": "my_song",  # no whitespace inside an id of "<id> <text>" files
    }  # fmt: skip


def test_ids_that_still_collide_are_refused_naming_both(tmp_path: Path) -> None:
    write_dummy_audio(tmp_path / "a b.wav", 0.5)
    write_dummy_audio(tmp_path / "a_b.wav", 0.5)
    with pytest.raises(DataError, match=r"a b\.wav and .*a_b\.wav: the same utterance id"):
        find_utterances(str(tmp_path))


@pytest.mark.slow
def test_decoding_two_clips_of_one_stem_keeps_both_results(
    best: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clips = tmp_path / "clips"
    write_dummy_audio(clips / "clip.mp3", 1.0, seed=1)
    write_dummy_audio(clips / "clip.ogg", 1.5, seed=2)
    assert main([f"checkpoint={best}", f"audio={clips}", f"out={tmp_path / 'out'}"]) == 0
    printed = [line.split(" ", 1)[0] for line in capsys.readouterr().out.splitlines() if line]
    assert printed == ["clip.mp3", "clip.ogg"]
    written = (tmp_path / "out" / "transcripts-clips-greedy.txt").read_text().splitlines()
    assert [line.split(" ", 1)[0] for line in written] == ["clip.mp3", "clip.ogg"]
    results = _results(tmp_path / "out", "clips-greedy")
    assert results["utterances"] == 2 and results["audio_seconds"] == pytest.approx(2.5)


# --- files passed over -------------------------------------------------------------------------


def test_a_plain_directory_lists_what_is_not_audio(tmp_path: Path) -> None:
    write_dummy_audio(tmp_path / "clip.wav", 0.5)
    (tmp_path / "notes.txt").write_text("who said what")
    (tmp_path / "deep" / "README").parent.mkdir()
    (tmp_path / "deep" / "README").write_text("")
    found = find_utterances(str(tmp_path))
    assert [row.id for row in found.utterances] == ["clip"]
    assert {p.where: p.reason for p in found.problems} == {
        str(tmp_path / "deep" / "README"): "passed over: not an audio file (no extension)",
        str(tmp_path / "notes.txt"): "passed over: not an audio file (.txt)",
    }


def test_a_librispeech_split_lists_only_its_stray_files(tiny_corpus: Path, tmp_path: Path) -> None:
    split = shutil.copytree(tiny_corpus / "test", tmp_path / "test")
    chapter = next(split.glob("*/*"))
    (split / "SPEAKERS.TXT").write_text("; metadata, part of a LibriSpeech download\n")
    (chapter / "notes.txt").write_text("stray")
    write_dummy_audio(split / "loose.flac", 0.5)  # not in a <speaker>/<chapter>/ directory
    found = find_utterances(str(split))
    assert len(found.utterances) == 4  # every transcribed recording, as before
    assert sorted(p.where for p in found.problems) == [str(chapter / "notes.txt"),
                                                       str(split / "loose.flac")]  # fmt: skip
    assert all(p.reason.startswith("passed over: ") for p in found.problems)


def test_a_kaldi_dir_lists_only_its_stray_files(tiny_corpus: Path, tmp_path: Path) -> None:
    data_dir = shutil.copytree(tiny_corpus / "kaldi" / "test", tmp_path / "test")
    (data_dir / "utt2dur").write_text("")  # Kaldi's own, though the reader does not need it
    (data_dir / "text.orig").write_text("stray")
    found = find_utterances(str(data_dir))
    assert len(found.utterances) == 4
    assert [p.where for p in found.problems] == [str(data_dir / "text.orig")]


@pytest.mark.slow
def test_passed_over_files_are_logged_once_and_listed_beside_the_results(
    best: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clips = tmp_path / "clips"
    write_dummy_audio(clips / "clip.flac", 1.0)
    (clips / "notes.txt").write_text("who said what")
    (clips / "broken.wav").write_bytes(b"RIFF not really a wave file")
    with caplog.at_level(logging.WARNING):
        assert _decode(f"checkpoint={best}", f"audio={clips}", f"out={tmp_path / 'out'}") == 0
    listed = _skipped(tmp_path / "out", "clips-greedy")
    assert set(listed) == {str(clips / "notes.txt"), str(clips / "broken.wav")}
    assert listed[str(clips / "notes.txt")] == "passed over: not an audio file (.txt)"
    warnings = [r.getMessage() for r in caplog.records if "left out of the decode" in r.message]
    assert len(warnings) == 1 and "notes.txt" in warnings[0] and "broken.wav" in warnings[0]
    assert _results(tmp_path / "out", "clips-greedy")["skipped"] == 2


@pytest.mark.slow
def test_a_decode_with_nothing_left_out_leaves_no_stale_list(best: Path, tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    write_dummy_audio(clips / "clip.flac", 1.0)
    (clips / "notes.txt").write_text("who said what")
    assert _decode(f"checkpoint={best}", f"audio={clips}", f"out={tmp_path / 'out'}") == 0
    (clips / "notes.txt").unlink()
    assert _decode(f"checkpoint={best}", f"audio={clips}", f"out={tmp_path / 'out'}") == 0
    assert not (tmp_path / "out" / "skipped-clips-greedy.tsv").exists()


# --- too short to decode -----------------------------------------------------------------------


@pytest.mark.slow
def test_the_threshold_is_what_the_first_output_frame_reads(best: Path) -> None:
    recognizer = load_recognizer(best)
    shortest = shortest_decodable(recognizer)
    needed = recognizer.model.conv.last_input_frame(0) + 1  # feature frames
    assert recognizer.features.num_frames(shortest) == needed
    assert recognizer.features.num_frames(shortest - 1) == needed - 1
    assert shortest / recognizer.features.sample_rate == pytest.approx(0.075)  # the tiny recipe


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_too_short_utterances_are_named_and_marked(
    best: Path, tiny_corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, decoder: str
) -> None:
    source = sorted((tiny_corpus / "test").rglob("*.flac"))[0]
    wave, rate = soundfile.read(source, dtype="float32")
    rows = []
    for name, samples in (("speech", len(wave)), ("short", 800), ("click", 160)):  # 16 kHz
        path = tmp_path / f"{name}.wav"
        soundfile.write(path, wave[:samples], rate)
        rows.append(Utterance(id=name, audio=str(path), duration=samples / rate, text="HELLO",
                              speaker="s"))  # fmt: skip
    manifest = write_manifest(rows, tmp_path / "clips.jsonl")
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        code = _decode(f"checkpoint={best}", f"audio={manifest}", f"decoder={decoder}",
                       f"out={out}", "beam_size=4")  # fmt: skip
    assert code == 0  # the 0.01 s click has no feature frame, and no longer crashes the decode
    name = f"clips-{decoder}"
    assert _results(out, name)["too_short"] == {"click": 0.01, "short": 0.05}
    warning = next(r.getMessage() for r in caplog.records if "too short" in r.message)
    assert "click (0.01 s)" in warning and "short (0.05 s)" in warning and "speech" not in warning
    recogs = (out / f"recogs-{name}.txt").read_text().splitlines()
    assert "short:\tnote=too short to decode: 0.05 s" in recogs
    assert "click:\tnote=too short to decode: 0.01 s" in recogs
    assert not any(line.startswith("speech:\tnote=") for line in recogs)
    hyps = {line.split(":")[0]: line.split("hyp=", 1)[1] for line in recogs if "\thyp=" in line}
    assert hyps["click"] == ""  # the hyp= line stays the hypothesis alone
    transcripts = (out / f"transcripts-{name}.txt").read_text().splitlines()
    assert sorted(line.split(" ", 1)[0] for line in transcripts) == ["click", "short", "speech"]


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
    result = run_python("decode.py", f"checkpoint={best}", "audio=test", "decoder=beam_lm",
                        f"lm={lm}", "lexicon=" + str(_lexicon(tmp_path)),
                        f"out={tmp_path / 'out'}", env=env)  # fmt: skip
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
