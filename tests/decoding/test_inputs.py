"""What ``decode.py audio=...`` names: each kind of input becomes the same utterances."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from deepspeech_tt.data.errors import DataError
from deepspeech_tt.data.manifest import write_manifest
from deepspeech_tt.decoding.inputs import DecodeInput, find_utterances


def _texts(found: DecodeInput) -> dict[str, str]:
    return {row.id: row.text for row in found.utterances}


def test_a_librispeech_split_a_kaldi_dir_and_a_manifest_agree(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    librispeech = find_utterances(str(tiny_corpus / "test"))
    kaldi = find_utterances(str(tiny_corpus / "kaldi" / "test"))
    manifest = write_manifest(librispeech.utterances, tmp_path / "test.jsonl")
    listed = find_utterances(str(manifest))
    assert len(librispeech.utterances) == 4 and librispeech.has_references
    assert _texts(kaldi) == _texts(librispeech) == _texts(listed)
    assert (librispeech.name, kaldi.name, listed.name) == ("test", "test", "test")


def test_a_split_name_reads_the_checkpoints_data(tiny_corpus: Path, tmp_path: Path) -> None:
    data = OmegaConf.create({"root": str(tiny_corpus), "format": "librispeech", "dev": ["dev"],
                             "test": ["test"], "train": ["train"],
                             "manifest_dir": str(tmp_path / "none")})  # fmt: skip
    found = find_utterances("dev", data)
    assert found.name == "dev" and _texts(found) == _texts(
        find_utterances(str(tiny_corpus / "dev"))
    )


def test_nothing_by_that_name_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or directory"):
        find_utterances(str(tmp_path / "absent.flac"))
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(DataError, match="no audio files"):
        find_utterances(str(tmp_path))
