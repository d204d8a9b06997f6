"""Who says what: speakers, their ids and voices, and the sentences each may say.

Everything here is drawn from one seeded generator before any audio is made, so the plan,
and with it the corpus, is a function of the seed and the sentence pool alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepspeech_tt.data.synth.render import SpeakerTask
from deepspeech_tt.data.synth.voices import assign_voices, max_speakers

SPLITS = ("train", "dev", "test")
SECONDS_PER_SPEAKER = {"train": 90.0, "dev": 30.0, "test": 30.0}  # more voices beat more hours
UTTERANCES_PER_SPEAKER = 3  # when exact counts are asked for
SHORTEST_SENTENCE_SECONDS = 1.5  # to reserve enough candidates for a speaker's duration
LM_SHARE = 0.1  # of the sentence pool, never reserved for speech


@dataclass(frozen=True)
class SplitTarget:
    """How much a split holds: ``seconds`` of audio, or exactly ``count`` recordings."""

    seconds: float | None = None
    count: int | None = None


def plan_tasks(
    root: Path, targets: Mapping[str, SplitTarget], sentences: Sequence[str], seed: int
) -> list[SpeakerTask]:
    """One task per speaker of every split, with disjoint voices and sentences across splits.

    Args:
        root: the corpus directory the splits are written under.
        targets: the size of each split in ``SPLITS``.
        sentences: the sentence pool (sorted); shuffled here with ``seed``.
        seed: seeds every random choice.

    Raises:
        ValueError: the pool is too small for dev and test.
    """
    rng = np.random.default_rng(seed)
    pool = [sentences[i] for i in rng.permutation(len(sentences))]
    shares = {split: _speaker_shares(split, targets[split]) for split in SPLITS}
    voices = assign_voices({split: len(shares[split]) for split in SPLITS}, rng)
    total_speakers = sum(len(share) for share in shares.values())
    speaker_ids = iter(rng.choice(np.arange(10, 10_000), total_speakers, replace=False))
    chapter_ids = iter(rng.choice(np.arange(100, 200_000), 2 * total_speakers, replace=False))
    needs = {split: _needs(targets[split], shares[split]) for split in SPLITS}
    candidates = _allocate_sentences(pool, needs)
    tasks = []
    for split in SPLITS:
        for number, (share, voice) in enumerate(zip(shares[split], voices[split], strict=True)):
            is_count = targets[split].count is not None
            tasks.append(
                SpeakerTask(
                    split_dir=root / split,
                    speaker=int(next(speaker_ids)),
                    chapters=(int(next(chapter_ids)), int(next(chapter_ids))),
                    voice=voice,
                    sentences=tuple(candidates[split][number]),
                    seed=int(rng.integers(2**63)),
                    seconds=None if is_count else share,
                    count=int(share) if is_count else None,
                )
            )
    return tasks


def _speaker_shares(split: str, target: SplitTarget) -> list[float]:
    """Each speaker's share of the split: seconds, or a count of recordings."""
    if target.count is not None:
        speakers = min(math.ceil(target.count / UTTERANCES_PER_SPEAKER), max_speakers(split))
        base, extra = divmod(target.count, speakers)
        return [float(base + (number < extra)) for number in range(speakers)]
    seconds = float(target.seconds or 0.0)
    speakers = max(1, min(round(seconds / SECONDS_PER_SPEAKER[split]), max_speakers(split)))
    return [seconds / speakers] * speakers


def _needs(target: SplitTarget, shares: Sequence[float]) -> list[int]:
    """Candidate sentences per speaker: exact for a count, generous for a duration."""
    if target.count is not None:
        return [int(share) for share in shares]
    return [math.ceil(share / SHORTEST_SENTENCE_SECONDS) + 2 for share in shares]


def _allocate_sentences(
    pool: Sequence[str], needs: Mapping[str, Sequence[int]]
) -> dict[str, list[list[str]]]:
    """Candidate sentences per speaker: test and dev first, disjoint; train from the rest.

    Training speakers take every n-th sentence of what is left (less an LM share), wrapping
    round, so sentences repeat with other voices only when the pool runs out.
    """
    start = 0
    allocated: dict[str, list[list[str]]] = {}
    for split in ("test", "dev"):
        allocated[split] = []
        for need in needs[split]:
            allocated[split].append(list(pool[start : start + need]))
            start += need
    train_pool = pool[start : len(pool) - int(LM_SHARE * len(pool))]
    if start > len(pool) // 2 or not train_pool:
        raise ValueError(
            f"only {len(pool)} sentences to say: too few for dev and test of this size "
            "(ask for fewer minutes, or add text sources)"
        )
    speakers = len(needs["train"])
    allocated["train"] = [
        [train_pool[(number + i * speakers) % len(train_pool)] for i in range(need)]
        for number, need in enumerate(needs["train"])
    ]
    return allocated
