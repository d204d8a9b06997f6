"""Shared cases for the format tests: sizes, shapes and the largest rank of each format."""

from __future__ import annotations

import math

from deepspeech_tt.tensor.base import Rank
from deepspeech_tt.tensor.cp import cp_max_rank
from deepspeech_tt.tensor.ht import ht_max_ranks
from deepspeech_tt.tensor.tr import tr_max_rank
from deepspeech_tt.tensor.tt import tt_max_ranks

FACTORIZED = ["tt", "cp", "tucker", "lowrank", "ht", "toeplitz", "tr", "bt"]
ALL_FORMATS = ["dense", *FACTORIZED]

OUT_SHAPE, IN_SHAPE = (2, 3, 4), (3, 2, 5)  # a 24 x 30 matrix with unequal modes
M, N = math.prod(OUT_SHAPE), math.prod(IN_SHAPE)


def full_rank(name: str, out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> Rank:
    """The largest rank a format takes for these shapes: enough to hold any matrix."""
    if name == "tt":
        return list(tt_max_ranks(out_shape, in_shape))
    if name == "cp":
        return cp_max_rank(out_shape, in_shape)
    if name in ("tucker", "bt"):  # bt: any W is one full Tucker block, the others fit zero
        return [m * n for m, n in zip(out_shape, in_shape, strict=True)]
    if name == "tr":  # every bond at the largest TT bond: the zero-padded TT cores
        return tr_max_rank(out_shape, in_shape)
    if name == "ht":
        return list(ht_max_ranks(out_shape, in_shape))
    if name == "toeplitz":  # displacement rank of the one max(M, N) square block
        return max(math.prod(out_shape), math.prod(in_shape))
    return min(math.prod(out_shape), math.prod(in_shape))
