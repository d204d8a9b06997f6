"""Shared cases for the format tests: sizes, shapes and the largest rank of each format."""

from __future__ import annotations

import math

from deepspeech_tt.tensor.base import Rank
from deepspeech_tt.tensor.registry import FORMATS

FACTORIZED = ["tt", "cp", "tucker", "lowrank", "ht", "toeplitz", "tr", "bt"]
ALL_FORMATS = ["dense", *FACTORIZED]

OUT_SHAPE, IN_SHAPE = (2, 3, 4), (3, 2, 5)  # a 24 x 30 matrix with unequal modes
M, N = math.prod(OUT_SHAPE), math.prod(IN_SHAPE)


def full_rank(name: str, out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> Rank:
    """The largest rank a format takes for these shapes: enough to hold any matrix."""
    return FORMATS[name].max_rank(math.prod(out_shape), math.prod(in_shape),
                                  out_shape=out_shape, in_shape=in_shape)
