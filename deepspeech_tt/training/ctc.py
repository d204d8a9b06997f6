"""CTC loss over padded batches, reporting the utterances it cannot train on.

An utterance whose labels need more output frames than the model produced has no CTC
alignment: its loss is infinite. ``zero_infinity`` makes its loss (and gradient) zero, so it is
left out of the average and counted instead of silently diluting the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F


@dataclass
class CTCOutput:
    loss: Tensor  # () mean per-utterance loss over the utterances that have an alignment
    impossible: int  # utterances whose labels do not fit their output frames (left out)


class CTCLoss(nn.Module):
    """Connectionist temporal classification (Graves et al., ICML 2006) for padded batches.

    Args:
        blank: the blank token's id.
    """

    def __init__(self, blank: int = 0) -> None:
        super().__init__()
        self.blank = blank

    def forward(
        self, log_probs: Tensor, lengths: Tensor, labels: Tensor, label_lengths: Tensor
    ) -> CTCOutput:
        """The batch's loss.

        Args:
            log_probs: (B, T, V) log-softmax outputs; computed in float32 whatever their dtype.
            lengths: (B,) valid output frames of each utterance.
            labels: (B, L) token ids, padded (the padding is ignored).
            label_lengths: (B,) valid labels of each utterance.
        """
        per_utterance = F.ctc_loss(
            log_probs.transpose(0, 1).float(),  # (T, B, V)
            labels,
            lengths,
            label_lengths,
            blank=self.blank,
            reduction="none",
            zero_infinity=True,
        )  # (B,)
        possible = lengths.to(label_lengths.device) >= frames_needed(labels, label_lengths)
        kept = int(possible.sum())
        loss = (per_utterance * possible).sum() / max(kept, 1)
        return CTCOutput(loss=loss, impossible=len(possible) - kept)


def frames_needed(labels: Tensor, label_lengths: Tensor) -> Tensor:
    """(B,) the fewest output frames CTC needs: one per label plus a blank between repeats."""
    positions = torch.arange(1, labels.shape[1], device=labels.device)  # (L - 1,)
    valid = positions.unsqueeze(0) < label_lengths.unsqueeze(1)  # (B, L - 1)
    repeats = ((labels[:, 1:] == labels[:, :-1]) & valid).sum(dim=1)  # (B,)
    return label_lengths + repeats
