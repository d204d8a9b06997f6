"""Greedy (best-path) CTC decoding: the likeliest token per frame, repeats merged, no blanks."""

from __future__ import annotations

from torch import Tensor


def greedy_decode(log_probs: Tensor, lengths: Tensor, blank: int = 0) -> list[list[int]]:
    """Token ids of the best path of each utterance.

    Args:
        log_probs: (B, T, V) scores (log-probabilities or logits).
        lengths: (B,) valid frames of each utterance.
        blank: the blank token's id.

    Returns:
        B lists of token ids, without blanks.
    """
    best = log_probs.argmax(dim=-1).cpu()  # (B, T)
    hypotheses = []
    for path, length in zip(best.tolist(), lengths.tolist(), strict=True):
        ids: list[int] = []
        previous = blank
        for token in path[:length]:
            if token != previous and token != blank:
                ids.append(token)
            previous = token
        hypotheses.append(ids)
    return hypotheses
