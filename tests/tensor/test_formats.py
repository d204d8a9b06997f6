"""Every format: product without W, fitting, truncation, parameter counts, gradients."""

from __future__ import annotations

import itertools
import math

import pytest
import tensorly as tl
import torch
from torch.func import functional_call

from deepspeech_tt.tensor import FORMATS, DenseMatrix, FactorizedMatrix
from deepspeech_tt.tensor.base import Rank
from tests.tensor.helpers import IN_SHAPE, OUT_SHAPE, M, N, full_rank

SHAPES = [(OUT_SHAPE, IN_SHAPE), ((4, 6), (5, 2)), ((2, 2, 3, 2), (2, 3, 1, 2))]


def random_matrix(rows: int = M, cols: int = N) -> torch.Tensor:
    return torch.randn(rows, cols, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


@pytest.mark.formats("all")
@pytest.mark.parametrize(("out_shape", "in_shape"), SHAPES)
def test_matmul_equals_dense_product(name: str, out_shape: tuple, in_shape: tuple) -> None:
    rows, cols = math.prod(out_shape), math.prod(in_shape)
    matrix = FORMATS[name](rows, cols, 2, out_shape=out_shape, in_shape=in_shape).double()
    x = torch.randn(3, 5, cols, dtype=torch.float64)  # (B, T, N): leading dims are kept
    y = matrix.matmul(x)
    assert y.shape == (3, 5, rows)
    torch.testing.assert_close(y, x @ matrix.to_dense().T, rtol=1e-12, atol=1e-13)


@pytest.mark.formats("all")
def test_from_dense_at_full_rank_gives_the_matrix_back(name: str) -> None:
    weight = random_matrix()
    rank = full_rank(name, OUT_SHAPE, IN_SHAPE)
    matrix = FORMATS[name].from_dense(
        weight, rank, out_shape=OUT_SHAPE, in_shape=IN_SHAPE
    )
    assert all(p.dtype == torch.float64 for p in matrix.parameters())
    torch.testing.assert_close(matrix.to_dense(), weight, rtol=0, atol=1e-10)


@pytest.mark.formats("factorized")
def test_from_dense_keeps_float32_and_leaves_tensorly_backend(name: str) -> None:
    backend = tl.get_backend()
    weight = random_matrix().float()
    matrix = FORMATS[name].from_dense(weight, 2)
    assert tl.get_backend() == backend
    assert all(p.dtype == torch.float32 for p in matrix.parameters())
    assert matrix.to_dense().shape == weight.shape


# Ranks between 1 and the largest (max_rank) at which a fit is checked; none for other formats.
BETWEEN_RANKS: dict[str, list[Rank]] = {
    "tt": [2, [3, 5], [6, 10]],
    "cp": [4, 12],
    "tucker": [2, [4, 5, 10]],
    "lowrank": [4, 12],
    "tr": [2, 4, [2, 3, 18]],  # [2, 3, 18]: TR-SVD truncates nothing
    "bt": [2, [4, 5, 10]],  # two blocks each
    "toeplitz": [4, 12],  # displacement ranks, one 30 x 30 block
    "ht": [2, [4, 4, 10, 10]],  # nodes (1), (2), (1, 2), (3)
}


@pytest.mark.formats("factorized")
def test_truncation_error_falls_as_rank_grows(name: str) -> None:
    weight = random_matrix()
    errors = []
    for rank in [1, *BETWEEN_RANKS.get(name, []), full_rank(name, OUT_SHAPE, IN_SHAPE)]:
        fitted = FORMATS[name].from_dense(
            weight, rank, out_shape=OUT_SHAPE, in_shape=IN_SHAPE
        )
        error = torch.linalg.norm(fitted.to_dense().detach() - weight) / weight.norm()
        errors.append(float(error))
    assert all(later <= earlier + 1e-9 for earlier, later in itertools.pairwise(errors)), errors
    assert errors[0] > 0.5 and errors[-1] < 1e-9


def test_lowrank_fit_is_the_best_approximation() -> None:
    weight = random_matrix()
    singular = torch.linalg.svdvals(weight)
    fitted = FORMATS["lowrank"].from_dense(weight, 5)
    error = torch.linalg.norm(fitted.to_dense() - weight)
    torch.testing.assert_close(error, singular[5:].norm())  # Eckart-Young


def closed_form_parameters(name: str, rank: list[int]) -> int:
    pairs = [m * n for m, n in zip(OUT_SHAPE, IN_SHAPE, strict=True)]
    if name == "tt":
        bonds = [1, *rank, 1]
        return sum(p * bonds[k] * bonds[k + 1] for k, p in enumerate(pairs))
    if name == "cp":
        return rank[0] * sum(pairs)
    if name == "tucker":
        return math.prod(rank) + sum(p * r for p, r in zip(pairs, rank, strict=True))
    if name == "ht":  # tree ((1, 2), 3); ranks of the nodes (1), (2), (1, 2), (3)
        r1, r2, r12, r3 = rank
        return pairs[0] * r1 + pairs[1] * r2 + pairs[2] * r3 + r1 * r2 * r12 + r12 * r3
    if name == "tr":  # bonds (r_0, r_1, r_2), closed by r_3 = r_0
        bonds = [*rank, rank[0]]
        return sum(p * bonds[k] * bonds[k + 1] for k, p in enumerate(pairs))
    if name == "bt":  # (C, r_1, r_2, r_3): C Tucker blocks
        blocks, *ranks = rank
        return blocks * closed_form_parameters("tucker", ranks)
    if name == "toeplitz":  # generators G and H, each r x max(M, N)
        return 2 * rank[0] * max(M, N)
    return rank[0] * (M + N)


@pytest.mark.parametrize(
    ("name", "rank"),
    [("tt", [2, 5]), ("tt", [6, 20]), ("cp", [3]), ("cp", [36]), ("tucker", [2, 3, 4]),
     ("tucker", [6, 6, 20]), ("lowrank", [1]), ("lowrank", [24]),
     ("toeplitz", [1]), ("toeplitz", [30]),
     ("ht", [2, 3, 4, 5]), ("ht", [6, 6, 20, 20]),
     ("tr", [2, 3, 4]), ("tr", [20, 20, 20]), ("bt", [3, 2, 3, 4]), ("bt", [1, 6, 6, 20])],
)
def test_num_parameters_match_closed_forms(name: str, rank: list[int]) -> None:
    matrix = FORMATS[name](M, N, rank, out_shape=OUT_SHAPE, in_shape=IN_SHAPE)
    assert matrix.num_parameters() == closed_form_parameters(name, rank)


def test_dense_counts() -> None:
    matrix = DenseMatrix(M, N)
    assert matrix.num_parameters() == M * N
    assert matrix.flops_matmul(7) == 7 * M * N and matrix.flops_to_dense() == 0


def test_tt_flops_follow_the_sequential_contraction() -> None:
    # W 64 x 64 as (4, 4, 4) x (4, 4, 4), ranks (2, 2): at batch 1 the cheapest order sweeps
    # the cores one by one; each step costs the product of every index it touches:
    # (n1 n2 n3 m1 r1) + (n2 n3 m1 r1 m2 r2) + (n3 m1 m2 r2 m3).
    matrix = FORMATS["tt"](64, 64, 2, out_shape=(4, 4, 4), in_shape=(4, 4, 4))
    one_row = 4**4 * 2 + 4**4 * 2 * 2 + 4**4 * 2
    assert matrix.flops_matmul(1) == one_row
    assert matrix.flops_matmul(1) < 64 * 64 < matrix.flops_to_dense()


SMALL_RANKS = {"tr": 2}  # a ring carries its closing bond through every core: ~r_0 x TT's cost


@pytest.mark.formats("factorized")
def test_flops_grow_with_batch_and_stay_below_dense_for_small_ranks(name: str) -> None:
    matrix = FORMATS[name](768, 256, SMALL_RANKS.get(name, 4))
    assert matrix.flops_matmul(1) < matrix.flops_matmul(16) <= 16 * matrix.flops_matmul(1)
    assert matrix.flops_matmul(1) < 768 * 256
    assert matrix.flops_to_dense() >= 768 * 256  # at least one multiply-add per entry of W


@pytest.mark.formats("factorized")
def test_gradcheck(name: str) -> None:
    matrix = FORMATS[name](12, 8, 2, out_shape=(3, 2, 2), in_shape=(2, 2, 2)).double()
    names = [n for n, _ in matrix.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in matrix.parameters()]
    x = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)

    def product(x: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        return functional_call(matrix, dict(zip(names, values, strict=True)), (x,))

    def dense(*values: torch.Tensor) -> torch.Tensor:
        state = {f"matrix.{n}": v for n, v in zip(names, values, strict=True)}
        return functional_call(ToDense(matrix), state, ())

    assert torch.autograd.gradcheck(product, (x, *params))
    assert torch.autograd.gradcheck(dense, tuple(params))


class ToDense(torch.nn.Module):
    """``to_dense`` as a forward pass, so that ``functional_call`` can swap the factors."""

    def __init__(self, matrix: FactorizedMatrix) -> None:
        super().__init__()
        self.matrix = matrix

    def forward(self) -> torch.Tensor:
        return self.matrix.to_dense()
