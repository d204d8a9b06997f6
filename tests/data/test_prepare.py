import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from deepspeech_tt.data.errors import DataError
from deepspeech_tt.data.librispeech import read_librispeech
from deepspeech_tt.data.manifest import Utterance, read_manifest, write_manifest
from deepspeech_tt.data.prepare import PROGRAM, main, prepare_manifest, read_jsonl
from deepspeech_tt.data.testing import write_dummy_audio, write_kaldi_dir, write_librispeech_split

TRANSCRIPTS = {f"19-198-{i:04d}": f"utterance number {'one two three'[: 3 + i]}" for i in range(6)}


@pytest.fixture
def split(tmp_path: Path) -> Path:
    write_librispeech_split(tmp_path / "train", TRANSCRIPTS)
    return tmp_path / "train"


def _audio(split: Path, utt_id: str) -> Path:
    return split / "19" / "198" / f"{utt_id}.flac"


def _prepare(source, out: Path, **kwargs):
    kwargs.setdefault("format", "librispeech")
    return prepare_manifest(source, out, progress=False, **kwargs)


def test_good_corpus_is_written_unchanged(split: Path, tmp_path: Path) -> None:
    prepared = _prepare(split, tmp_path / "m.jsonl")
    assert prepared.rows == read_librispeech(split) == read_manifest(tmp_path / "m.jsonl")
    assert prepared.skipped == [] and prepared.skipped_path is None


def test_generated_corpus_prepares_cleanly(tiny_corpus: Path, tmp_path: Path) -> None:
    prepared = _prepare(tiny_corpus / "train", tmp_path / "train.jsonl", skip_bad=True)
    assert prepared.skipped == []
    assert len(prepared.rows) == len(read_librispeech(tiny_corpus / "train"))


def test_any_rate_and_channel_count_is_usable(tmp_path: Path) -> None:
    rows = []
    for i, (rate, channels) in enumerate([(8000, 2), (22050, 1), (44100, 2), (16000, 1)]):
        path = write_dummy_audio(tmp_path / f"{i}.wav", 0.75, sample_rate=rate, channels=channels)
        rows.append(Utterance(f"u{i}", str(path), 0.75, "FINE", "s"))
    assert _prepare(rows, tmp_path / "m.jsonl").rows == rows


def _corrupt(split: Path) -> tuple[str, str]:
    _audio(split, "19-198-0002").write_bytes(b"RIFF but not really audio" * 8)
    return str(_audio(split, "19-198-0002")), "cannot be read"


def _empty(split: Path) -> tuple[str, str]:
    _audio(split, "19-198-0003").unlink()  # libsndfile writes no FLAC without samples
    path = write_dummy_audio(_audio(split, "19-198-0003").with_suffix(".wav"), 0.0)
    return str(path), "no samples"


def _no_transcript(split: Path) -> tuple[str, str]:
    write_dummy_audio(_audio(split, "19-198-0009"))
    return "19-198-0009", "no transcript in 19-198.trans.txt"


def _no_audio(split: Path) -> tuple[str, str]:
    _audio(split, "19-198-0004").unlink()
    return f"{split}/19/198/19-198.trans.txt:5", "no audio file 19-198-0004.flac or .wav"


def _empty_transcript(split: Path) -> tuple[str, str]:
    trans = split / "19" / "198" / "19-198.trans.txt"
    lines = trans.read_text().splitlines()
    trans.write_text("\n".join(lines[:-1] + ["19-198-0005 ... !"]) + "\n")
    return str(trans), "19-198-0005: empty transcript"


BAD_CASES = [_corrupt, _empty, _no_transcript, _no_audio, _empty_transcript]


@pytest.mark.parametrize("damage", BAD_CASES)
def test_fails_fast_naming_the_file_and_problem(split: Path, tmp_path: Path, damage) -> None:
    out = write_manifest([], tmp_path / "m.jsonl")
    where, problem = damage(split)
    with pytest.raises(DataError) as error:
        _prepare(split, out)
    assert str(error.value).startswith(f"{where}: ")
    assert problem in str(error.value)
    assert out.read_text() == ""  # the earlier manifest is untouched
    assert not list(tmp_path.glob("*.tsv"))


def test_skip_bad_counts_and_lists_what_was_skipped(split: Path, tmp_path: Path) -> None:
    reasons = dict(damage(split) for damage in BAD_CASES)
    prepared = _prepare(split, tmp_path / "m.jsonl", skip_bad=True)
    assert [row.id for row in prepared.rows] == ["19-198-0000", "19-198-0001"]
    assert read_manifest(tmp_path / "m.jsonl") == prepared.rows
    assert len(prepared.skipped) == len(BAD_CASES)
    assert prepared.skipped_path == tmp_path / "m.skipped.tsv"
    lines = prepared.skipped_path.read_text().splitlines()
    assert lines[0] == "utterance\twhere\treason" and len(lines) == 1 + len(BAD_CASES)
    listed = {line.split("\t")[1]: line.split("\t")[2] for line in lines[1:]}
    assert listed.keys() == reasons.keys()
    for where, reason in reasons.items():
        assert reason in listed[where]


def test_skip_bad_logs_the_count(split: Path, tmp_path: Path, caplog) -> None:
    _empty(split)
    with caplog.at_level("WARNING"):
        _prepare(split, tmp_path / "m.jsonl", skip_bad=True, skipped_path=tmp_path / "bad.tsv")
    assert f"skipped 1 of 6 utterances; list in {tmp_path / 'bad.tsv'}" in caplog.text


def test_nothing_usable_is_an_error(split: Path, tmp_path: Path) -> None:
    rows = [replace(row, text="") for row in read_librispeech(split)]
    with pytest.raises(DataError, match="no usable utterances among the 6 found"):
        _prepare(rows, tmp_path / "m.jsonl", skip_bad=True)
    assert not (tmp_path / "m.jsonl").exists()


def test_characters_outside_the_alphabet(split: Path, tmp_path: Path) -> None:
    rows = read_librispeech(split)
    rows[2] = replace(rows[2], text="SMØRREBRØD")
    named = r"^19-198-0002: characters outside the alphabet \(A-Z, ', space\): 'Ø' \(U\+00D8\)$"
    with pytest.raises(DataError, match=named):
        _prepare(rows, tmp_path / "m.jsonl")


class _DigitsOnly:
    def encode(self, text: str) -> list[int]:
        bad = sorted(set(text) - set("0123456789"))
        if bad:
            raise ValueError(f"characters the tokenizer cannot encode: {bad}")
        return [int(c) for c in text]


def test_the_tokenizer_decides_what_is_encodable(split: Path, tmp_path: Path) -> None:
    rows = [replace(row, text="123") for row in read_librispeech(split)]
    rows[1] = replace(rows[1], text="12a")
    named = r"^19-198-0001: characters the tokenizer cannot spell: 'a' \(U\+0061\)$"
    with pytest.raises(DataError, match=named):
        _prepare(rows, tmp_path / "m.jsonl", tokenizer=_DigitsOnly())


def test_char_tokenizer(split: Path, tmp_path: Path) -> None:
    tokenizer = pytest.importorskip("deepspeech_tt.data.tokenizer")
    rows = read_librispeech(split)
    rows[0] = replace(rows[0], text="NAÏVE")
    with pytest.raises(DataError, match="19-198-0000: .*'Ï'"):
        _prepare(rows, tmp_path / "m.jsonl", tokenizer=tokenizer.CharTokenizer())
    out = tmp_path / "cli.jsonl"
    args = ["--source", str(split), "--out", str(out), "--tokenizer", "char", "--quiet"]
    main(["--format", "librispeech", *args])
    assert len(read_manifest(out)) == len(TRANSCRIPTS)


def test_audio_shorter_than_declared(split: Path, tmp_path: Path) -> None:
    rows = read_librispeech(split)
    rows[0] = replace(rows[0], duration=rows[0].duration + 1.0)
    with pytest.raises(DataError, match=r"holds 0.50 s of audio, not the 1.50 s declared"):
        _prepare(rows, tmp_path / "m.jsonl")


def test_duplicate_ids(split: Path, tmp_path: Path) -> None:
    rows = read_librispeech(split)
    with pytest.raises(DataError, match="19-198-0001: the id appears twice"):
        _prepare(rows + rows[1:2], tmp_path / "m.jsonl")


def test_two_workers_give_the_same_result(split: Path, tmp_path: Path) -> None:
    _empty(split)
    one = _prepare(split, tmp_path / "1.jsonl", skip_bad=True, workers=1)
    two = _prepare(split, tmp_path / "2.jsonl", skip_bad=True, workers=2)
    assert one.rows == two.rows and one.skipped == two.skipped
    with pytest.raises(DataError, match="no samples"):
        _prepare(split, tmp_path / "3.jsonl", workers=2)


def test_jsonl_round_trip(split: Path, tmp_path: Path) -> None:
    first = _prepare(split, tmp_path / "a.jsonl")
    again = _prepare(tmp_path / "a.jsonl", tmp_path / "b.jsonl", format="jsonl")
    assert again.rows == first.rows == read_jsonl(tmp_path / "b.jsonl")


def test_jsonl_relative_audio_is_next_to_the_manifest(tmp_path: Path) -> None:
    write_dummy_audio(tmp_path / "corpus" / "a.flac")
    manifest = write_manifest(
        [Utterance("a", "a.flac", 1.0, "HI", "s")], tmp_path / "corpus" / "m.jsonl"
    )
    assert read_jsonl(manifest)[0].audio == str(tmp_path / "corpus" / "a.flac")


def test_jsonl_malformed_line_names_the_line(split: Path, tmp_path: Path) -> None:
    path = _prepare(split, tmp_path / "m.jsonl").manifest
    path.write_text(path.read_text() + '{"id": "x", "audio": \n')
    with pytest.raises(DataError, match=r"m.jsonl:7: not valid JSON"):
        prepare_manifest(path, tmp_path / "n.jsonl", format="jsonl", skip_bad=True)


def test_jsonl_rows_without_a_positive_duration(tmp_path: Path) -> None:
    path = write_manifest([Utterance("a", "/a.flac", 0.0, "HI", "s")], tmp_path / "m.jsonl")
    with pytest.raises(DataError, match=r"^a: duration 0.0 is not positive"):
        read_jsonl(path)


def test_cli_end_to_end(split: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out" / "train.jsonl"
    main(["--format", "librispeech", "--source", str(split), "--out", str(out), "--quiet"])
    assert read_manifest(out) == read_librispeech(split)
    assert "wrote 6 utterances" in capsys.readouterr().out

    _empty(split)
    args = ["--format", "librispeech", "--source", str(split), "--out", str(out)]
    with pytest.raises(SystemExit) as exit:
        main([*args, "--quiet"])
    assert exit.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error == f"{PROGRAM}: error: {split}/19/198/19-198-0003.wav: no samples"
    main([*args, "--quiet", "--skip-bad"])
    assert len(read_manifest(out)) == 5
    assert len((out.parent / "train.skipped.tsv").read_text().splitlines()) == 2


def test_cli_reads_every_format_alike(split: Path, tmp_path: Path) -> None:
    rows = read_librispeech(split)
    sources = {
        "librispeech": split,
        "kaldi": write_kaldi_dir(tmp_path / "kaldi", rows),
        "jsonl": write_manifest(rows, tmp_path / "given.jsonl"),
    }
    for name, source in sources.items():
        out = tmp_path / f"{name}.jsonl"
        main(["--format", name, "--source", str(source), "--out", str(out), "--quiet"])
        assert read_manifest(out) == rows, name


def test_cli_runs_as_a_module(split: Path, tmp_path: Path) -> None:
    _corrupt(split)
    out = tmp_path / "m.jsonl"
    command = [sys.executable, "-m", "deepspeech_tt.data.prepare", "--format", "librispeech"]
    result = subprocess.run(
        [*command, "--source", str(split), "--out", str(out), "--skip-bad"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert len(read_manifest(out)) == 5
    assert "skipped 1 of 6 utterances" in result.stderr
    assert "Traceback" not in result.stderr
