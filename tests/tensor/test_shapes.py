"""Automatic factorisation into balanced modes, shape checks and the mode ordering."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.tensor.shapes import (
    factorize,
    pair_modes,
    prime_factors,
    resolve_shapes,
    unpair_modes,
)


@pytest.mark.parametrize(
    ("size", "order", "expected"),
    [(768, 3, (12, 8, 8)), (256, 3, (8, 8, 4)), (1024, 3, (16, 8, 8)), (3072, 3, (16, 16, 12)),
     (161, 2, (23, 7)), (8, 3, (2, 2, 2)), (97, 1, (97,))],
)
def test_factorize_known_sizes(size: int, order: int, expected: tuple) -> None:
    assert factorize(size, order) == expected


def all_splits(size: int, order: int) -> list[tuple[int, ...]]:
    """Every split of ``size`` into ``order`` factors > 1, each sorted largest first."""
    if order == 1:
        return [(size,)] if size > 1 else []
    divisors = [f for f in range(2, size) if size % f == 0]
    return [tuple(sorted((f, *rest), reverse=True))
            for f in divisors for rest in all_splits(size // f, order - 1)]


def brute_force_best(size: int, order: int) -> tuple[int, ...]:
    return min(all_splits(size, order))  # smallest largest factor first, then the next, ...


@pytest.mark.parametrize("order", [2, 3])
def test_factorize_is_the_most_balanced_split(order: int) -> None:
    for size in range(2, 130):
        if len(prime_factors(size)) >= order:
            assert factorize(size, order) == brute_force_best(size, order), size


def test_one_shape_given_sets_the_number_of_modes() -> None:
    assert resolve_shapes(768, 256, (3, 16, 16), None) == ((3, 16, 16), (8, 8, 4))
    assert resolve_shapes(768, 256, None, (16, 16)) == ((32, 24), (16, 16))
    assert resolve_shapes(24, 30, [2, 3, 4], [3, 2, 5]) == ((2, 3, 4), (3, 2, 5))


def test_modes_are_row_major_with_the_first_most_significant() -> None:
    out_shape, in_shape = (2, 3), (4, 5)
    weight = torch.arange(6 * 20.0).reshape(6, 20)
    tensor = weight.reshape(*out_shape, *in_shape)  # (m_1, m_2, n_1, n_2)
    i_1, i_2, j_1, j_2 = 1, 2, 3, 4
    assert tensor[i_1, i_2, j_1, j_2] == weight[i_1 * 3 + i_2, j_1 * 5 + j_2]
    paired = pair_modes(weight, out_shape, in_shape)  # (m_1 n_1, m_2 n_2)
    assert paired.shape == (8, 15)
    assert paired[i_1 * 4 + j_1, i_2 * 5 + j_2] == weight[i_1 * 3 + i_2, j_1 * 5 + j_2]
    assert torch.equal(unpair_modes(paired, out_shape, in_shape), weight)
