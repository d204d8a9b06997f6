"""Small models and padded batches for the model tests (sizes that run in milliseconds)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from deepspeech_tt.model import DeepSpeech2, RNNLayerSpec

NUM_FEATURES = 16
VOCAB = 5
LENGTHS = (37, 24, 9, 1)
"""Utterance lengths of a padded batch: the longest fills it; 1 is the shortest input there is."""

MIXED = [RNNLayerSpec(), RNNLayerSpec("tt", rank=2), RNNLayerSpec("cp", rank=3)]
"""A dense first layer under two factorized ones."""


def small_model(**overrides: Any) -> DeepSpeech2:
    """A seeded DeepSpeech2 of 16 features, 5 tokens, 3 recurrent layers of 8 units (mixed)."""
    torch.manual_seed(0)
    arguments: dict[str, Any] = dict(rnn_layers=3, hidden_size=8, rnn=MIXED) | overrides
    return DeepSpeech2(NUM_FEATURES, VOCAB, **arguments)


def padded_batch(lengths: tuple[int, ...] = LENGTHS, pad_to: int | None = None,
                 seed: int = 1) -> tuple[Tensor, Tensor]:
    """Features (B, T, 16) with nonzero garbage in the padding, and lengths (B,)."""
    generator = torch.Generator().manual_seed(seed)
    steps = pad_to or max(lengths)
    features = torch.randn(len(lengths), steps, NUM_FEATURES, generator=generator)
    return features, torch.tensor(lengths)
