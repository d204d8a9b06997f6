"""Initialisation: the reconstructed W has the variance of a dense layer's weights."""

from __future__ import annotations

import math

import pytest
import torch

from deepspeech_tt.tensor import FORMATS

DRAWS = 300
CASES = [  # (M, N, rank, out_shape, in_shape)
    (96, 64, 2, None, None),
    (96, 64, 6, None, None),
    (64, 64, 4, (4, 4, 4), (4, 4, 4)),
    (48, 40, 3, (6, 8), (5, 8)),
]


def second_moments(name: str, rows: int, cols: int, rank: int, shapes: tuple,
                   init_std: float | None) -> tuple[float, float]:
    """(mean of W, root mean square of W) over DRAWS independently initialised matrices."""
    torch.manual_seed(0)
    total, squares = 0.0, 0.0
    for _ in range(DRAWS):
        weight = FORMATS[name](rows, cols, rank, out_shape=shapes[0], in_shape=shapes[1],
                               init_std=init_std).to_dense().detach().double()
        total += float(weight.mean())
        squares += float(weight.pow(2).mean())
    return total / DRAWS, math.sqrt(squares / DRAWS)


@pytest.mark.formats("all")
@pytest.mark.parametrize(("rows", "cols", "rank", "out_shape", "in_shape"), CASES)
def test_reconstruction_has_the_requested_std(
    name: str, rows: int, cols: int, rank: int, out_shape: tuple | None, in_shape: tuple | None
) -> None:
    target = 1.0 / math.sqrt(3 * 32)  # what the GRU passes: nn.GRU's std for H = 32
    mean, rms = second_moments(name, rows, cols, rank, (out_shape, in_shape), target)
    assert abs(mean) < 0.02 * target
    assert rms == pytest.approx(target, rel=0.05)


@pytest.mark.formats("all")
def test_default_std_is_that_of_nn_linear(name: str) -> None:
    linear_std = float(torch.nn.Linear(64, 96).weight.detach().std())  # ~ 1/sqrt(3 * 64)
    _, rms = second_moments(name, 96, 64, 4, (None, None), None)
    assert rms == pytest.approx(1.0 / math.sqrt(3 * 64), rel=0.05)
    assert rms == pytest.approx(linear_std, rel=0.1)
