import json
import logging
import os
from pathlib import Path

import pytest

from deepspeech_tt.data.cache import CACHE_VERSION, cached_manifest, record_path
from deepspeech_tt.data.errors import DataError
from deepspeech_tt.data.manifest import read_manifest, write_manifest
from deepspeech_tt.data.testing import write_dummy_audio, write_kaldi_dir, write_librispeech_split

TRANSCRIPTS = {f"19-198-{i:04d}": "A FEW WORDS" for i in range(4)}
BAD = "19-198-0002"


@pytest.fixture
def split(tmp_path: Path) -> Path:
    write_librispeech_split(tmp_path / "train", TRANSCRIPTS)
    return tmp_path / "train"


def _cached(split: Path, manifest: Path, caplog: pytest.LogCaptureFixture, **kwargs) -> str:
    """Call cached_manifest; return why it prepared ("" when it reused the manifest)."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deepspeech_tt.data.cache"):
        cached_manifest(split, manifest, format="librispeech", **kwargs)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("preparing")]
    return lines[0].split(": ", 1)[1] if lines else ""


def _corrupt(split: Path) -> Path:
    path = split / "19" / "198" / f"{BAD}.flac"
    path.write_bytes(b"not audio at all" * 64)
    return path


def test_a_matching_manifest_is_reused(split: Path, tmp_path: Path, caplog) -> None:
    manifest = tmp_path / "m" / "train.jsonl"
    assert _cached(split, manifest, caplog) == "no manifest yet"
    record = json.loads(record_path(manifest).read_text())
    assert record["version"] == CACHE_VERSION and record["format"] == "librispeech"
    assert record["skip_bad"] is False and record["skipped"] == 0 and record["files"] == 5
    assert _cached(split, manifest, caplog) == ""
    assert _cached(split, manifest, caplog, skip_bad=True) == ""  # nothing was left out
    assert len(read_manifest(manifest)) == 4


def test_skip_bad_manifest_is_not_reused_without_skip_bad(
    split: Path, tmp_path: Path, caplog
) -> None:
    bad = _corrupt(split)
    manifest = tmp_path / "train.jsonl"
    _cached(split, manifest, caplog, skip_bad=True)
    assert [row.id for row in read_manifest(manifest)] == [
        u for u in sorted(TRANSCRIPTS) if u != BAD
    ]
    with pytest.raises(DataError, match=f"^{bad}: cannot be read"):
        _cached(split, manifest, caplog)
    assert "made with skip_bad=true, which left 1 utterances out; now false" in caplog.text
    assert not record_path(manifest).exists()  # the skip_bad manifest is never trusted again


def test_reusing_a_skip_bad_manifest_warns_what_it_leaves_out(
    split: Path, tmp_path: Path, caplog
) -> None:
    _corrupt(split)
    manifest = tmp_path / "train.jsonl"
    _cached(split, manifest, caplog, skip_bad=True)
    with caplog.at_level(logging.WARNING):
        assert _cached(split, manifest, caplog, skip_bad=True) == ""
    assert f"leaves out 1 bad utterances (skip_bad); list in {tmp_path}/train.skipped.tsv" in (
        caplog.text
    )


def test_changed_added_or_removed_source_files_prepare_again(
    split: Path, tmp_path: Path, caplog
) -> None:
    manifest = tmp_path / "train.jsonl"
    _cached(split, manifest, caplog)
    audio = split / "19" / "198" / "19-198-0001.flac"
    write_dummy_audio(audio, seconds=2.0)
    os.utime(audio, ns=(1, 1))  # even with an old modification time: the size differs
    assert _cached(split, manifest, caplog).startswith("the source files changed")
    assert read_manifest(manifest)[1].duration == pytest.approx(2.0)
    audio.unlink()
    with pytest.raises(DataError, match="19-198.trans.txt:2: no audio file 19-198-0001.flac"):
        _cached(split, manifest, caplog)  # a fixed manifest would have hidden this


def test_another_format_or_source_prepares_again(split: Path, tmp_path: Path, caplog) -> None:
    manifest = tmp_path / "train.jsonl"
    _cached(split, manifest, caplog)
    other = tmp_path / "copy"
    write_librispeech_split(other, TRANSCRIPTS)
    assert _cached(other, manifest, caplog) == f"source was '{split}', now '{other}'"
    kaldi = write_kaldi_dir(tmp_path / "kaldi", read_manifest(manifest))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        cached_manifest(kaldi, manifest, format="kaldi")
    assert "format was 'librispeech', now 'kaldi'" in caplog.text


def test_manifests_without_a_current_record_are_prepared_again(
    split: Path, tmp_path: Path, caplog
) -> None:
    manifest = write_manifest([], tmp_path / "train.jsonl")  # made before records existed
    assert _cached(split, manifest, caplog).startswith("no readable record")
    record = json.loads(record_path(manifest).read_text())
    record_path(manifest).write_text(json.dumps({**record, "version": 0}))
    assert _cached(split, manifest, caplog) == (
        f"made by cache version 0, this is version {CACHE_VERSION}"
    )
    assert len(read_manifest(manifest)) == 4


def test_kaldi_audio_outside_the_data_dir_is_tracked(split: Path, tmp_path: Path, caplog) -> None:
    rows = cached_manifest(split, tmp_path / "ls.jsonl", format="librispeech")
    kaldi = write_kaldi_dir(tmp_path / "kaldi", rows)
    manifest = tmp_path / "kaldi.jsonl"
    cached_manifest(kaldi, manifest, format="kaldi")
    _corrupt(split)
    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.raises(DataError, match=f"{BAD}.flac: cannot"):
        cached_manifest(kaldi, manifest, format="kaldi")
    assert "the source files changed (8 files then, 8 now)" in caplog.text
