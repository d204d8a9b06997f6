import shlex
from pathlib import Path

import pytest
import torch

from deepspeech_tt.data.audio import read_audio
from deepspeech_tt.data.errors import DataError, Problem
from deepspeech_tt.data.kaldi import clean_transcript, read_kaldi_dir
from deepspeech_tt.data.librispeech import read_librispeech
from deepspeech_tt.data.testing import write_dummy_audio, write_kaldi_dir, write_librispeech_split

TRANSCRIPTS = {
    "19-198-0000": "Hello, world!",
    "19-198-0001": "it's a test",
    "19-227-0000": "ANOTHER chapter",
    "26-495-0000": "a second speaker",
    "26-495-0001": "café au lait",
}


@pytest.fixture
def split(tmp_path: Path) -> Path:
    write_librispeech_split(tmp_path / "LibriSpeech" / "dev-clean", TRANSCRIPTS)
    return tmp_path / "LibriSpeech" / "dev-clean"


def test_librispeech_rows(split: Path) -> None:
    rows = read_librispeech(split)
    assert [row.id for row in rows] == sorted(TRANSCRIPTS)
    first = rows[0]
    assert first.audio == str(split / "19" / "198" / "19-198-0000.flac")
    assert Path(first.audio).is_absolute()
    assert first.duration == pytest.approx(0.5)
    assert rows[-1].duration == pytest.approx(0.9)
    assert first.text == "HELLO WORLD" and rows[1].text == "IT'S A TEST"
    assert rows[-1].text == "CAF\u00c9 AU LAIT"  # kept, not folded: preparation reports the \u00c9
    assert [row.speaker for row in rows] == ["19", "19", "19", "26", "26"]
    assert all(row.offset == 0.0 for row in rows)


def test_librispeech_reads_wav_too(tmp_path: Path) -> None:
    write_librispeech_split(tmp_path, {"1-2-0000": "A WAV FILE"}, suffix=".wav")
    assert read_librispeech(tmp_path)[0].audio.endswith("1-2-0000.wav")


def test_librispeech_root_is_refused_naming_the_splits(split: Path) -> None:
    with pytest.raises(DataError, match="pass one split directory") as error:
        read_librispeech(split.parent.parent)
    assert str(split) in str(error.value)


def test_librispeech_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such directory"):
        read_librispeech(tmp_path / "nope")


def test_librispeech_transcript_line_without_audio(split: Path) -> None:
    (split / "19" / "198" / "19-198-0001.flac").unlink()
    with pytest.raises(DataError, match=r"19-198.trans.txt:2: no audio file 19-198-0001.flac"):
        read_librispeech(split)
    problems: list[Problem] = []
    rows = read_librispeech(split, problems)
    assert "19-198-0001" not in [row.id for row in rows] and len(rows) == 4
    assert [p.utterance for p in problems] == ["19-198-0001"]


def test_librispeech_audio_without_transcript_line(split: Path) -> None:
    write_dummy_audio(split / "19" / "198" / "19-198-0007.flac")
    with pytest.raises(DataError, match=r"^19-198-0007: no transcript in 19-198.trans.txt$"):
        read_librispeech(split)
    problems: list[Problem] = []
    assert len(read_librispeech(split, problems)) == 5
    assert str(problems[0]) == "19-198-0007: no transcript in 19-198.trans.txt"


def test_librispeech_unreadable_header_names_the_file(split: Path) -> None:
    bad = split / "26" / "495" / "26-495-0000.flac"
    bad.write_bytes(b"garbage" * 20)
    with pytest.raises(DataError, match="cannot be read") as error:
        read_librispeech(split)
    assert str(bad) in str(error.value)


def test_kaldi_dir_gives_the_same_manifest(split: Path, tmp_path: Path) -> None:
    rows = read_librispeech(split)
    assert read_kaldi_dir(write_kaldi_dir(tmp_path / "kaldi", rows)) == rows


def test_readers_agree_on_the_generated_corpus(tiny_corpus: Path) -> None:
    for name in ("train", "dev", "test"):
        rows = read_librispeech(tiny_corpus / name)
        assert rows, name
        assert read_kaldi_dir(tiny_corpus / "kaldi" / name) == rows


def _kaldi_dir(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def test_kaldi_command_entry(tmp_path: Path) -> None:
    wav = write_dummy_audio(tmp_path / "x.wav", 1.25, sample_rate=8000)
    command = f"cat {shlex.quote(str(wav))} |"
    data = _kaldi_dir(
        tmp_path / "data", {"wav.scp": f"x {command}\n", "text": "x HELLO\n", "utt2spk": "x s\n"}
    )
    (row,) = read_kaldi_dir(data)
    assert row.audio == command
    assert row.duration == pytest.approx(1.25)
    torch.testing.assert_close(read_audio(row.audio), read_audio(wav))


def test_kaldi_segments_cut_the_recording(tmp_path: Path) -> None:
    wav = write_dummy_audio(tmp_path / "rec.flac", 3.0)
    data = _kaldi_dir(
        tmp_path / "data",
        {
            "wav.scp": f"rec {wav}\n",
            "segments": "a rec 0.0 1.0\nb rec 1.25 2.5\nc rec 2.5 -1\n",
            "text": "a ONE\nb TWO\nc THREE\n",
            "utt2spk": "a s\nb s\nc s\n",
            "spk2utt": "s a b c\n",
        },
    )
    rows = read_kaldi_dir(data)
    assert [(r.id, r.offset, r.duration) for r in rows] == [
        ("a", 0.0, 1.0),
        ("b", 1.25, 1.25),
        ("c", 2.5, pytest.approx(0.5)),
    ]
    whole = read_audio(wav)
    for row in rows:
        part = read_audio(row.audio, offset=row.offset, duration=row.duration)
        start = int(row.offset * 16000)
        torch.testing.assert_close(part, whole[start : start + part.numel()])
        assert part.numel() == round(row.duration * 16000)


def test_kaldi_relative_paths_are_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dummy_audio(tmp_path / "audio" / "x.flac")
    data = _kaldi_dir(tmp_path / "data", {"wav.scp": "x audio/x.flac\n", "text": "x HI\n"})
    monkeypatch.chdir(tmp_path)
    (row,) = read_kaldi_dir(data)
    assert row.audio == str(tmp_path / "audio" / "x.flac")
    assert row.speaker == "x"  # no utt2spk: each utterance is its own speaker


def test_wsj_noise_markers_are_removed_and_spoken_punctuation_kept() -> None:
    text = '<NOISE> The ,COMMA [door_slam] "DOUBLE-QUOTE *cat* sat~ <UNK>'
    assert clean_transcript(text) == "THE COMMA DOUBLE QUOTE CAT SAT"
    assert clean_transcript("UP 5 %PERCENT &AMPERSAND .PERIOD") == "UP 5 PERCENT AMPERSAND PERIOD"
    assert clean_transcript("R&D 100%") == "R&D 100%"  # not verbalised: left for the check


def test_kaldi_missing_transcript(tmp_path: Path) -> None:
    wav = write_dummy_audio(tmp_path / "x.flac")
    data = _kaldi_dir(tmp_path / "d", {"wav.scp": f"x {wav}\ny {wav}\n", "text": "x HI\n"})
    with pytest.raises(DataError, match=r"^y: no transcript in text$"):
        read_kaldi_dir(data)
    problems: list[Problem] = []
    assert [row.id for row in read_kaldi_dir(data, problems)] == ["x"]
    assert [p.utterance for p in problems] == ["y"]


def test_kaldi_transcript_without_audio(tmp_path: Path) -> None:
    wav = write_dummy_audio(tmp_path / "x.flac")
    data = _kaldi_dir(tmp_path / "d", {"wav.scp": f"x {wav}\n", "text": "x HI\nz THERE\n"})
    with pytest.raises(DataError, match="z is not in wav.scp"):
        read_kaldi_dir(data)


def test_kaldi_speaker_tables_must_agree(tmp_path: Path) -> None:
    wav = write_dummy_audio(tmp_path / "x.flac")
    files = {
        "wav.scp": f"x {wav}\ny {wav}\n",
        "text": "x HI\ny HO\n",
        "utt2spk": "x s1\ny s2\n",
        "spk2utt": "s1 x y\n",
    }
    data = _kaldi_dir(tmp_path / "d", files)
    with pytest.raises(DataError, match="y: utt2spk gives speaker s2, spk2utt lists it under s1"):
        read_kaldi_dir(data)
    problems: list[Problem] = []
    assert [row.id for row in read_kaldi_dir(data, problems)] == ["x"]
    assert [p.utterance for p in problems] == ["y"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"text": "x HI\n"}, r"wav.scp: no such file"),
        ({"wav.scp": "x /a.wav\n"}, r"text: no such file"),
        ({"wav.scp": "x /a.wav\nx /b.wav\n", "text": ""}, r"wav.scp:2: x appears twice"),
        ({"wav.scp": "x\n", "text": ""}, r"wav.scp:1: expected '<id> <value>'"),
        ({"wav.scp": "r /a.wav\n", "text": "", "segments": "x r zero 1\n"}, r"segments: x: "),
    ],
)
def test_kaldi_malformed_dir_names_the_file(tmp_path: Path, files: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_kaldi_dir(_kaldi_dir(tmp_path / "d", files))
