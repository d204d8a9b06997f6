from pathlib import Path

import pytest

from deepspeech_tt.data.manifest import ManifestError, Utterance, read_manifest, write_manifest


def _rows() -> list[Utterance]:
    return [
        Utterance("19-198-0001", "/a/19-198-0001.flac", 3.25, "HELLO THERE", "19"),
        Utterance("seg-1", "sph2pipe -f wav /b/x.wv1 |", 1.5, "A SEGMENT", "s1", offset=2.0),
    ]


def test_round_trip(tmp_path: Path) -> None:
    path = write_manifest(_rows(), tmp_path / "sub" / "m.jsonl")
    assert read_manifest(path) == _rows()


def test_offset_only_written_when_set(tmp_path: Path) -> None:
    lines = write_manifest(_rows(), tmp_path / "m.jsonl").read_text().splitlines()
    assert "offset" not in lines[0]
    assert '"offset": 2.0' in lines[1]


def test_failed_write_keeps_the_previous_manifest(tmp_path: Path) -> None:
    path = write_manifest(_rows(), tmp_path / "m.jsonl")
    before = path.read_bytes()

    def broken() -> list[Utterance]:
        yield _rows()[0]
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_manifest(broken(), path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "m.jsonl:2: not valid JSON"),
        ('{"id": "x", "audio": "a.wav"}', "m.jsonl:2: missing duration, text, speaker"),
        ('["a list"]', "m.jsonl:2: expected a JSON object"),
        ('{"id": "x", "audio": "a", "duration": "long", "text": "", "speaker": "s"}', "m.jsonl:2"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(_rows()[0].to_json() + "\n" + line + "\n")
    with pytest.raises(ManifestError, match=message):
        read_manifest(path)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nope.jsonl")
