"""Utterances as training examples, and padded dict batches of them.

``filter_utterances`` drops (and reports) what training cannot use, ``SpeechDataset`` turns
manifest rows into ``{"id", "text", "audio", "labels"}`` items and ``collate`` pads a list of
items into one batch, lhotse-style: named tensors with integer lengths. Features are computed
later, on the training device, by ``deepspeech_tt.data.features.FeatureExtractor``. With
``deepspeech_tt.data.batching.DurationBatchSampler``::

    rows, report = filter_utterances(rows, max_duration=16.7, tokenizer=tokenizer,
                                     output_frames=model.output_frames)
    log.info(report.summary())
    dataset = SpeechDataset(rows, tokenizer)
    sampler = DurationBatchSampler([row.duration for row in rows], max_frames=10_000)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=2)
    for batch in loader:
        if batch is None:  # every utterance of this batch failed to load (and was logged)
            continue
        ...
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

from deepspeech_tt.data.audio import read_audio
from deepspeech_tt.data.augment import speed_perturb
from deepspeech_tt.data.manifest import Utterance

log = logging.getLogger(__name__)


class TextEncoder(Protocol):
    """What the data layer needs from a tokenizer (``CharTokenizer``, ``BpeTokenizer``)."""

    def encode(self, text: str) -> list[int]: ...


class Item(TypedDict):
    id: str
    text: str
    audio: Tensor  # (S,) float32, 16 kHz mono
    labels: Tensor  # (L,) int64 token ids, no blanks


class Batch(TypedDict):
    ids: list[str]
    texts: list[str]
    audio: Tensor  # (B, S_max) float32, zero-padded
    audio_lengths: Tensor  # (B,) int64 samples
    labels: Tensor  # (B, L_max) int64, padded with 0 (the CTC blank)
    label_lengths: Tensor  # (B,) int64
    num_skipped: int  # items of this batch dropped because they failed to load


class SpeechDataset(Dataset[Item | None]):
    """Manifest rows as ``{"id", "text", "audio", "labels"}`` items.

    Loading never raises in the middle of an epoch: a file that passed preparation but fails
    now (deleted or corrupted since, a pipe command that stopped working, text the tokenizer
    rejects) is logged as a warning naming the utterance and the problem, counted in
    ``failed_ids``, and its item is ``None``; ``collate`` drops it. With a ``DataLoader`` of
    several workers each worker counts its own failures, so the batches carry the count too
    (``batch["num_skipped"]``).

    Args:
        rows: the utterances, e.g. from ``read_manifest``.
        tokenizer: anything with ``encode(text) -> list[int]`` and no id 0 in its output.
        speed_perturbation: speed factors (e.g. ``(0.9, 1.0, 1.1)``), one drawn uniformly per
            item. A factor below 1 makes the audio longer than the manifest says, so batches
            planned on manifest durations grow by up to ``1 / min(factors)``.
        seed: with an ``(index, epoch)`` key the factor is drawn from a generator seeded by
            ``(seed, epoch, index)``: the same whichever worker loads the item and however
            far ahead it prefetches, so that a resumed run perturbs as the uninterrupted one
            did. A plain index draws from torch's random generator.
    """

    def __init__(
        self,
        rows: Sequence[Utterance],
        tokenizer: TextEncoder,
        speed_perturbation: Sequence[float] | None = None,
        seed: int = 0,
    ) -> None:
        if speed_perturbation is not None and not all(f > 0 for f in speed_perturbation):
            raise ValueError(f"speed factors must be positive, got {speed_perturbation}")
        self.rows = list(rows)
        self.tokenizer = tokenizer
        self.speed_factors = tuple(speed_perturbation or ())
        self.seed = seed
        self.failed_ids: list[str] = []

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int | tuple[int, int]) -> Item | None:
        index, epoch = key if isinstance(key, tuple) else (key, None)
        row = self.rows[index]
        try:
            audio = read_audio(row.audio, row.offset, row.duration)
            labels = torch.tensor(self.tokenizer.encode(row.text), dtype=torch.long)
        except (ValueError, OSError) as error:  # AudioError and TokenizerError are ValueErrors
            log.warning("skipping utterance %s: %s", row.id, error)
            self.failed_ids.append(row.id)
            return None
        audio = self._perturb(audio, index, epoch)
        return {"id": row.id, "text": row.text, "audio": audio, "labels": labels}

    def _perturb(self, audio: Tensor, index: int, epoch: int | None) -> Tensor:
        if not self.speed_factors:
            return audio
        count = len(self.speed_factors)
        if epoch is None:
            draw = int(torch.randint(count, ()))
        else:
            draw = int(np.random.default_rng([self.seed, epoch, index]).integers(count))
        factor = self.speed_factors[draw]
        if factor == 1.0:
            return audio
        return speed_perturb(audio, factor)


def collate(items: Sequence[Item | None]) -> Batch | None:
    """Pad ``items`` into one batch, dropping the ``None`` items of failed loads.

    Returns:
        The batch (see ``Batch`` for keys and shapes), in the order of ``items``; ``None`` when
        no item is left, which the training loop skips.
    """
    kept = [item for item in items if item is not None]
    if not kept:
        return None
    audio = [item["audio"] for item in kept]
    labels = [item["labels"] for item in kept]
    return {
        "ids": [item["id"] for item in kept],
        "texts": [item["text"] for item in kept],
        "audio": pad_sequence(audio, batch_first=True),  # (B, S_max)
        "audio_lengths": torch.tensor([len(a) for a in audio], dtype=torch.long),  # (B,)
        "labels": pad_sequence(labels, batch_first=True, padding_value=0),  # (B, L_max)
        "label_lengths": torch.tensor([len(x) for x in labels], dtype=torch.long),  # (B,)
        "num_skipped": len(items) - len(kept),
    }


_REASONS = {
    "too_short": "shorter than {min_duration:g} s",
    "too_long": "longer than {max_duration:g} s",
    "cannot_encode": "text the tokenizer cannot encode",
    "labels_do_not_fit": "more labels than the model has output frames for",
}


@dataclass
class FilterReport:
    """What ``filter_utterances`` kept and why it dropped the rest."""

    total: int  # utterances looked at
    kept: int  # utterances kept
    kept_seconds: float  # audio kept, in seconds
    dropped: dict[str, list[str]] = field(default_factory=dict)  # reason -> utterance ids
    limits: dict[str, float] = field(default_factory=dict)  # min_duration, max_duration

    def summary(self, max_ids: int = 5) -> str:
        """One readable paragraph: kept and dropped counts, each reason with a few ids."""
        seconds = self.kept_seconds
        audio = f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds:.1f} s"
        dropped = self.total - self.kept
        lines = [f"kept {self.kept} of {self.total} utterances ({audio}), dropped {dropped}"]
        for reason, ids in self.dropped.items():
            more = f" and {len(ids) - max_ids} more" if len(ids) > max_ids else ""
            shown = ", ".join(ids[:max_ids]) + more
            lines.append(f"  {len(ids)} {_REASONS[reason].format(**self.limits)}: {shown}")
        return "\n".join(lines)


def filter_utterances(
    rows: Sequence[Utterance],
    min_duration: float = 0.0,
    max_duration: float = math.inf,
    tokenizer: TextEncoder | None = None,
    output_frames: Callable[[int], int] | None = None,
    hop_seconds: float = 0.01,
) -> tuple[list[Utterance], FilterReport]:
    """Drop the utterances training cannot use, and say which and why.

    CTC can only emit a label sequence if the model has at least one output frame per label,
    plus one blank between each pair of equal neighbours (``"AA"`` needs 3 frames); utterances
    whose labels cannot fit would give an infinite loss, so they are dropped and reported.

    Args:
        rows: the utterances.
        min_duration: shorter utterances are dropped (seconds).
        max_duration: longer utterances are dropped (seconds).
        tokenizer: encodes the transcripts for the label check (needed with ``output_frames``).
        output_frames: the model's number of output frames for a number of input feature
            frames. Input frames are estimated as ``floor(duration / hop_seconds)``, at most
            one fewer than the feature extractor gives, so the check errs towards reporting.
        hop_seconds: the feature hop.

    Returns:
        The kept rows, in their original order, and the report.
    """
    if output_frames is not None and tokenizer is None:
        raise ValueError("checking that labels fit the output frames needs the tokenizer")
    kept: list[Utterance] = []
    dropped: dict[str, list[str]] = {}
    for row in rows:
        reason = _drop_reason(row, min_duration, max_duration, tokenizer, output_frames,
                              hop_seconds)  # fmt: skip
        if reason is None:
            kept.append(row)
        else:
            dropped.setdefault(reason, []).append(row.id)
    report = FilterReport(
        total=len(rows),
        kept=len(kept),
        kept_seconds=sum(row.duration for row in kept),
        dropped=dropped,
        limits={"min_duration": min_duration, "max_duration": max_duration},
    )
    return kept, report


def ctc_frames_needed(labels: Sequence[int]) -> int:
    """The fewest output frames CTC needs for ``labels``: one each, plus a blank between repeats."""
    repeats = sum(1 for a, b in zip(labels[:-1], labels[1:], strict=True) if a == b)
    return len(labels) + repeats


def _drop_reason(
    row: Utterance,
    min_duration: float,
    max_duration: float,
    tokenizer: TextEncoder | None,
    output_frames: Callable[[int], int] | None,
    hop_seconds: float,
) -> str | None:
    if row.duration < min_duration:
        return "too_short"
    if row.duration > max_duration:
        return "too_long"
    if tokenizer is None or output_frames is None:
        return None
    try:
        labels = tokenizer.encode(row.text)
    except ValueError:
        return "cannot_encode"
    input_frames = math.floor(row.duration / hop_seconds + 1e-6)
    return "labels_do_not_fit" if output_frames(input_frames) < ctc_frames_needed(labels) else None
