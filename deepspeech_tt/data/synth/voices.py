"""Speaker identities for the synthetic corpus, disjoint across splits.

An identity is an eSpeak English accent, a voice variant (timbre), a base pitch, a pitch
range and a speaking rate. The variants are split three ways, so every dev and test voice has
a timbre no training speaker has (test measures unseen voices), while every accent of dev and
test is also spoken in training, by several identities where there are enough speakers:
accents with a single training identity generalise worst.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import espeakng_loader
import numpy as np

from deepspeech_tt.data.synth.espeak import Voice

ACCENTS = (
    "en",  # British English
    "en-us",
    "en-us-nyc",
    "en-029",  # Caribbean
    "en-gb-scotland",
    "en-gb-x-gbclan",  # Lancaster
    "en-gb-x-gbcwmd",  # West Midlands
    "en-gb-x-rp",  # Received Pronunciation
)
"""The eSpeak English languages, one accent each."""

FEMALE_VARIANTS = (
    "f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "anika", "aunty", "belinda",
    "linda", "steph", "steph2",
)  # fmt: skip
MALE_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "klatt", "klatt2", "klatt3", "adam",
    "benjamin", "david", "edward", "Mike", "Alex", "Gene", "Michael", "Mario", "paul", "robert",
    "quincy", "rob", "pedro", "antonio", "max", "ed", "travis", "victor", "gustave", "Denis",
    "Diogo", "Hugo", "michel", "miguel", "Henrique",
)  # fmt: skip
"""eSpeak variants that still sound like speech; the echoing, robotic, whispering and
croaking ones of ``espeak-ng-data/voices/!v`` are left out."""

PITCHES = (25, 75)  # base pitch, inclusive bounds
RANGES = (30, 80)  # pitch range
RATES = (140, 195)  # words per minute

_HELD_OUT_FRACTION = 0.15  # of the variants, for each of dev and test


def variant_sex(variant: str) -> str:
    """``"F"`` or ``"M"``, as LibriSpeech's SPEAKERS.TXT writes it."""
    return "F" if variant in FEMALE_VARIANTS else "M"


def variant_path(variant: str) -> Path:
    """The eSpeak data file of ``variant``."""
    return Path(espeakng_loader.get_data_path()) / "voices" / "!v" / variant


def assign_voices(speakers: Mapping[str, int], rng: np.random.Generator) -> dict[str, list[Voice]]:
    """Distinct voices for ``speakers[split]`` speakers of each split.

    Args:
        speakers: number of speakers per split, with keys ``"train"``, ``"dev"``, ``"test"``.
        rng: the generator that draws variants, accents, pitches, ranges and rates.

    Raises:
        ValueError: more speakers than distinct (accent, variant) pairs in a split.
    """
    variants = _split_variants(rng)
    accents = [ACCENTS[i] for i in rng.permutation(len(ACCENTS))]
    test_accents = _cycle(accents, speakers["test"])
    dev_accents = _cycle(accents[::-1], speakers["dev"])
    train_order = list(dict.fromkeys(test_accents + dev_accents + accents))
    accents_of = {"train": _cycle(train_order, speakers["train"])}
    accents_of.update(dev=dev_accents, test=test_accents)
    return {split: _voices(accents_of[split], variants[split], rng, split) for split in speakers}


def _split_variants(rng: np.random.Generator) -> dict[str, list[str]]:
    """Each of dev and test gets its share of female and of male variants; train the rest."""
    shares: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for group in (FEMALE_VARIANTS, MALE_VARIANTS):
        shuffled = [group[i] for i in rng.permutation(len(group))]
        held = _held_out(group)
        shares["test"] += shuffled[:held]
        shares["dev"] += shuffled[held : 2 * held]
        shares["train"] += shuffled[2 * held :]
    return {
        split: [names[i] for i in rng.permutation(len(names))] for split, names in shares.items()
    }


def _voices(
    accents: Sequence[str], variants: Sequence[str], rng: np.random.Generator, split: str
) -> list[Voice]:
    """One voice per entry of ``accents``, never the same (accent, variant) pair twice."""
    most = max((accents.count(accent) for accent in set(accents)), default=0)
    if most > len(variants):
        raise ValueError(
            f"{split}: {most} speakers of one accent, but only {len(variants)} variants"
        )
    # Each accent walks the variants from its own starting point, so all of them get used.
    start = {accent: i * len(variants) // len(ACCENTS) for i, accent in enumerate(ACCENTS)}
    voices = []
    for accent in accents:
        variant = variants[start[accent] % len(variants)]
        start[accent] += 1
        voices.append(
            Voice(
                language=accent,
                variant=variant,
                pitch=int(rng.integers(PITCHES[0], PITCHES[1] + 1)),
                range=int(rng.integers(RANGES[0], RANGES[1] + 1)),
                rate=int(rng.integers(RATES[0], RATES[1] + 1)),
            )
        )
    return voices


def _cycle(items: Sequence[str], count: int) -> list[str]:
    return list(itertools.islice(itertools.cycle(items), count))


def max_speakers(split: str) -> int:
    """How many distinct voices ``assign_voices`` can give ``split``."""
    held = sum(_held_out(group) for group in (FEMALE_VARIANTS, MALE_VARIANTS))
    total = len(FEMALE_VARIANTS) + len(MALE_VARIANTS)
    return len(ACCENTS) * (total - 2 * held if split == "train" else held)


def _held_out(group: Sequence[str]) -> int:
    return max(1, round(_HELD_OUT_FRACTION * len(group)))
