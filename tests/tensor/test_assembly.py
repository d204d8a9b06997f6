"""Building W from its factors mode by mode equals the einsum of the formats' definitions."""

from __future__ import annotations

import math

import pytest
import torch

from deepspeech_tt.tensor import FORMATS
from deepspeech_tt.tensor.assembly import (
    cp_assembly_macs,
    cp_to_matrix,
    tt_assembly_macs,
    tt_to_matrix,
    tucker_assembly_macs,
    tucker_to_matrix,
)
from deepspeech_tt.tensor.contraction import symbols

# One mode, two, three with unequal sizes, four with modes of size 1.
SHAPES = [((6,), (5,)), ((4, 6), (5, 2)), ((2, 3, 4), (3, 2, 5)), ((2, 2, 3, 1), (1, 3, 1, 2))]


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64)


def _reference(equation: str, *operands: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """W by the definition: one einsum to (m_1..m_d, n_1..n_d), then reshaped row-major."""
    return torch.einsum(equation, *operands).reshape(rows, cols)


@pytest.mark.parametrize(("out_shape", "in_shape"), SHAPES)
def test_tt_matrix_is_the_product_of_its_cores(out_shape: tuple, in_shape: tuple) -> None:
    d = len(out_shape)
    ranks = [1, *([3] * (d - 1)), 1]
    cores = [_randn(ranks[k], out_shape[k], in_shape[k], ranks[k + 1]) for k in range(d)]
    outs, ins, bonds = symbols(d), symbols(d, d), symbols(d + 1, 2 * d)
    terms = ",".join(bonds[k] + outs[k] + ins[k] + bonds[k + 1] for k in range(d))
    want = _reference(f"{terms}->{''.join(outs + ins)}", *cores,
                      rows=math.prod(out_shape), cols=math.prod(in_shape))
    torch.testing.assert_close(tt_to_matrix(cores), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("out_shape", "in_shape"), SHAPES)
def test_cp_matrix_is_the_sum_of_its_terms(out_shape: tuple, in_shape: tuple) -> None:
    d = len(out_shape)
    factors = [_randn(m, n, 4) for m, n in zip(out_shape, in_shape, strict=True)]
    outs, ins = symbols(d), symbols(d, d)
    term = symbols(1, 2 * d)[0]
    terms = ",".join(outs[k] + ins[k] + term for k in range(d))
    want = _reference(f"{terms}->{''.join(outs + ins)}", *factors,
                      rows=math.prod(out_shape), cols=math.prod(in_shape))
    torch.testing.assert_close(cp_to_matrix(factors), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("out_shape", "in_shape"), SHAPES)
def test_tucker_matrix_is_the_core_times_its_factors(out_shape: tuple, in_shape: tuple) -> None:
    d = len(out_shape)
    ranks = [2 + k for k in range(d)]  # unequal, to catch a mixed-up core axis
    core = _randn(*ranks)
    factors = [_randn(m, n, r) for m, n, r in zip(out_shape, in_shape, ranks, strict=True)]
    outs, ins, modes = symbols(d), symbols(d, d), symbols(d, 2 * d)
    terms = "".join(modes) + "," + ",".join(outs[k] + ins[k] + modes[k] for k in range(d))
    want = _reference(f"{terms}->{''.join(outs + ins)}", core, *factors,
                      rows=math.prod(out_shape), cols=math.prod(in_shape))
    torch.testing.assert_close(tucker_to_matrix(core, factors), want, rtol=1e-12, atol=1e-12)


def test_assembly_macs_count_each_step() -> None:
    # (4, 4, 4) x (4, 4, 4): TT ranks (2, 2) fold core 2 into core 3, then core 1 in.
    tt = [(1, 4, 4, 2), (2, 4, 4, 2), (2, 4, 4, 1)]
    assert tt_assembly_macs(tt) == 2 * 16 * 2 * 16 + 1 * 16 * 2 * 256
    cp = [(4, 4, 3)] * 3
    assert cp_assembly_macs(cp) == 3 * 16**2 + 3 * 16**3  # a Kronecker step, then the sum
    assert cp_assembly_macs([(4, 4, 3)]) == 3 * 16
    tucker = [(4, 4, 2), (4, 4, 3), (4, 4, 5)]
    assert tucker_assembly_macs((2, 3, 5), tucker) == 16 * 5 * 6 + 16 * 3 * 2 * 16 + 16 * 2 * 256


@pytest.mark.formats("factorized")
@pytest.mark.parametrize("batch", [1, 3])
def test_prepared_product_equals_matmul_with_gradients(name: str, batch: int) -> None:
    matrix = FORMATS[name](24, 30, 2, out_shape=(2, 3, 4), in_shape=(3, 2, 5)).double()
    x = torch.randn(batch, 30, dtype=torch.float64, requires_grad=True)
    results = []
    for run in (matrix.matmul, matrix.product()):
        y = run(x)
        grads = torch.autograd.grad((y * y).sum(), [x, *matrix.parameters()])
        results.append((y, *grads))
    for got, want in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
