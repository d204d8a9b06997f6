import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from deepspeech_tt.data.synth import (
    MARKER,
    CorpusError,
    collect_sentences,
    generate_corpus,
    is_speakable,
    read_summary,
)
from deepspeech_tt.data.synth import corpus as corpus_module
from deepspeech_tt.data.synth.__main__ import main
from deepspeech_tt.data.synth.espeak import Voice, engine
from deepspeech_tt.data.synth.voices import (
    ACCENTS,
    FEMALE_VARIANTS,
    MALE_VARIANTS,
    assign_voices,
    variant_path,
)
from deepspeech_tt.data.text import ALPHABET, normalize_transcript
from tests.conftest import TINY_SOURCES, TINY_UTTERANCES

SPLITS = ("train", "dev", "test")
SMALL = {"train": 2, "dev": 1, "test": 1}


def _tree(root: Path, split: str) -> dict[str, tuple[Path, str]]:
    """utterance id -> (flac path, transcript), from the LibriSpeech tree of ``split``."""
    rows = {}
    for trans in sorted((root / split).glob("*/*/*.trans.txt")):
        for line in trans.read_text().splitlines():
            utterance_id, transcript = line.split(" ", 1)
            rows[utterance_id] = (trans.parent / f"{utterance_id}.flac", transcript)
    return rows


def _speakers(root: Path) -> dict[str, tuple[str, str]]:
    """speaker id -> (split, "accent+variant"), from SPEAKERS.TXT."""
    rows = {}
    for line in (root / "SPEAKERS.TXT").read_text().splitlines():
        if not line.startswith(";"):
            speaker, _sex, split, _minutes, voice = (field.strip() for field in line.split("|"))
            rows[speaker] = (split, voice.split()[0])
    return rows


def _kaldi(root: Path, split: str, name: str) -> list[str]:
    return (root / "kaldi" / split / name).read_text().splitlines()


def _samples(root: Path) -> dict[str, np.ndarray]:
    return {
        str(path.relative_to(root)): soundfile.read(path, dtype="int16")[0]
        for path in sorted(root.rglob("*.flac"))
    }


def _transcripts(root: Path) -> dict[str, str]:
    return {i: text for split in SPLITS for i, (_, text) in _tree(root, split).items()}


def test_librispeech_layout_and_names(tiny_corpus: Path) -> None:
    assert (tiny_corpus / MARKER).is_file() and (tiny_corpus / "lm_text.txt").is_file()
    for split in SPLITS:
        flacs = sorted((tiny_corpus / split).rglob("*.flac"))
        assert len(flacs) == TINY_UTTERANCES[split]
        for path in flacs:
            speaker, chapter = path.parent.parent.name, path.parent.name
            assert re.fullmatch(rf"{speaker}-{chapter}-\d{{4}}\.flac", path.name)
            assert speaker.isdigit() and chapter.isdigit()
        tree = _tree(tiny_corpus, split)
        assert sorted(path for path, _ in tree.values()) == flacs  # one line per file
    for trans in tiny_corpus.rglob("*.trans.txt"):
        lines = trans.read_text().splitlines()
        assert lines == sorted(lines)
        assert trans.name == f"{trans.parent.parent.name}-{trans.parent.name}.trans.txt"


def test_audio_is_16k_mono_flac_speech(tiny_corpus: Path) -> None:
    for path in tiny_corpus.rglob("*.flac"):
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        wave, _ = soundfile.read(path)
        assert 0.5 < wave.shape[0] / 16000 < 20
        assert np.sqrt(np.mean(wave**2)) > 0.005 and np.abs(wave).max() < 1.0


def test_transcripts_are_normalised(tiny_corpus: Path) -> None:
    for transcript in _transcripts(tiny_corpus).values():
        assert transcript and set(transcript) <= set(ALPHABET)
        assert normalize_transcript(transcript) == transcript
    for line in (tiny_corpus / "lm_text.txt").read_text().splitlines():
        assert line and normalize_transcript(line) == line


def test_splits_have_disjoint_speakers_and_unseen_voices(tiny_corpus: Path) -> None:
    speakers = _speakers(tiny_corpus)
    for split in SPLITS:
        in_tree = {path.name for path in (tiny_corpus / split).iterdir()}
        assert in_tree == {s for s, (listed, _) in speakers.items() if listed == split}
    voices = {split: {v for s, v in speakers.values() if s == split} for split in SPLITS}
    variants = {split: {v.split("+")[1] for v in voices[split]} for split in SPLITS}
    accents = {split: {v.split("+")[0] for v in voices[split]} for split in SPLITS}
    assert not variants["train"] & (variants["dev"] | variants["test"])  # unseen timbres
    assert not variants["dev"] & variants["test"]
    assert accents["test"] | accents["dev"] <= accents["train"]  # but known accents


def test_voices_scale_to_many_speakers() -> None:
    voices = assign_voices({"train": 40, "dev": 10, "test": 10}, np.random.default_rng(0))
    identities = [(v.language, v.variant) for split in voices.values() for v in split]
    assert len(identities) == len(set(identities)) == 60
    for accent in {v.language for v in voices["test"]}:  # several training voices per accent
        assert sum(v.language == accent for v in voices["train"]) >= 4


def test_sentences_of_splits_and_lm_text_are_disjoint(tiny_corpus: Path) -> None:
    spoken = {split: {t for _, t in _tree(tiny_corpus, split).values()} for split in SPLITS}
    lm_text = set((tiny_corpus / "lm_text.txt").read_text().splitlines())
    assert len(lm_text) > 100
    assert not lm_text & (spoken["train"] | spoken["dev"] | spoken["test"])
    assert not spoken["train"] & (spoken["dev"] | spoken["test"])
    assert not spoken["dev"] & spoken["test"]


def test_kaldi_dirs_match_the_tree(tiny_corpus: Path) -> None:
    for split in SPLITS:
        tree = _tree(tiny_corpus, split)
        wav_scp = [line.split(" ", 1) for line in _kaldi(tiny_corpus, split, "wav.scp")]
        assert {i: Path(p) for i, p in wav_scp} == {i: p for i, (p, _) in tree.items()}
        assert all(Path(p).is_absolute() and Path(p).is_file() for _, p in wav_scp)
        text = dict(line.split(" ", 1) for line in _kaldi(tiny_corpus, split, "text"))
        assert text == {i: t for i, (_, t) in tree.items()}
        utt2spk = dict(line.split() for line in _kaldi(tiny_corpus, split, "utt2spk"))
        assert all(utt.split("-")[0] == spk for utt, spk in utt2spk.items())
        spk2utt = {
            line.split()[0]: line.split()[1:] for line in _kaldi(tiny_corpus, split, "spk2utt")
        }
        assert {u: s for s, utts in spk2utt.items() for u in utts} == utt2spk
        for name in ("wav.scp", "text", "utt2spk", "spk2utt"):
            lines = _kaldi(tiny_corpus, split, name)
            assert lines == sorted(lines), f"kaldi/{split}/{name} is not sorted"


def test_same_seed_same_corpus_whatever_the_workers(tiny_corpus: Path, tmp_path: Path) -> None:
    engine().synthesize("This process has spoken already.", Voice("en", "m3", 50, 50, 175))
    again = tmp_path / "again"
    generate_corpus(
        again, utterances=TINY_UTTERANCES, sources=TINY_SOURCES, workers=1, progress=False
    )
    assert _transcripts(again) == _transcripts(tiny_corpus)
    first, second = _samples(tiny_corpus), _samples(again)
    assert first.keys() == second.keys()
    assert all(np.array_equal(first[name], second[name]) for name in first)


def test_another_seed_another_corpus(tiny_corpus: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate_corpus(other, utterances=TINY_UTTERANCES, sources=TINY_SOURCES, seed=1, progress=False)
    assert set(_transcripts(other).values()) != set(_transcripts(tiny_corpus).values())
    assert set(_speakers(other).values()) != set(_speakers(tiny_corpus).values())


def test_rerun_with_same_settings_is_a_no_op(tiny_corpus: Path) -> None:
    marker = tiny_corpus / MARKER
    stamp = marker.stat().st_mtime_ns
    summary = generate_corpus(
        tiny_corpus, utterances=TINY_UTTERANCES, sources=TINY_SOURCES, progress=False
    )
    assert marker.stat().st_mtime_ns == stamp
    assert summary == read_summary(tiny_corpus)
    assert {name: s.utterances for name, s in summary.splits.items()} == TINY_UTTERANCES
    with pytest.raises(CorpusError, match="other settings"):
        generate_corpus(tiny_corpus, utterances=TINY_UTTERANCES, sources=TINY_SOURCES, seed=7)


def test_refuses_a_directory_that_is_not_a_corpus(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CorpusError, match="not a complete corpus"):
        generate_corpus(tmp_path, utterances=SMALL, sources=TINY_SOURCES, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_interrupted_run_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus_module, "_write_layouts", interrupt)
    with pytest.raises(KeyboardInterrupt):
        generate_corpus(tmp_path / "c", utterances=SMALL, sources=TINY_SOURCES, progress=False)
    assert list(tmp_path.iterdir()) == []  # neither the corpus nor a partial one


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": -1.0}, "hours must be positive"),
        ({"dev_minutes": 0.0}, "dev_minutes must be positive"),
        ({"workers": 0}, "workers must be at least 1"),
        ({"utterances": {"train": 3}}, "utterances needs"),
        ({"sources": ("no_such_package_here",)}, "unknown text source"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_corpus(tmp_path / "c", progress=False, **kwargs)


def test_unwritable_output_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CorpusError, match="cannot write the corpus at .*file/corpus"):
        generate_corpus(blocker / "corpus", utterances=SMALL, progress=False)


def test_cli_reports_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "c"), "--hours", "-1", "--quiet"])
    assert exit_info.value.code == 2
    error = "python -m deepspeech_tt.data.synth: error: hours must be positive, got -1.0\n"
    assert capsys.readouterr().err == error  # one line, no usage


@pytest.mark.parametrize(
    "sentence",
    [
        "Return a contiguous flattened array.",
        "If the header does not occur, an empty list is returned.",
        "It's possible that a node has multiple inputs, some of them built-in.",
        'Is this "quoted" sentence fine?',
    ],
)
def test_speakable_sentences(sentence: str) -> None:
    assert is_speakable(sentence)
    assert set(normalize_transcript(sentence)) <= set(ALPHABET)


def test_every_speakable_sentence_is_spellable() -> None:
    """The generator writes only what the character tokenizer spells: nothing to fold."""
    sentences = collect_sentences(TINY_SOURCES)
    assert sentences
    for sentence in sentences:
        assert set(normalize_transcript(sentence)) <= set(ALPHABET), sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "Use 3 threads for this.",  # digits
        "Call os.path.join on the parts.",  # dots inside a word
        "The API is stable now.",  # acronym, spelt out by eSpeak
        "Pass a NumPy array instead.",  # CamelCase
        "Set the max_size attribute first.",  # code
        "Call the function (if any) first.",  # brackets
        "See https://example.org for more.",  # URL
        "This holds, e.g. for lists.",  # abbreviation
        "The value of x is ignored.",  # single letter
        "Too short.",
        "This sentence goes on " + "and on " * 12 + "forever.",
        "lower case start is rejected.",
        "No final punctuation here at all",
    ],
)
def test_unspeakable_sentences(sentence: str) -> None:
    assert not is_speakable(sentence)


def test_every_voice_exists() -> None:
    for variant in FEMALE_VARIANTS + MALE_VARIANTS:
        assert variant_path(variant).is_file(), variant
    for accent in ACCENTS:
        assert engine().synthesize("Hello.", Voice(accent, "m1", 50, 50, 175)).size > 1000
