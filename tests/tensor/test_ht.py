"""Hierarchical Tucker: the tree, parameter counts, HT-SVD's error bound, init, and the GRU."""

from __future__ import annotations

import math

import pytest
import torch

from deepspeech_tt.nn.gru import FactorizedGRU
from deepspeech_tt.tensor import FormatError, HierarchicalTuckerMatrix, TuckerMatrix
from deepspeech_tt.tensor.base import Rank
from deepspeech_tt.tensor.ht import describe_tree, dimension_tree, ht_max_ranks
from deepspeech_tt.tensor.shapes import pair_modes, unpair_modes

# Shapes of order 1 to 5 (pairs m_k n_k in the comments).
SHAPES = {
    1: ((6,), (5,)),  # (30,)
    2: ((4, 6), (5, 2)),  # (20, 12)
    3: ((2, 3, 4), (3, 2, 5)),  # (6, 6, 20)
    4: ((2, 2, 3, 2), (2, 3, 1, 2)),  # (4, 6, 3, 4)
    5: ((2, 1, 2, 1, 2), (1, 2, 2, 3, 2)),  # (2, 2, 4, 3, 4)
}
# The nodes below the root in post-order, as 0-based mode ranges [start, stop).
NODES = {
    2: [(0, 1), (1, 2)],
    3: [(0, 1), (1, 2), (0, 2), (2, 3)],
    4: [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4), (2, 4)],
}
ROOT_CHILDREN = {3: [(0, 2), (2, 3)], 4: [(0, 2), (2, 4)]}


def random_matrix(rows: int, cols: int) -> torch.Tensor:
    return torch.randn(rows, cols, dtype=torch.float64, generator=torch.Generator().manual_seed(3))


def decaying_matrix(out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> torch.Tensor:
    """A W whose every matricisation has geometrically falling singular values.

    A Gaussian tensor of paired modes multiplied along each mode by Q diag(0.6^i): with a flat
    spectrum (plain Gaussian W) even poor bases meet the error bound.
    """
    generator = torch.Generator().manual_seed(3)
    pairs = [m * n for m, n in zip(out_shape, in_shape, strict=True)]
    tensor = torch.randn(pairs, dtype=torch.float64, generator=generator)
    for k, size in enumerate(pairs):
        q, _ = torch.linalg.qr(torch.randn(size, size, dtype=torch.float64, generator=generator))
        scaled = q * 0.6 ** torch.arange(size, dtype=torch.float64)
        tensor = torch.movedim(torch.tensordot(scaled, tensor, dims=([1], [k])), 0, k)
    return unpair_modes(tensor, out_shape, in_shape)


def sizes(order: int) -> tuple[int, int]:
    out_shape, in_shape = SHAPES[order]
    return math.prod(out_shape), math.prod(in_shape)


@pytest.mark.parametrize(
    ("order", "tree"),
    [(1, "1"), (2, "(1, 2)"), (3, "((1, 2), 3)"), (4, "((1, 2), (3, 4))"),
     (5, "(((1, 2), 3), (4, 5))")],
)
def test_balanced_tree_with_the_left_child_taking_the_larger_half(order: int, tree: str) -> None:
    assert describe_tree(order) == tree
    nodes = dimension_tree(order)
    assert len(nodes) == 2 * order - 1 and (nodes[-1].start, nodes[-1].stop) == (0, order)
    if order in NODES:
        assert [(node.start, node.stop) for node in nodes[:-1]] == NODES[order]
    matrix = HierarchicalTuckerMatrix(*sizes(order), 1, out_shape=SHAPES[order][0],
                                      in_shape=SHAPES[order][1])
    assert f"tree={tree}" in repr(matrix)


def test_factor_shapes_follow_the_tree() -> None:
    out_shape, in_shape = SHAPES[4]
    matrix = HierarchicalTuckerMatrix(*sizes(4), [2, 3, 4, 2, 3, 5], out_shape=out_shape,
                                      in_shape=in_shape)
    leaves = [(2, 2, 2), (2, 3, 3), (3, 1, 2), (2, 2, 3)]
    transfers = [(2, 3, 4), (2, 3, 5), (4, 5, 1)]  # (1, 2), (3, 4), root
    assert matrix.factor_shapes() == leaves + transfers
    assert [tuple(p.shape) for p in matrix.parameters()] == leaves + transfers


@pytest.mark.parametrize(
    ("order", "rank", "expected"),
    [
        (1, 5, 30),  # the leaf is the root: W itself
        (2, [3, 4], 20 * 3 + 12 * 4 + 3 * 4),
        (3, [2, 3, 4, 5], 6 * 2 + 6 * 3 + 20 * 5 + 2 * 3 * 4 + 4 * 5),
        (4, [2, 3, 4, 2, 3, 4], 4 * 2 + 6 * 3 + 3 * 2 + 4 * 3 + 2 * 3 * 4 + 2 * 3 * 4 + 4 * 4),
    ],
)
def test_parameter_count_equals_the_closed_form(order: int, rank: Rank, expected: int) -> None:
    out_shape, in_shape = SHAPES[order]
    matrix = HierarchicalTuckerMatrix(*sizes(order), rank, out_shape=out_shape,
                                      in_shape=in_shape)
    assert matrix.num_parameters() == expected


@pytest.mark.parametrize(("order", "rank"), [(4, 3), (4, 4), (5, 2), (6, 2), (6, 3)])
def test_fewer_parameters_than_tucker_at_the_same_ranks(order: int, rank: int) -> None:
    outs, ins = (2,) * order, (3,) * order  # every pair m_k n_k = 6
    ht = HierarchicalTuckerMatrix(2**order, 3**order, rank, out_shape=outs, in_shape=ins)
    tucker = TuckerMatrix(2**order, 3**order, rank, out_shape=outs, in_shape=ins)
    # Same leaves (6 r each); the core r^d against d - 2 inner transfers r^3 and the root r^2.
    assert ht.num_parameters() == order * 6 * rank + (order - 2) * rank**3 + rank**2
    assert tucker.num_parameters() - ht.num_parameters() == (
        rank**order - (order - 2) * rank**3 - rank**2
    )
    assert ht.num_parameters() < tucker.num_parameters()


@pytest.mark.parametrize("order", sorted(SHAPES))
def test_full_rank_fit_is_exact_and_products_match(order: int) -> None:
    out_shape, in_shape = SHAPES[order]
    weight = random_matrix(*sizes(order))
    matrix = HierarchicalTuckerMatrix.from_dense(
        weight, list(ht_max_ranks(out_shape, in_shape)), out_shape=out_shape, in_shape=in_shape
    )
    torch.testing.assert_close(matrix.to_dense(), weight, rtol=0, atol=1e-10)
    x = torch.randn(4, weight.shape[1], dtype=torch.float64)
    torch.testing.assert_close(matrix.matmul(x), x @ weight.T, rtol=0, atol=1e-10)


def tail(tensor: torch.Tensor, start: int, stop: int, rank: int) -> float:
    """The best rank-``rank`` error of the matricisation at modes [start, stop)."""
    inside = math.prod(tensor.shape[start:stop])
    before = math.prod(tensor.shape[:start])
    unfolding = tensor.reshape(before, inside, -1).transpose(0, 1).reshape(inside, -1)
    return float(torch.linalg.svdvals(unfolding)[rank:].norm())


@pytest.mark.parametrize(
    ("order", "rank"), [(3, [3, 4, 6, 5]), (3, 2), (4, [3, 4, 5, 2, 3, 6]), (4, 2)]
)
def test_htsvd_error_is_within_the_quasi_optimality_bound(order: int, rank: Rank) -> None:
    out_shape, in_shape = SHAPES[order]
    weight = decaying_matrix(out_shape, in_shape)
    matrix = HierarchicalTuckerMatrix.from_dense(weight, rank, out_shape=out_shape,
                                                 in_shape=in_shape)
    error = float(torch.linalg.norm(matrix.to_dense().detach() - weight))
    tensor = pair_modes(weight, out_shape, in_shape)
    tails = {node: tail(tensor, *node, r)
             for node, r in zip(NODES[order], matrix.ranks, strict=True)}
    # Any HT matrix at these ranks has every matricisation of rank <= r_t: the best error is
    # at least the largest tail. HT-SVD's error is at most the root of the sum of squared tails,
    # the root's two children (one matricisation) counted once (Grasedyck 2010, Thm. 3.11).
    top = max(tails.pop(child) for child in ROOT_CHILDREN[order])
    bound = math.sqrt(sum(t**2 for t in tails.values()) + top**2)
    largest = max(top, *tails.values())
    assert largest - 1e-10 <= error <= bound + 1e-10
    assert error <= math.sqrt(2 * order - 3) * largest + 1e-10
    assert error > 0.1 * float(weight.norm())  # the ranks truncate: the bound is not trivial


@pytest.mark.parametrize(
    ("order", "rank"), [(1, 1), (2, 3), (3, 2), (4, [1, 2, 2, 3, 4, 2]), (5, 2)]
)
def test_every_draw_has_exactly_the_requested_mean_square(order: int, rank: Rank) -> None:
    # (4, [1, 2, 2, 3, 4, 2]): unequal ranks; node (1, 2) of rank r_1 r_2 has a square transfer.
    out_shape, in_shape = SHAPES[order]
    for seed in range(3):
        torch.manual_seed(seed)
        matrix = HierarchicalTuckerMatrix(*sizes(order), rank, out_shape=out_shape,
                                          in_shape=in_shape, init_std=0.1)
        mean_square = float(matrix.to_dense().detach().double().pow(2).mean())
        assert mean_square == pytest.approx(0.01, rel=1e-5)


def test_rank_above_its_childrens_product_keeps_the_mean_square() -> None:
    out_shape, in_shape = SHAPES[4]
    ranks = [1, 2, 5, 1, 1, 3]  # node (1, 2): 5 > 1 * 2, node (3, 4): 3 > 1 * 1
    matrix = HierarchicalTuckerMatrix(*sizes(4), ranks, out_shape=out_shape, in_shape=in_shape,
                                      init_std=0.2)
    assert float(matrix.to_dense().detach().double().pow(2).mean()) == pytest.approx(0.04, rel=1e-5)


def test_rank_error_names_the_sizes_the_largest_ranks_and_the_node_order() -> None:
    expected = (r"12 x 8 matrix, shapes \(2, 6\) x \(2, 4\): HT rank 2 is 5, but these shapes "
                r"allow at most 4; use ranks <= \[4, 4\] \(one per node \{1\}, \{2\} of the "
                r"tree \(1, 2\)\)")
    with pytest.raises(FormatError, match=expected):
        HierarchicalTuckerMatrix(12, 8, [4, 5], out_shape=(2, 6), in_shape=(2, 4))
    with pytest.raises(FormatError, match=r"takes one integer or 4 ranks, got 3.*\{1, 2\}"):
        HierarchicalTuckerMatrix(24, 30, [2, 2, 2], out_shape=(2, 3, 4), in_shape=(3, 2, 5))


def test_ht_gru_equals_nn_gru_holding_its_dense_weights() -> None:
    torch.manual_seed(0)
    gru = FactorizedGRU(8, 8, num_layers=2, bidirectional=True, format="ht", rank=2,
                        input_shape=(2, 2, 2), hidden_shape=(2, 2, 2), strategy="contract")
    gru = gru.double()
    dense = gru.to_gru()
    x = torch.randn(5, 3, 8, dtype=torch.float64)  # (T, B, I)
    for got, want in zip(gru(x), dense(x), strict=True):
        torch.testing.assert_close(got, want)
