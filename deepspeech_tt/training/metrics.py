"""Word and character error rates over a whole evaluation set, summed across DDP processes.

Rates are computed from summed edit counts (errors / reference length over all utterances),
not averaged per batch, so they equal ``jiwer.wer(all_refs, all_hyps)`` however the set was
batched or sharded.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

from deepspeech_tt.evaluation.error_rates import char_errors, word_errors


class ErrorRate(Metric):
    """WER (``unit="word"``) or CER (``unit="char"``), counted as ``decode.py`` counts them.

    Args:
        unit: "word" or "char".
    """

    full_state_update = False
    errors: Tensor
    total: Tensor

    def __init__(self, unit: str = "word") -> None:
        super().__init__()
        if unit not in ("word", "char"):
            raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
        self.unit = unit
        self.add_state("errors", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, references: Sequence[str], hypotheses: Sequence[str]) -> None:
        """Add the edits of each (reference, hypothesis) pair; empty references are skipped."""
        count = word_errors if self.unit == "word" else char_errors
        errors = count(references, hypotheses)
        self.errors += errors.substitutions + errors.deletions + errors.insertions
        self.total += errors.reference_length

    def compute(self) -> Tensor:
        return self.errors.float() / self.total.clamp(min=1).float()
