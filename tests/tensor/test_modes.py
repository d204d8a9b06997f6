"""The shared base of the mode formats: ranks that rebuild a matrix, given factors, fits."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.tensor import FORMATS, FormatError
from tests.tensor.helpers import IN_SHAPE, OUT_SHAPE, M, N


def build(name: str, rank: object, **kwargs: object) -> torch.nn.Module:
    return FORMATS[name](M, N, rank, out_shape=OUT_SHAPE, in_shape=IN_SHAPE, **kwargs)


@pytest.mark.formats("modes")
def test_ranks_rebuild_a_matrix_with_factors_of_the_same_shapes(name: str) -> None:
    matrix = build(name, [2, 3, 4, 5] if name == "ht" else 3)
    shapes = [tuple(p.shape) for p in matrix.parameters()]
    assert matrix.factor_shapes() == shapes
    assert build(name, matrix.ranks).factor_shapes() == shapes


@pytest.mark.formats("modes")
def test_given_factors_are_held_as_they_are(name: str) -> None:
    matrix = build(name, 2).double()
    factors = [p.detach().clone() for p in matrix.parameters()]
    held = build(name, matrix.ranks, factors=factors)
    assert list(held.state_dict()) == list(matrix.state_dict())
    torch.testing.assert_close(held.to_dense(), matrix.to_dense(), rtol=0, atol=0)


@pytest.mark.formats("modes")
def test_factors_of_other_shapes_are_refused(name: str) -> None:
    matrix = build(name, 2)
    factors = [p.detach() for p in matrix.parameters()]
    factors[-1] = torch.zeros(*factors[-1].shape[:-1], factors[-1].shape[-1] + 1)
    with pytest.raises(FormatError, match=r"24 x 30 .*do not fit ranks"):
        build(name, matrix.ranks, factors=factors)


@pytest.mark.formats("modes")
def test_from_dense_draws_no_random_numbers(name: str) -> None:
    weight = torch.randn(M, N, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    before = torch.random.get_rng_state()
    FORMATS[name].from_dense(weight, 2, out_shape=OUT_SHAPE, in_shape=IN_SHAPE)
    assert torch.equal(torch.random.get_rng_state(), before)
