"""Tensor contractions in their cheapest order, planned once per shape, and their cost.

An einsum over several operands runs as a sequence of pairwise contractions; their order
decides the cost. The order is found here by exact dynamic programming over subsets of
operands (the search of opt_einsum's ``"dp"`` optimiser), minimising multiply-adds, with one
extra rule for products with an input: no intermediate that leaves the input out may reach
``free_limit`` elements -- passing the size of W keeps ``matmul`` from ever forming W, even at
batch sizes where that would be cheaper. The steps are then run by an
``opt_einsum.contract_expression`` along that path (``tensordot``/``einsum`` in torch, so
autograd, dtypes and devices work as usual). Both the plan and the expression are cached per
equation and shapes: ``torch.einsum`` would plan again on every call, which costs more than
the contraction itself for the small tensors of a factorised layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import opt_einsum
from opt_einsum.parser import get_symbol
from torch import Tensor

Shapes = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Plan:
    """A contraction order: opt_einsum's linear path and its multiply-adds."""

    path: tuple[tuple[int, ...], ...]
    macs: int


def contract(equation: str, *operands: Tensor, free_limit: int | None = None) -> Tensor:
    """``torch.einsum(equation, *operands)`` along the cheapest order (cached).

    Args:
        equation: an explicit einsum equation, ``"ab,bc->ac"``.
        operands: the tensors, the input (if any) first.
        free_limit: when given, intermediates without the first operand stay below this size.
    """
    shapes = tuple(tuple(op.shape) for op in operands)
    return _expression(equation, shapes, free_limit)(*operands)


def count_macs(equation: str, shapes: Sequence[Sequence[int]],
               free_limit: int | None = None) -> int:
    """Multiply-adds of :func:`contract` on operands of these shapes.

    A pairwise step costs the product of the sizes of every index it touches.
    """
    return plan(equation, tuple(tuple(shape) for shape in shapes), free_limit).macs


def symbols(count: int, start: int = 0) -> list[str]:
    """``count`` distinct einsum index letters."""
    return [get_symbol(start + i) for i in range(count)]


@lru_cache(maxsize=1024)
def _expression(equation: str, shapes: Shapes, free_limit: int | None) -> Any:
    path = list(plan(equation, shapes, free_limit).path)
    return opt_einsum.contract_expression(equation, *shapes, optimize=path)


@lru_cache(maxsize=1024)
def plan(equation: str, shapes: Shapes, free_limit: int | None = None) -> Plan:
    """The cheapest pairwise order (see the module docstring)."""
    inputs, output = equation.split("->")
    terms = inputs.split(",")
    if len(terms) == 1:
        return Plan(((0,),), math.prod(shapes[0]))
    sizes = {i: s for term, shape in zip(terms, shapes, strict=True)
             for i, s in zip(term, shape, strict=True)}
    kept = _kept_indices(terms, output)
    best: dict[int, tuple[int, tuple[int, int] | None]] = {
        1 << k: (0, None) for k in range(len(terms))
    }
    for mask in sorted(range(1, 1 << len(terms)), key=lambda m: m.bit_count()):
        too_big = free_limit is not None and _size(kept(mask), sizes) >= free_limit
        if mask in best or (too_big and not mask & 1):  # bit 0: the first operand
            continue
        for left in _halves(mask):
            right = mask ^ left
            if left in best and right in best:
                cost = best[left][0] + best[right][0] + _size(kept(left) | kept(right), sizes)
                if mask not in best or cost < best[mask][0]:
                    best[mask] = (cost, (left, right))
    full = (1 << len(terms)) - 1
    return Plan(_linear_path(best, full, len(terms)), best[full][0])


def _kept_indices(terms: list[str], output: str) -> Any:
    """mask -> the indices a contraction of those operands keeps (needed outside them)."""

    @cache
    def kept(mask: int) -> frozenset[str]:
        inside = set().union(*(terms[k] for k in range(len(terms)) if mask >> k & 1))
        outside = set(output).union(*(terms[k] for k in range(len(terms)) if not mask >> k & 1))
        return frozenset(inside & outside)

    return kept


def _size(indices: frozenset[str], sizes: dict[str, int]) -> int:
    return math.prod(sizes[i] for i in indices)


def _halves(mask: int) -> list[int]:
    """The non-empty proper submasks of ``mask`` that hold its lowest operand (no repeats)."""
    lowest = mask & -mask
    halves, sub = [], (mask - 1) & mask
    while sub:
        if sub & lowest:
            halves.append(sub)
        sub = (sub - 1) & mask
    return halves


def _linear_path(best: dict[int, tuple[int, tuple[int, int] | None]], full: int,
                 count: int) -> tuple[tuple[int, ...], ...]:
    """The split tree of ``best`` as opt_einsum's path: positions in the shrinking list."""
    merges: list[tuple[int, int, int]] = []

    def visit(mask: int) -> None:
        split = best[mask][1]
        if split is not None:
            visit(split[0])
            visit(split[1])
            merges.append((split[0], split[1], mask))

    visit(full)
    alive = [1 << k for k in range(count)]
    path = []
    for left, right, mask in merges:
        positions = (alive.index(left), alive.index(right))
        path.append(positions)
        alive = [m for m in alive if m not in (left, right)] + [mask]
    return tuple(path)
