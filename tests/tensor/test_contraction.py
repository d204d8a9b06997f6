"""Contraction planning: the cheapest order, its cost, and the rule that keeps W unformed."""

from __future__ import annotations

import math

import opt_einsum
import pytest
import torch

from deepspeech_tt.tensor import TensorTrainMatrix
from deepspeech_tt.tensor.contraction import contract, count_macs, plan

EQUATIONS = [
    ("ab,bc->ac", ((3, 4), (4, 5))),
    ("bxyz,amxc,cnyd,doze->bmno", ((16, 8, 8, 4), (1, 12, 8, 4), (4, 8, 8, 4), (4, 8, 4, 1))),
    ("jdef,ghi,adg,beh,cfi->jabc", ((32, 4, 4, 4), (3, 3, 3), (4, 4, 3), (4, 4, 3), (4, 4, 3))),
]


@pytest.mark.parametrize(("equation", "shapes"), EQUATIONS)
def test_plan_is_as_cheap_as_opt_einsum_optimal(equation: str, shapes: tuple) -> None:
    _, info = opt_einsum.contract_path(equation, *shapes, shapes=True, optimize="optimal")
    ours = plan(equation, shapes)
    assert ours.macs <= sum(
        math.prod(info.size_dict[i] for i in set(step[2].split("->")[0].replace(",", "")))
        for step in info.contraction_list
    )
    operands = [torch.randn(shape, dtype=torch.float64) for shape in shapes]
    torch.testing.assert_close(contract(equation, *operands), torch.einsum(equation, *operands))


def test_matrix_product_cost() -> None:
    assert count_macs("ab,bc->ac", [(3, 4), (4, 5)]) == 3 * 4 * 5


def free_intermediates(equation: str, shapes: tuple, free_limit: int | None) -> list[int]:
    """Sizes of the intermediates of the chosen path that leave out the first operand."""
    inputs, output = equation.split("->")
    terms = [set(t) for t in inputs.split(",")]
    sizes = {i: s for t, shape in zip(inputs.split(","), shapes, strict=True)
             for i, s in zip(t, shape, strict=True)}
    alive = [(term, k == 0) for k, term in enumerate(terms)]
    found = []
    for left, right in plan(equation, shapes, free_limit).path:
        (a, has_a), (b, has_b) = alive[left], alive[right]
        rest = set(output).union(*(t for k, (t, _) in enumerate(alive) if k not in (left, right)))
        merged = (a | b) & rest
        if not (has_a or has_b):
            found.append(math.prod(sizes[i] for i in merged))
        alive = [x for k, x in enumerate(alive) if k not in (left, right)]
        alive.append((merged, has_a or has_b))
    return found


@pytest.mark.parametrize(("out_features", "in_features", "batch"), [(768, 256, 64),
                                                                     (3072, 1024, 4096)])
def test_matmul_never_forms_w_even_where_that_would_be_cheaper(
    out_features: int, in_features: int, batch: int
) -> None:
    matrix = TensorTrainMatrix(out_features, in_features, 16)
    size = out_features * in_features
    equation = matrix._matmul_eq
    shapes = ((batch, *matrix.in_shape), *matrix.factor_shapes())
    assert max(free_intermediates(equation, shapes, None)) >= size  # the cheapest order forms W
    assert max(free_intermediates(equation, shapes, size), default=0) < size
    assert matrix.flops_matmul(batch) == count_macs(equation, shapes, size)
    assert matrix.flops_matmul(batch) > count_macs(equation, shapes)
