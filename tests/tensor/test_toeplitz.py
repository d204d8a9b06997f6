"""Toeplitz-like format: the product form, exact fits, FFT products, counts, a GRU of them."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.nn.gru import FactorizedGRU
from deepspeech_tt.tensor import FORMATS, FormatError, ToeplitzLikeMatrix
from deepspeech_tt.tensor.toeplitz import displacement

SHAPES = [(12, 12), (36, 12), (12, 30), (7, 5)]  # square, a GRU's 3H x H, wide, odd sizes


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def f_circulant(v: torch.Tensor, f: float) -> torch.Tensor:
    """Z_f(v), built column by column as the Krylov matrix [v, Z_f v, Z_f^2 v, ...]."""
    columns = [v]
    for _ in range(len(v) - 1):
        last = columns[-1]
        columns.append(torch.cat([f * last[-1:], last[:-1]]))  # Z_f: shift down, wrap times f
    return torch.stack(columns, dim=1)


def explicit(matrix: ToeplitzLikeMatrix) -> torch.Tensor:
    """sum_i Z_1(g_i) Z_{-1}(h_i), cropped to the matrix's M x N corner."""
    square = torch.stack([
        f_circulant(g, 1.0) @ f_circulant(h, -1.0)
        for g, h in zip(matrix.g.detach(), matrix.h.detach(), strict=True)
    ]).sum(dim=0)  # (n, n)
    return square[: matrix.out_features, : matrix.in_features]


def toeplitz(size: int, seed: int = 0) -> torch.Tensor:
    """A random size x size Toeplitz matrix T[a, b] = t[a - b]."""
    diagonals = torch.randn(2 * size - 1, dtype=torch.float64, generator=generator(seed))
    index = torch.arange(size)[:, None] - torch.arange(size)[None, :] + size - 1
    return diagonals[index]


@pytest.mark.parametrize(("rows", "cols"), SHAPES)
def test_to_dense_is_the_sum_of_f_circulant_products(rows: int, cols: int) -> None:
    matrix = ToeplitzLikeMatrix(rows, cols, 3).double()
    torch.testing.assert_close(matrix.to_dense().detach(), explicit(matrix), rtol=0, atol=1e-13)


def test_displacement_has_the_papers_form_and_rank() -> None:
    # L(W) = 2 sum_i g_i (J h_i)^T: the generators of Sindhwani et al. are (g_i, 2 J h_i).
    matrix = ToeplitzLikeMatrix(16, 16, 3).double()
    g, h = matrix.g.detach(), matrix.h.detach()
    moved = displacement(matrix.to_dense().detach())
    torch.testing.assert_close(moved, 2 * g.T @ h.flip(-1), rtol=0, atol=1e-12)
    assert torch.linalg.matrix_rank(moved) == 3


def test_plain_toeplitz_is_recovered_exactly_at_displacement_rank_two() -> None:
    weight = toeplitz(20)
    assert torch.linalg.matrix_rank(displacement(weight)) == 2
    fitted = ToeplitzLikeMatrix.from_dense(weight, 2)
    torch.testing.assert_close(fitted.to_dense(), weight, rtol=0, atol=1e-10)
    one = ToeplitzLikeMatrix.from_dense(weight, 1).to_dense()
    assert torch.linalg.norm(one - weight) > 0.1 * torch.linalg.norm(weight)


@pytest.mark.parametrize("rank", [1, 3, 5])
def test_toeplitz_like_matrix_is_recovered_exactly_at_its_rank(rank: int) -> None:
    weight = ToeplitzLikeMatrix(18, 18, rank).double().to_dense().detach()
    fitted = ToeplitzLikeMatrix.from_dense(weight, rank)
    torch.testing.assert_close(fitted.to_dense(), weight, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("rows", "cols"), [(24, 30), (36, 12)])
def test_least_squares_improves_on_the_truncated_displacement(rows: int, cols: int) -> None:
    weight = torch.randn(rows, cols, dtype=torch.float64, generator=generator(2))
    n, rank = max(rows, cols), 4
    padded = torch.zeros(n, n, dtype=torch.float64)
    padded[:rows, :cols] = weight
    p, s, qt = torch.linalg.svd(displacement(padded))
    start = ToeplitzLikeMatrix(rows, cols, rank).double()
    with torch.no_grad():  # the Eckart-Young fit of the displacement, where from_dense starts
        start.g.copy_((s[:rank] / 2).sqrt()[:, None] * p[:, :rank].T)
        start.h.copy_((s[:rank] / 2).sqrt()[:, None] * qt[:rank].flip(-1))
    fitted = ToeplitzLikeMatrix.from_dense(weight, rank)
    error = torch.linalg.norm(fitted.to_dense() - weight)
    assert error < 0.95 * torch.linalg.norm(start.to_dense() - weight)
    assert error < torch.linalg.norm(weight)  # better than W = 0, which the start is not always


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("rows", "cols"), SHAPES)
def test_fft_product_equals_the_dense_product(
    rows: int, cols: int, dtype: torch.dtype
) -> None:
    matrix = ToeplitzLikeMatrix(rows, cols, 2).to(dtype)
    x = torch.randn(4, 3, cols, dtype=dtype, generator=generator(1))  # (B, T, N)
    expected = x.double() @ explicit(matrix).double().T  # (B, T, M)
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {}
    y = matrix.matmul(x)
    assert y.dtype == dtype and y.shape == (4, 3, rows)
    torch.testing.assert_close(y.double(), expected, **tolerance)
    stepped = matrix.product()(x.reshape(-1, cols)).reshape(4, 3, rows)
    torch.testing.assert_close(stepped, y, rtol=0, atol=0)


@pytest.mark.parametrize(("rows", "cols", "rank"), [(36, 12, 1), (36, 12, 4), (12, 30, 7),
                                                    (768, 257, 4)])
def test_parameter_count_is_two_r_times_the_larger_size(rows: int, cols: int, rank: int) -> None:
    matrix = FORMATS["toeplitz"](rows, cols, rank)
    assert matrix.num_parameters() == 2 * rank * max(rows, cols)
    assert matrix.g.shape == matrix.h.shape == (rank, max(rows, cols))


def test_fft_product_grows_like_n_log_n() -> None:
    small, large = ToeplitzLikeMatrix(256, 256, 4), ToeplitzLikeMatrix(1024, 1024, 4)
    ratio = large.flops_matmul(1) / small.flops_matmul(1)
    assert 4 < ratio < 6  # 4 times the size: 4 x 10/8 for n log n, not 16 as a dense product
    assert large.flops_matmul(1) < 1024 * 1024 / 4  # a fifth of the dense product's


def test_rank_beyond_the_block_size_names_the_sizes_and_valid_ranks() -> None:
    with pytest.raises(FormatError, match=r"36 x 12 matrix: displacement rank 37 .* 1 to 36"):
        ToeplitzLikeMatrix(36, 12, 37)
    with pytest.raises(FormatError, match=r"36 x 12 matrix: ranks must be positive"):
        ToeplitzLikeMatrix(36, 12, 0)


@pytest.mark.parametrize("strategy", ["reconstruct", "contract"])
def test_gru_of_toeplitz_matrices_equals_nn_gru_on_its_dense_weights(strategy: str) -> None:
    torch.manual_seed(0)
    ours = FactorizedGRU(10, 6, num_layers=2, bidirectional=True, format="toeplitz", rank=2,
                         strategy=strategy).double()
    reference = ours.to_gru()  # nn.GRU holding every matrix's to_dense()
    x = torch.randn(5, 3, 10, dtype=torch.float64)  # (T, B, I)
    h0 = torch.randn(4, 3, 6, dtype=torch.float64)
    for got, want in zip(ours(x, h0), reference(x, h0), strict=True):
        torch.testing.assert_close(got, want)
