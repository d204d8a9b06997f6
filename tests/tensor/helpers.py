"""Shared cases for the format tests: the registered formats, sizes, shapes, the largest rank."""

from __future__ import annotations

import math

from deepspeech_tt.tensor.base import DenseMatrix, Rank
from deepspeech_tt.tensor.modes import ModeMatrix
from deepspeech_tt.tensor.registry import FORMATS

KINDS = {
    "all": lambda cls: True,
    "factorized": lambda cls: cls is not DenseMatrix,  # every format that compresses W
    "modes": lambda cls: isinstance(cls, type) and issubclass(cls, ModeMatrix),  # shapes split
}


def registered(kind: str = "all") -> list[str]:
    """The names in the registry now whose formats are of ``kind`` (a key of ``KINDS``)."""
    return [name for name in sorted(FORMATS) if KINDS[kind](FORMATS[name])]


FACTORIZED = registered("factorized")  # at import: for tests outside tests/tensor
ALL_FORMATS = registered()

OUT_SHAPE, IN_SHAPE = (2, 3, 4), (3, 2, 5)  # a 24 x 30 matrix with unequal modes
M, N = math.prod(OUT_SHAPE), math.prod(IN_SHAPE)


def full_rank(name: str, out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> Rank:
    """The largest rank a format takes for these shapes: enough to hold any matrix."""
    return FORMATS[name].max_rank(math.prod(out_shape), math.prod(in_shape),
                                  out_shape=out_shape, in_shape=in_shape)
