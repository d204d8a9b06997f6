"""Lengths checks, frame masks and sequence-wise BatchNorm over valid frames only."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.model.batchnorm import SequenceBatchNorm
from deepspeech_tt.model.masking import check_lengths, frame_mask, mask_frames


def test_mask_frames_zeroes_exactly_the_padding() -> None:
    x = torch.ones(2, 4, 3)  # (B, T, F)
    y = mask_frames(x, torch.tensor([4, 2]))
    assert y[0].eq(1).all() and y[1, :2].eq(1).all() and y[1, 2:].eq(0).all()
    assert frame_mask(torch.tensor([1, 3]), 3).tolist() == [[True, False, False],
                                                            [True, True, True]]


@pytest.mark.parametrize("trailing", [(), (5,)])
def test_batch_norm_statistics_ignore_padding(trailing: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    lengths = torch.tensor([6, 2, 4])
    x = torch.randn(3, 6, 4, *trailing) * 3 + 1  # (B, T, C[, L]), garbage in the padding
    padded, concatenated = SequenceBatchNorm(4), SequenceBatchNorm(4)
    y = padded(x, lengths)
    valid = torch.cat([x[b, : int(n)] for b, n in enumerate(lengths)])[None]  # (1, 12, C[, L])
    expected = concatenated(valid, torch.tensor([12]))
    got = torch.cat([y[b, : int(n)] for b, n in enumerate(lengths)])[None]
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(padded.norm.running_mean, concatenated.norm.running_mean)
    torch.testing.assert_close(padded.norm.running_var, concatenated.norm.running_var)
    assert y[1, 2:].eq(0).all() and y[2, 4:].eq(0).all()


def test_bad_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\].*got 0..5"):
        check_lengths(torch.tensor([5, 0]), 2, 5, torch.device("cpu"))
    with pytest.raises(ValueError, match="one integer per utterance, 2 in all"):
        check_lengths(torch.tensor([5.0, 3.0]), 2, 5, torch.device("cpu"))
    with pytest.raises(ValueError, match="one integer per utterance, 3 in all"):
        check_lengths(torch.tensor([5, 3]), 3, 5, torch.device("cpu"))
