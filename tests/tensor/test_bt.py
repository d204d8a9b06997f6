"""Block-term Tucker: blocks, their relation to Tucker, greedy fitting and rank forms."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from deepspeech_tt.tensor import BlockTermMatrix, FormatError, TuckerMatrix
from deepspeech_tt.tensor.base import Rank
from deepspeech_tt.tensor.btt import DEFAULT_BLOCKS
from tests.tensor.helpers import IN_SHAPE, OUT_SHAPE, M, N

PAIRS = [m * n for m, n in zip(OUT_SHAPE, IN_SHAPE, strict=True)]  # (6, 6, 20)


def random_matrix() -> torch.Tensor:
    return torch.randn(M, N, dtype=torch.float64, generator=torch.Generator().manual_seed(4))


def block_term(rank: Rank, blocks: int | None = None) -> BlockTermMatrix:
    matrix = BlockTermMatrix(M, N, rank, out_shape=OUT_SHAPE, in_shape=IN_SHAPE, blocks=blocks)
    return matrix.double()


def tucker_block(bt: BlockTermMatrix, c: int) -> TuckerMatrix:
    """Block c of ``bt`` as a Tucker matrix with the same core and factors."""
    tucker = TuckerMatrix(M, N, list(bt.ranks[1:]), out_shape=OUT_SHAPE, in_shape=IN_SHAPE).double()
    with torch.no_grad():
        tucker.core.copy_(bt.cores[c])
        for mine, theirs in zip(tucker.factors, bt.factors, strict=True):
            mine.copy_(theirs[c])
    return tucker


def fit_error(weight: torch.Tensor, fitted: BlockTermMatrix) -> float:
    return float(torch.linalg.norm(fitted.to_dense().detach() - weight) / weight.norm())


def test_one_block_is_tucker_with_the_same_core_and_factors() -> None:
    bt = block_term([1, 2, 3, 4])
    tucker = tucker_block(bt, 0)
    x = torch.randn(5, N, dtype=torch.float64)
    torch.testing.assert_close(bt.to_dense(), tucker.to_dense(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(bt.matmul(x), tucker.matmul(x), rtol=1e-12, atol=1e-13)
    assert bt.num_parameters() == tucker.num_parameters()
    assert bt.flops_matmul(5) == tucker.flops_matmul(5)
    assert bt.flops_to_dense() == tucker.flops_to_dense()


def test_blocks_add_up() -> None:
    bt = block_term([2, 3, 1], blocks=3)
    x = torch.randn(2, 7, N, dtype=torch.float64)
    tuckers = [tucker_block(bt, c) for c in range(3)]
    torch.testing.assert_close(bt.to_dense(), sum(t.to_dense() for t in tuckers))
    torch.testing.assert_close(bt.matmul(x), sum(t.matmul(x) for t in tuckers))


@pytest.mark.parametrize(
    ("rank", "blocks", "expected"),
    [(3, None, (DEFAULT_BLOCKS, (3, 3, 3))), (3, 4, (4, (3, 3, 3))),
     ([2, 3, 4], 1, (1, (2, 3, 4))), ([5, 2, 3, 4], None, (5, (2, 3, 4)))],
)
def test_rank_forms_and_parameter_counts(rank: Rank, blocks: int | None,
                                         expected: tuple) -> None:
    bt = block_term(rank, blocks=blocks)
    count, ranks = expected
    assert (bt.blocks, bt.ranks) == (count, (count, *ranks))
    closed_form = count * (math.prod(ranks) + sum(p * r for p, r in zip(PAIRS, ranks, strict=True)))
    assert bt.num_parameters() == closed_form
    assert tuple(bt.cores.shape) == (count, *ranks)


def test_blocks_given_twice_must_agree() -> None:
    with pytest.raises(FormatError, match=r"gives 5 blocks but blocks=2"):
        block_term([5, 2, 3, 4], blocks=2)


def test_one_full_block_fits_exactly() -> None:
    weight = random_matrix()
    fitted = BlockTermMatrix.from_dense(weight, [1, *PAIRS], out_shape=OUT_SHAPE,
                                        in_shape=IN_SHAPE)
    assert fitted.blocks == 1
    assert fit_error(weight, fitted) < 1e-12


def test_error_falls_block_after_block() -> None:
    weight = random_matrix()
    errors = [
        fit_error(weight, BlockTermMatrix.from_dense(weight, 2, out_shape=OUT_SHAPE,
                                                     in_shape=IN_SHAPE, blocks=blocks))
        for blocks in (1, 2, 4)
    ]
    assert all(later < earlier for earlier, later in itertools.pairwise(errors)), errors


def test_fit_keeps_dtype_and_device() -> None:
    weight = random_matrix().float()
    fitted = BlockTermMatrix.from_dense(weight, [3, 2, 2, 2], out_shape=OUT_SHAPE,
                                        in_shape=IN_SHAPE)
    assert all(p.dtype == torch.float32 and p.device == weight.device
               for p in fitted.parameters())
    assert tuple(fitted.cores.shape) == (3, 2, 2, 2)


def test_assembly_cost_counts_every_block_and_their_sum() -> None:
    bt = block_term(2, blocks=3)
    one_block = tucker_block(bt, 0).flops_to_dense()
    assert bt.flops_to_dense() == 3 * one_block + 2 * M * N
