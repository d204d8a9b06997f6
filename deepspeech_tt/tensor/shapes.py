"""Factor shapes of a weight matrix: automatic balanced factorisation, checks, mode ordering.

A format views W (M x N) as a tensor by factoring both sizes, M = m_1 ... m_d and
N = n_1 ... n_d. Row index i and column index j are split row-major, first mode most
significant, exactly as ``W.reshape(m_1, ..., m_d, n_1, ..., n_d)`` does::

    i = ((i_1 * m_2 + i_2) * m_3 + i_3) ...,    j = ((j_1 * n_2 + j_2) * n_3 + j_3) ...

Mode k pairs (m_k, n_k); CP and Tucker merge a pair into one mode of size m_k n_k with
index ``i_k * n_k + j_k`` (again row-major).

Without shapes, a size is split into ``DEFAULT_ORDER`` = 3 balanced factors, all > 1, largest
first (the split with the smallest largest factor, then the smallest next one, and so on):
768 -> (12, 8, 8), 256 -> (8, 8, 4). Three modes keep every factor small (about the cube root
of the size) while the TT bond ranks still allow useful compression; give shapes for more.
When only one of ``out_shape``/``in_shape`` is given, the other is split into as many modes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from torch import Tensor

from deepspeech_tt.tensor.base import FormatError, Rank, Shape

DEFAULT_ORDER = 3


def prime_factors(size: int) -> list[int]:
    """The prime factors of ``size``, smallest first, with repetition."""
    factors, p = [], 2
    while p * p <= size:
        while size % p == 0:
            factors.append(p)
            size //= p
        p += 1
    return factors + ([size] if size > 1 else [])


def factorize(size: int, order: int = DEFAULT_ORDER, name: str = "size") -> tuple[int, ...]:
    """``size`` as ``order`` balanced factors > 1, largest first: 768, 3 -> (12, 8, 8).

    Raises:
        FormatError: if ``size`` has fewer than ``order`` prime factors (e.g. a prime).
    """
    if order < 1:
        raise FormatError(f"cannot split a size into {order} modes; the order must be >= 1")
    primes = prime_factors(size)
    if len(primes) < order:
        shown = " x ".join(map(str, primes)) or "1"
        raise FormatError(
            f"{name} {size} = {shown} cannot be split into {order} factors > 1; give its shape "
            f"explicitly (modes of size 1 are allowed, e.g. {(size,) + (1,) * (order - 1)}), "
            f"use at most {len(primes)} mode(s), or pick a size with more prime factors"
        )
    return _balanced(size, order)


@lru_cache(maxsize=256)
def _balanced(size: int, order: int) -> tuple[int, ...]:
    """The lexicographically least non-increasing split of ``size`` into ``order`` factors > 1."""
    if order == 1:
        return (size,)
    lowest = math.ceil(size ** (1.0 / order) - 1e-9)
    for first in range(max(lowest, 2), size + 1):  # the first feasible one is the smallest
        if size % first or len(prime_factors(size // first)) < order - 1:
            continue
        rest = _balanced(size // first, order - 1)
        if rest[0] <= first:  # else no split of the rest stays below ``first``
            return (first, *rest)
    raise AssertionError(f"no split of {size} into {order} factors")  # primes always split


def resolve_shapes(
    out_features: int, in_features: int, out_shape: Shape, in_shape: Shape,
    order: int = DEFAULT_ORDER,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Checked (out_shape, in_shape) of an M x N matrix, splitting the ones not given."""
    sizes = f"{out_features} x {in_features} matrix"
    if out_shape is not None:
        order = len(out_shape)
    elif in_shape is not None:
        order = len(in_shape)
    outs = check_shape("out_shape", out_shape, out_features, sizes)
    ins = check_shape("in_shape", in_shape, in_features, sizes)
    try:
        outs = outs or factorize(out_features, order, "out_features")
        ins = ins or factorize(in_features, order, "in_features")
    except FormatError as err:
        raise FormatError(f"{sizes}: {err}") from None
    if len(outs) != len(ins):
        raise FormatError(
            f"{sizes}: out_shape {outs} and in_shape {ins} must have as many modes; "
            f"pad the shorter one with 1s"
        )
    return outs, ins


def check_shape(name: str, shape: Shape, size: int, sizes: str) -> tuple[int, ...] | None:
    """``shape`` as a tuple after checking that it is positive and multiplies to ``size``."""
    if shape is None:
        return None
    shape = tuple(int(mode) for mode in shape)
    if not shape or min(shape) < 1 or math.prod(shape) != size:
        raise FormatError(
            f"{sizes}: {name} {shape} multiplies to {math.prod(shape)}, not {size}; give "
            f"positive factors whose product is {size}, "
            f"e.g. {factorize_or_self(size, len(shape) or 1)}"
        )
    return shape


def factorize_or_self(size: int, order: int) -> tuple[int, ...]:
    """``factorize(size, order)`` where possible, else ``size`` padded with 1s."""
    if len(prime_factors(size)) >= order >= 1:
        return factorize(size, order)
    return (size,) + (1,) * (max(order, 1) - 1)


def parse_ranks(rank: Rank, count: int, what: str, sizes: str) -> tuple[int, ...]:
    """``rank`` as ``count`` positive integers: one int for all, or a sequence of ``count``."""
    ranks = tuple(int(r) for r in rank) if isinstance(rank, Sequence) else (int(rank),) * count
    if len(ranks) != count:
        raise FormatError(
            f"{sizes}: {what} takes one integer or {count} ranks, got {len(ranks)}: {rank}"
        )
    if min(ranks, default=1) < 1:
        raise FormatError(f"{sizes}: ranks must be positive, got {rank}")
    return ranks


def check_ranks(ranks: Sequence[int], limits: Sequence[int], what: str, sizes: str) -> None:
    """Raise naming the first rank above its limit, and the limits that would work."""
    for k, (rank, limit) in enumerate(zip(ranks, limits, strict=True)):
        if rank > limit:
            raise FormatError(
                f"{sizes}: {what} {k + 1} is {rank}, but these shapes allow at most {limit}; "
                f"use ranks <= {list(limits)}"
            )


def describe(out_shape: Sequence[int], in_shape: Sequence[int]) -> str:
    """How error messages name the matrix: "768 x 256 matrix, shapes (12, 8, 8) x (8, 8, 4)"."""
    return (
        f"{math.prod(out_shape)} x {math.prod(in_shape)} matrix, "
        f"shapes {tuple(out_shape)} x {tuple(in_shape)}"
    )


def pair_modes(weight: Tensor, out_shape: Sequence[int], in_shape: Sequence[int]) -> Tensor:
    """W (M, N) as the tensor (m_1 n_1, ..., m_d n_d) of paired modes (CP and Tucker layout)."""
    d = len(out_shape)
    interleaved = [axis for k in range(d) for axis in (k, d + k)]
    tensor = weight.reshape(*out_shape, *in_shape).permute(*interleaved)
    return tensor.reshape([m * n for m, n in zip(out_shape, in_shape, strict=True)])


def unpair_modes(tensor: Tensor, out_shape: Sequence[int], in_shape: Sequence[int]) -> Tensor:
    """The inverse of :func:`pair_modes`: (m_1 n_1, ..., m_d n_d) back to W (M, N)."""
    d = len(out_shape)
    sizes = [size for pair in zip(out_shape, in_shape, strict=True) for size in pair]
    split = tensor.reshape(sizes)  # (m_1, n_1, ..., m_d, n_d)
    outs_then_ins = [2 * k for k in range(d)] + [2 * k + 1 for k in range(d)]
    return split.permute(*outs_then_ins).reshape(math.prod(out_shape), math.prod(in_shape))
