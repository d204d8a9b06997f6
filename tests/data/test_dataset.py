import logging
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from deepspeech_tt.data.batching import DurationBatchSampler
from deepspeech_tt.data.dataset import SpeechDataset, collate, ctc_frames_needed, filter_utterances
from deepspeech_tt.data.librispeech import read_librispeech
from deepspeech_tt.data.manifest import Utterance
from deepspeech_tt.data.testing import write_dummy_audio
from deepspeech_tt.data.text import ALPHABET

RATE = 16000


class _Letters:
    """A character tokenizer stand-in: blank 0, then the alphabet."""

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - set(ALPHABET))
        if unknown:
            raise ValueError(f"cannot encode {unknown}")
        return [ALPHABET.index(c) + 1 for c in text]


def _recording(directory: Path, name: str, seconds: float, rate: int = RATE) -> str:
    return str(write_dummy_audio(directory / f"{name}.flac", seconds, sample_rate=rate))


def _row(directory: Path, uid: str, seconds: float, text: str = "HELLO") -> Utterance:
    return Utterance(uid, _recording(directory, uid, seconds), seconds, text, "s1")


@pytest.fixture
def rows(tmp_path: Path) -> list[Utterance]:
    lengths = [0.5, 1.2, 0.8, 2.0, 0.3, 1.5, 0.9, 1.1]
    return [
        _row(tmp_path, f"u{i}", seconds, text="HELLO WORLD"[: 3 + i])
        for i, seconds in enumerate(lengths)
    ]


def test_item_is_16k_audio_and_labels(tmp_path: Path) -> None:
    row = Utterance("a", _recording(tmp_path, "a", 0.5, rate=8000), 0.5, "AB BA", "s")
    item = SpeechDataset([row], _Letters())[0]
    assert item is not None
    assert item["id"] == "a" and item["text"] == "AB BA"
    assert item["audio"].dtype == torch.float32 and item["audio"].shape == (8000,)
    assert item["labels"].dtype == torch.long
    assert item["labels"].tolist() == [1, 2, 28, 2, 1]


def test_a_segment_row_reads_only_its_segment(tmp_path: Path) -> None:
    path = _recording(tmp_path, "long", 3.0)
    row = Utterance("seg", path, 1.25, "A", "s", offset=0.5)
    item = SpeechDataset([row], _Letters())[0]
    assert item is not None and item["audio"].shape == (20000,)


def test_collate_pads_audio_with_zeros_and_labels_with_blank(rows: list[Utterance]) -> None:
    dataset = SpeechDataset(rows[:3], _Letters())
    items = [dataset[i] for i in range(3)]
    batch = collate(items)
    assert batch is not None
    assert batch["ids"] == ["u0", "u1", "u2"]
    assert batch["texts"] == [r.text for r in rows[:3]]
    assert batch["audio"].shape == (3, 19200)
    assert batch["audio_lengths"].tolist() == [8000, 19200, 12800]
    assert batch["labels"].shape == (3, 5)
    assert batch["label_lengths"].tolist() == [3, 4, 5]
    for b, item in enumerate(items):
        assert item is not None
        n, m = len(item["audio"]), len(item["labels"])
        torch.testing.assert_close(batch["audio"][b, :n], item["audio"])
        assert not batch["audio"][b, n:].any() and not batch["labels"][b, m:].any()
        assert batch["labels"][b, :m].tolist() == item["labels"].tolist()


def test_collate_keeps_empty_transcripts(tmp_path: Path) -> None:
    dataset = SpeechDataset([_row(tmp_path, "silent", 0.2, text="")], _Letters())
    batch = collate([dataset[0]])
    assert batch is not None
    assert batch["labels"].shape == (1, 0) and batch["label_lengths"].tolist() == [0]


def test_a_load_failure_mid_epoch_is_skipped_and_counted(
    rows: list[Utterance], caplog: pytest.LogCaptureFixture
) -> None:
    dataset = SpeechDataset(rows, _Letters())
    Path(rows[3].audio).unlink()  # deleted after preparation
    Path(rows[5].audio).write_bytes(b"corrupted since" * 20)
    durations = [r.duration for r in rows]
    sampler = DurationBatchSampler(durations, max_frames=300, num_buckets=1, shuffle=False)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
    with caplog.at_level(logging.WARNING, logger="deepspeech_tt.data.dataset"):
        batches = list(loader)  # [u4 u0 u2] [u6 u7] [u1 u5] [u3]
    assert [b["ids"] if b else None for b in batches] == [
        ["u4", "u0", "u2"], ["u6", "u7"], ["u1"], None
    ]  # fmt: skip
    assert [b["num_skipped"] for b in batches if b] == [0, 0, 1]
    assert dataset.failed_ids == ["u5", "u3"]
    assert "u3" in caplog.text and rows[3].audio in caplog.text and "no such file" in caplog.text
    assert "u5" in caplog.text and "cannot be decoded" in caplog.text


def test_text_the_tokenizer_rejects_is_skipped_not_raised(tmp_path: Path) -> None:
    dataset = SpeechDataset([_row(tmp_path, "x", 0.2, text="CAFÉ")], _Letters())
    assert dataset[0] is None and dataset.failed_ids == ["x"]


def test_collate_of_only_failures_is_none() -> None:
    assert collate([None, None]) is None


def test_dataloader_with_two_workers(rows: list[Utterance]) -> None:
    sampler = DurationBatchSampler([r.duration for r in rows], max_frames=300, num_buckets=2)
    sampler.set_epoch(1)
    loader = DataLoader(
        SpeechDataset(rows, _Letters()), batch_sampler=sampler, collate_fn=collate, num_workers=2
    )
    batches = list(loader)
    assert len(batches) == len(sampler)
    assert sorted(i for batch in batches for i in batch["ids"]) == sorted(r.id for r in rows)
    for batch in batches:
        assert batch["audio"].shape[1] == int(batch["audio_lengths"].max())
        assert batch["audio"].shape[0] * batch["audio"].shape[1] <= 300 * 160


def test_speed_perturbation_changes_the_length(tmp_path: Path) -> None:
    pytest.importorskip("deepspeech_tt.data.augment")
    row = _row(tmp_path, "a", 1.0)
    item = SpeechDataset([row], _Letters(), speed_perturbation=[1.25])[0]
    assert item is not None
    assert abs(len(item["audio"]) - RATE / 1.25) <= 2


def test_speed_factors_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SpeechDataset([], _Letters(), speed_perturbation=[0.9, 0.0])


@pytest.mark.parametrize(
    ("labels", "frames"), [([1, 1], 3), ([1, 2], 2), ([1, 1, 1], 5), ([], 0), ([3, 1, 3], 3)]
)
def test_ctc_frames_needed(labels: list[int], frames: int) -> None:
    assert ctc_frames_needed(labels) == frames


def _fake_rows(specs: list[tuple[str, float, str]]) -> list[Utterance]:
    return [Utterance(uid, f"/nowhere/{uid}.flac", d, text, "s") for uid, d, text in specs]


def test_labels_that_cannot_fit_the_output_frames_are_reported() -> None:
    rows = _fake_rows([("aa", 0.05, "AA"), ("ab", 0.05, "AB"), ("aaa", 0.05, "ABA")])

    def two_or_three(input_frames: int) -> int:  # 5 input frames: 3 output frames
        assert input_frames == 5
        return 3

    kept, report = filter_utterances(rows, tokenizer=_Letters(), output_frames=two_or_three)
    assert [r.id for r in kept] == ["aa", "ab", "aaa"]  # "AA" needs 3 frames: it fits
    kept, report = filter_utterances(rows, tokenizer=_Letters(), output_frames=lambda t: 2)
    assert [r.id for r in kept] == ["ab"]
    assert report.dropped == {"labels_do_not_fit": ["aa", "aaa"]}


def test_duration_filters_count_each_reason_and_summarise() -> None:
    rows = _fake_rows(
        [
            ("short", 0.2, "A"),
            ("ok", 2.0, "A"),
            ("long1", 20.0, "A"),
            ("long2", 30.0, "A"),
            ("odd", 2.0, "É"),
            ("tight", 0.6, "ABCDEFGHIJKL" * 6),
        ]  # fmt: skip
    )
    kept, report = filter_utterances(
        rows, min_duration=0.5, max_duration=16.0, tokenizer=_Letters(), output_frames=lambda t: t
    )
    assert [r.id for r in kept] == ["ok"]
    assert report.total == 6 and report.kept == 1 and report.kept_seconds == 2.0
    assert report.dropped == {
        "too_short": ["short"],
        "too_long": ["long1", "long2"],
        "cannot_encode": ["odd"],
        "labels_do_not_fit": ["tight"],
    }
    summary = report.summary()
    assert summary.startswith("kept 1 of 6 utterances")
    assert "2 longer than 16 s: long1, long2" in summary
    assert "1 text the tokenizer cannot encode: odd" in summary
    assert "1 shorter than 0.5 s: short\n" in summary
    assert "1 more labels than the model has output frames for: tight" in summary


def test_the_summary_shortens_long_id_lists() -> None:
    rows = _fake_rows([(f"u{i}", 0.1, "A") for i in range(12)])
    _, report = filter_utterances(rows, min_duration=1.0)
    assert "12 shorter than 1 s: u0, u1, u2, u3, u4 and 7 more" in report.summary()


def test_the_label_check_needs_the_tokenizer() -> None:
    with pytest.raises(ValueError, match="needs the tokenizer"):
        filter_utterances([], output_frames=lambda t: t)


def test_the_tiny_corpus_goes_through_filter_dataset_and_sampler(tiny_corpus: Path) -> None:
    rows = read_librispeech(tiny_corpus / "train")
    rows, report = filter_utterances(
        rows, max_duration=30.0, tokenizer=_Letters(), output_frames=lambda t: (t - 1) // 2 + 1
    )
    assert report.kept == report.total > 0, report.summary()
    sampler = DurationBatchSampler([r.duration for r in rows], max_frames=3000)
    loader = DataLoader(SpeechDataset(rows, _Letters()), batch_sampler=sampler, collate_fn=collate)
    ids = [uid for batch in loader for uid in batch["ids"]]
    assert sorted(ids) == [r.id for r in rows]
