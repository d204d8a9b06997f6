"""Helpers for padded, time-major batches with lengths (``deepspeech_tt.nn.sequences``)."""

from __future__ import annotations

import torch

from deepspeech_tt.nn.sequences import gather_last, reverse_within_lengths


def test_reverse_within_lengths_keeps_padding_in_place() -> None:
    x = torch.arange(8.0).view(4, 2, 1)  # (T, B, 1): column b holds 2t + b
    reversed_ = reverse_within_lengths(x, torch.tensor([4, 2]))
    assert reversed_[:, 0, 0].tolist() == [6.0, 4.0, 2.0, 0.0]
    assert reversed_[:, 1, 0].tolist() == [3.0, 1.0, 5.0, 7.0]
    assert torch.equal(reverse_within_lengths(reversed_, torch.tensor([4, 2])), x)


def test_gather_last_takes_each_sequences_last_real_step() -> None:
    x = torch.arange(8.0).view(4, 2, 1)  # (T, B, 1): column b holds 2t + b
    assert gather_last(x, torch.tensor([4, 2]))[:, 0].tolist() == [6.0, 3.0]
