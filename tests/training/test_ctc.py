"""CTC loss: utterances without an alignment are left out and counted; greedy decoding."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from deepspeech_tt.evaluation.greedy import greedy_decode
from deepspeech_tt.training.ctc import CTCLoss, frames_needed


def test_frames_needed_counts_a_blank_between_repeats() -> None:
    labels = torch.tensor([[1, 1, 2, 0], [3, 3, 3, 3]])
    assert frames_needed(labels, torch.tensor([3, 2])).tolist() == [4, 3]


def test_loss_is_the_mean_over_utterances_that_fit() -> None:
    torch.manual_seed(0)
    log_probs = torch.randn(3, 6, 5).log_softmax(-1).requires_grad_()
    labels = torch.tensor([[1, 2, 0, 0, 0, 0], [2, 2, 2, 2, 2, 2], [3, 4, 1, 0, 0, 0]])
    label_lengths = torch.tensor([2, 6, 3])  # the second needs 11 frames: impossible
    lengths = torch.tensor([6, 6, 5])
    out = CTCLoss()(log_probs, lengths, labels, label_lengths)
    keep = [0, 2]
    expected = F.ctc_loss(
        log_probs[keep].transpose(0, 1), labels[keep], lengths[keep], label_lengths[keep],
        reduction="none",
    ).mean()  # fmt: skip
    assert out.impossible == 1
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    assert log_probs.grad is not None and torch.isfinite(log_probs.grad).all()
    assert log_probs.grad[1].abs().sum() == 0


def test_greedy_merges_repeats_and_drops_blanks_within_length() -> None:
    path = torch.tensor([[1, 1, 0, 1, 2, 2, 0, 3]])
    scores = F.one_hot(path, 5).float()
    assert greedy_decode(scores, torch.tensor([8])) == [[1, 1, 2, 3]]
    assert greedy_decode(scores, torch.tensor([5])) == [[1, 1, 2]]
