"""Data drills: transcripts the tokenizer cannot spell, a stale manifest cache, corrupt audio.

1. ``THE 3RD CAFÉ HAS 42 ÜBER SEATS`` was prepared as ``THE RD CAFE HAS UBER SEATS`` without
   a word: now an error naming the transcript file, the utterance and each character, or with
   skip_bad a skipped utterance listed with that reason.
2. A ``skip_bad=false`` run reused the manifest a ``skip_bad=true`` run had cached, so the
   bad utterances were still silently missing: now the manifest is prepared again and the
   bad file stops it.
3. A corrupt FLAC in the training corpus ended ``train.py`` with a 45-line traceback: now one
   line naming the file, exit status 2; ``skip_bad=true`` skips it and lists it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from deepspeech_tt.builders.data import build_data
from deepspeech_tt.config import compose_config
from deepspeech_tt.data.errors import DataError
from deepspeech_tt.data.manifest import Utterance, read_manifest, write_manifest
from deepspeech_tt.data.prepare import PROGRAM, prepare_manifest
from deepspeech_tt.data.testing import write_kaldi_dir, write_librispeech_split
from deepspeech_tt.data.text import normalize_transcript
from tests.reliability.helpers import assert_one_line_error, run_python, train_py

DRILL_TEXT = "The 3rd caf\u00e9 has 42 \u00fcber seats."
NAMED = ("'2' (U+0032)", "'3' (U+0033)", "'4' (U+0034)", "'\u00c9' (U+00C9)", "'\u00dc' (U+00DC)")
TRANSCRIPTS = {
    "19-198-0000": "Hello, world!",
    "19-198-0001": DRILL_TEXT,
    "19-198-0002": "  a  \u201cquoted\u201d\tline  ",
}
BAD = "19-198-0001"


def _names_the_characters(message: str) -> None:
    for character in NAMED:
        assert character in message


def _split(root: Path) -> Path:
    write_librispeech_split(root, TRANSCRIPTS)
    return root


def _sources(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """format -> (source, the file holding the drill transcript), one corpus in each format."""
    split = _split(tmp_path / "ls")
    audio = split / "19" / "198"
    # a JSONL manifest's texts are used as written: give it normalised ones, as Kaldi's become
    rows = [Utterance(u, str(audio / f"{u}.flac"), 0.5, normalize_transcript(text), "19")
            for u, text in TRANSCRIPTS.items()]  # fmt: skip
    kaldi = write_kaldi_dir(tmp_path / "kaldi", rows)
    jsonl = write_manifest(rows, tmp_path / "given.jsonl")
    return {
        "librispeech": (split, split / "19" / "198" / "19-198.trans.txt"),
        "kaldi": (kaldi, kaldi / "text"),
        "jsonl": (jsonl, jsonl),
    }


# Drill 1: transcripts the tokenizer cannot spell


@pytest.mark.parametrize("format", ["librispeech", "kaldi", "jsonl"])
def test_unspellable_transcript_names_file_utterance_and_characters(
    tmp_path: Path, format: str
) -> None:
    source, transcripts = _sources(tmp_path)[format]
    out = tmp_path / "m.jsonl"
    with pytest.raises(DataError) as error:
        prepare_manifest(source, out, format=format, progress=False)
    message = str(error.value)
    assert message.startswith(f"{transcripts}: {BAD}: "), message
    _names_the_characters(message)
    assert not out.exists()


@pytest.mark.parametrize("format", ["librispeech", "kaldi"])
def test_skip_bad_skips_unspellable_transcripts_and_says_why(tmp_path: Path, format: str) -> None:
    source, transcripts = _sources(tmp_path)[format]
    prepared = prepare_manifest(source, tmp_path / "m.jsonl", format=format, skip_bad=True,
                                progress=False)  # fmt: skip
    texts = {row.id: row.text for row in read_manifest(prepared.manifest)}
    assert texts == {"19-198-0000": "HELLO WORLD", "19-198-0002": "A QUOTED LINE"}
    assert prepared.skipped_path is not None
    (listed,) = prepared.skipped_path.read_text().splitlines()[1:]
    utterance, where, reason = listed.split("\t")
    assert (utterance, where) == (BAD, str(transcripts))
    _names_the_characters(reason)
    assert "RD CAFE" not in prepared.manifest.read_text()  # never folded into the manifest


def test_prepare_cli_reports_the_drill_transcript_in_one_line(tmp_path: Path) -> None:
    split = _split(tmp_path / "train")
    args = ["--format", "librispeech", "--source", str(split), "--quiet"]
    prepare = ("-m", "deepspeech_tt.data.prepare", *args)
    result = run_python(*prepare, "--out", str(tmp_path / "m.jsonl"))
    line = assert_one_line_error(result, program=PROGRAM)
    assert f"{split}/19/198/19-198.trans.txt: {BAD}: " in line
    _names_the_characters(line)
    result = run_python(*prepare, "--out", str(tmp_path / "s.jsonl"), "--skip-bad")
    assert result.returncode == 0, result.stderr
    assert "skipped 1 of 3 utterances" in result.stderr
    assert len(read_manifest(tmp_path / "s.jsonl")) == 2


def test_librispeech_recipe_reports_bad_data_in_one_line(tmp_path: Path) -> None:
    _split(tmp_path / "corpus" / "dev-clean")
    out = tmp_path / "LibriSpeech"
    result = run_python("recipes/librispeech/prepare.py", "--out", str(out), "--existing",
                        str(tmp_path / "corpus"), "--parts", "dev-clean")  # fmt: skip
    line = assert_one_line_error(result, program="prepare.py")
    assert f"19-198.trans.txt: {BAD}: " in line
    _names_the_characters(line)
    assert not (out / "manifests" / "dev-clean.jsonl").exists()


# Drills 2 and 3: a corrupt FLAC in the training corpus, a manifest cached with skip_bad


@pytest.fixture
def corrupt_corpus(tiny_corpus: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the tiny corpus with one training FLAC overwritten by random bytes."""
    corpus = tmp_path / "tiny"
    shutil.copytree(tiny_corpus, corpus)
    flac = sorted((corpus / "train").rglob("*.flac"))[3]
    flac.write_bytes(os.urandom(flac.stat().st_size))
    return corpus, flac


def _overrides(
    training_overrides: Callable[..., list[str]], corpus: Path, *more: str
) -> list[str]:
    manifests = corpus.parent / "manifests"
    return training_overrides(f"data.root={corpus}", f"data.manifest_dir={manifests}", *more)


def test_skip_bad_skips_and_lists_a_corrupt_file(
    corrupt_corpus: tuple[Path, Path], training_overrides: Callable[..., list[str]], caplog
) -> None:
    corpus, flac = corrupt_corpus
    with caplog.at_level(logging.WARNING):
        data = build_data(compose_config(_overrides(training_overrides, corpus,
                                                    "data.skip_bad=true")))  # fmt: skip
    assert flac.stem not in {row.id for row in data.train}
    assert len(data.train) == len(list((corpus / "train").rglob("*.flac"))) - 1
    listed = (corpus.parent / "manifests" / "train.skipped.tsv").read_text()
    assert f"{flac.stem}\t{flac}\tcannot be read" in listed
    assert "skipped 1 of 12 utterances" in caplog.text


def test_no_skip_bad_after_skip_bad_prepares_again_and_fails(
    corrupt_corpus: tuple[Path, Path], training_overrides: Callable[..., list[str]], caplog
) -> None:
    corpus, flac = corrupt_corpus
    build_data(compose_config(_overrides(training_overrides, corpus, "data.skip_bad=true")))
    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.raises(DataError, match=f"^{flac}: cannot be read"):
        build_data(compose_config(_overrides(training_overrides, corpus, "data.skip_bad=false")))
    assert "made with skip_bad=true, which left 1 utterances out; now false" in caplog.text


def test_corrupt_audio_ends_train_py_with_one_line(
    corrupt_corpus: tuple[Path, Path], training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    corpus, flac = corrupt_corpus
    overrides = _overrides(training_overrides, corpus, "trainer.max_steps=1",
                           f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    line = assert_one_line_error(train_py(*overrides))
    assert f"{flac}: cannot be read" in line


# Drill: the cached feature statistics and tokenizer


def test_cached_statistics_and_tokenizer_are_read_back_and_a_damaged_one_is_redone(
    training_overrides: Callable[..., list[str]], tmp_path: Path, caplog
) -> None:
    """What one run fitted and saved (with its digest) the next run loads as it was; a cache
    file damaged since is computed again with a warning, not an error."""
    overrides = training_overrides(f"data.manifest_dir={tmp_path}", "features.normalize=global",
                                   "tokenizer=bpe", "tokenizer.vocab_size=40")  # fmt: skip
    first = build_data(compose_config(overrides))
    (features,) = tmp_path.glob("features-*.pt")
    (tokenizer,) = tmp_path.glob("tokenizer-*.pt")
    again = build_data(compose_config(overrides))
    for name, value in first.features.state_dict().items():
        assert again.features.state_dict()[name].equal(value), name
    assert again.tokenizer.state_dict() == first.tokenizer.state_dict()
    damaged = bytearray(features.read_bytes())
    damaged[-200] ^= 0xFF
    features.write_bytes(bytes(damaged))
    with caplog.at_level(logging.WARNING):
        redone = build_data(compose_config(overrides))
    assert f"{features}: " in caplog.text and "computing it again" in caplog.text
    assert redone.features.mean.equal(first.features.mean)
    assert build_data(compose_config(overrides)).features.mean.equal(first.features.mean)
