"""Word and character error rates over a whole evaluation set, summed across DDP processes.

Rates are computed from summed edit counts (errors / reference length over all utterances),
not averaged per batch, so they equal ``jiwer.wer(all_refs, all_hyps)`` however the set was
batched or sharded.
"""

from __future__ import annotations

from collections.abc import Sequence

import jiwer
import torch
from torch import Tensor
from torchmetrics import Metric


class ErrorRate(Metric):
    """WER (``unit="word"``) or CER (``unit="char"``) by jiwer's alignment.

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
        pairs = [(r, h) for r, h in zip(references, hypotheses, strict=True) if r.strip()]
        if not pairs:
            return
        refs, hyps = [r for r, _ in pairs], [h for _, h in pairs]
        process = jiwer.process_words if self.unit == "word" else jiwer.process_characters
        out = process(refs, hyps)
        self.errors += out.substitutions + out.deletions + out.insertions
        self.total += out.substitutions + out.deletions + out.hits

    def compute(self) -> Tensor:
        return self.errors.float() / self.total.clamp(min=1).float()
