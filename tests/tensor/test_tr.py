"""Tensor ring: the ring closed by r_0, its relation to the TT-matrix, fitting and costs."""

from __future__ import annotations

import math

import pytest
import torch

from deepspeech_tt.tensor import (
    FactorizedMatrix,
    FormatError,
    TensorRingMatrix,
    TensorTrainMatrix,
)
from deepspeech_tt.tensor.base import Rank
from tests.tensor.helpers import IN_SHAPE, OUT_SHAPE, M, N

SHAPES = [((4, 6), (5, 2)), (OUT_SHAPE, IN_SHAPE), ((2, 2, 3, 2), (2, 3, 1, 2))]


def random_matrix(rows: int, cols: int) -> torch.Tensor:
    return torch.randn(rows, cols, dtype=torch.float64, generator=torch.Generator().manual_seed(3))


def ring(rank: Rank, out_shape: tuple, in_shape: tuple) -> TensorRingMatrix:
    rows, cols = math.prod(out_shape), math.prod(in_shape)
    return TensorRingMatrix(rows, cols, rank, out_shape=out_shape, in_shape=in_shape).double()


def fit_error(matrix: torch.Tensor, fitted: FactorizedMatrix) -> float:
    return float(torch.linalg.norm(fitted.to_dense().detach() - matrix) / matrix.norm())


@pytest.mark.parametrize(("out_shape", "in_shape"), SHAPES)
@pytest.mark.parametrize("batch", [1, 5])
def test_product_equals_the_dense_product(out_shape: tuple, in_shape: tuple, batch: int) -> None:
    matrix = ring([3, 2, *([4] * (len(out_shape) - 2))], out_shape, in_shape)
    x = torch.randn(batch, math.prod(in_shape), dtype=torch.float64)
    expected = x @ matrix.to_dense().T
    torch.testing.assert_close(matrix.product()(x), expected, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(matrix.matmul(x), expected, rtol=1e-12, atol=1e-13)


def test_ring_closed_by_one_is_the_tt_matrix_with_the_same_cores() -> None:
    tt = TensorTrainMatrix(M, N, [3, 4], out_shape=OUT_SHAPE, in_shape=IN_SHAPE).double()
    tr = ring([1, 3, 4], OUT_SHAPE, IN_SHAPE)
    tr.load_state_dict(tt.state_dict())  # cores (1, 2, 3, 3), (3, 3, 2, 4), (4, 4, 5, 1)
    x = torch.randn(4, N, dtype=torch.float64)
    torch.testing.assert_close(tr.to_dense(), tt.to_dense(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(tr.product()(x), tt.product()(x), rtol=1e-12, atol=1e-13)
    assert tr.num_parameters() == tt.num_parameters()


def test_the_trace_sums_over_the_closing_bond() -> None:
    # Each slice s of the closing bond is an open chain; W is the sum of those TT-matrices.
    tr = ring([2, 3], (4, 6), (5, 2))
    first, last = tr.cores
    chains = [TensorTrainMatrix(24, 10, 3, out_shape=(4, 6), in_shape=(5, 2)).double()
              for _ in range(2)]
    with torch.no_grad():
        for s, chain in enumerate(chains):
            chain.cores[0].copy_(first[s : s + 1])
            chain.cores[1].copy_(last[..., s : s + 1])
    torch.testing.assert_close(tr.to_dense(), sum(c.to_dense() for c in chains))


@pytest.mark.parametrize(("out_shape", "in_shape"), SHAPES)
def test_full_rank_ring_holds_any_matrix(out_shape: tuple, in_shape: tuple) -> None:
    weight = random_matrix(math.prod(out_shape), math.prod(in_shape))
    rank = TensorRingMatrix.max_rank(weight.shape[0], weight.shape[1], out_shape=out_shape,
                                     in_shape=in_shape)
    fitted = TensorRingMatrix.from_dense(weight, rank, out_shape=out_shape, in_shape=in_shape)
    assert fitted.ranks == (rank,) * (len(out_shape) + 1)
    assert fit_error(weight, fitted) < 1e-12


def test_tr_svd_is_exact_when_no_svd_truncates() -> None:
    # Paired modes (6, 6, 20): r_0 r_1 = 6 >= 6 and r_2 = 18 >= r_1 * 6, with a real ring r_0 = 2.
    weight = random_matrix(M, N)
    fitted = TensorRingMatrix.from_dense(weight, [2, 3, 18], out_shape=OUT_SHAPE,
                                         in_shape=IN_SHAPE)
    assert fit_error(weight, fitted) < 1e-12
    second_slice = fitted.cores[0][1].detach()  # closing bond s_0 = 1: really a ring
    assert float(second_slice.abs().max()) > 0.01


@pytest.mark.parametrize("rank", [[2, 2, 2], [3, 2, 5], [2, 6, 4]])
def test_fit_is_at_least_as_good_as_tt_with_the_same_inner_bonds(rank: list[int]) -> None:
    weight = random_matrix(M, N)
    tr = TensorRingMatrix.from_dense(weight, rank, out_shape=OUT_SHAPE, in_shape=IN_SHAPE)
    tt = TensorTrainMatrix.from_dense(weight, rank[1:], out_shape=OUT_SHAPE, in_shape=IN_SHAPE)
    assert fit_error(weight, tr) <= fit_error(weight, tt) + 1e-9
    assert [tuple(c.shape) for c in tr.cores] == tr.factor_shapes()


def test_fit_keeps_dtype_and_ranks_asked_for() -> None:
    weight = random_matrix(M, N).float()
    fitted = TensorRingMatrix.from_dense(weight, [5, 2, 3], out_shape=OUT_SHAPE,
                                         in_shape=IN_SHAPE)
    assert fitted.factor_shapes() == [(5, 2, 3, 2), (2, 3, 2, 3), (3, 4, 5, 5)]
    assert [tuple(c.shape) for c in fitted.cores] == fitted.factor_shapes()
    assert all(c.dtype == torch.float32 for c in fitted.cores)


def test_parameters_and_assembly_cost_follow_closed_forms() -> None:
    tr = ring([2, 3], (2, 2), (2, 2))  # cores (2, 2, 2, 3) and (3, 2, 2, 2)
    assert tr.num_parameters() == 2 * 4 * 3 + 3 * 4 * 2
    assert tr.flops_to_dense() == 2 * 3 * 4 * 4  # r_0 r_1 products for each of the 16 entries
    four = ring([2, 3, 4, 5], (2, 2, 3, 2), (2, 3, 1, 2))  # pairs 4, 6, 3, 4
    assert four.num_parameters() == 2 * 4 * 3 + 3 * 6 * 4 + 4 * 3 * 5 + 5 * 4 * 2


def test_one_mode_ring_is_the_matrix_itself() -> None:
    weight = random_matrix(6, 5)
    fitted = TensorRingMatrix.from_dense(weight, 1, out_shape=(6,), in_shape=(5,))
    torch.testing.assert_close(fitted.to_dense(), weight)
    x = torch.randn(3, 5, dtype=torch.float64)
    torch.testing.assert_close(fitted.product()(x), x @ weight.T)
    with pytest.raises(FormatError, match=r"TR rank 1 is 2, .* at most 1"):
        TensorRingMatrix(6, 5, 2, out_shape=(6,), in_shape=(5,))


def test_tensorly_style_ranks_close_the_ring() -> None:
    tr = TensorRingMatrix(M, N, [2, 3, 4, 2], out_shape=OUT_SHAPE, in_shape=IN_SHAPE)
    assert tr.ranks == (2, 3, 4, 2)
    assert TensorRingMatrix(M, N, 3, out_shape=OUT_SHAPE, in_shape=IN_SHAPE).ranks == (3,) * 4
