"""Hierarchical Tucker (HT) format.

W (M x N) is viewed as the order-d tensor of paired modes (m_1 n_1, ..., m_d n_d) (see
:mod:`deepspeech_tt.tensor.shapes` for the ordering) and written along a balanced binary
dimension tree over the modes (Hackbusch and Kuehn 2009; Grasedyck 2010), as FDHT-LSTM does
(Yin et al. 2021). Every node t holds a contiguous run of modes; an inner node splits its run
in two, the left child taking the first ceil(|t| / 2) modes: d = 3 gives ((1, 2), 3), d = 4
((1, 2), (3, 4)), d = 5 (((1, 2), 3), (4, 5)). Leaf k holds a factor U_k of shape
(m_k, n_k, r_k) -- an (m_k n_k) x r_k matrix, as Tucker's; inner node t with children (t1, t2)
holds a transfer tensor B_t of shape (r_t1, r_t2, r_t), and the node's frame is::

    F_t[(I_1, I_2), (J_1, J_2), s] = sum_{a,b} F_t1[I_1, J_1, a] F_t2[I_2, J_2, b] B_t[a, b, s]

with F_k = U_k at the leaves and W = F_root[:, :, 0] (the root's last rank is 1). For d = 1 the
single leaf is the root and holds W itself.

``rank`` gives r_t for the 2d - 2 nodes below the root: one int for all of them, or a list in
post-order (children before their parent, left subtree first; :func:`dimension_tree` lists
them): d = 2: ({1}, {2}); d = 3: ({1}, {2}, {1, 2}, {3}); d = 4: ({1}, {2}, {1, 2}, {3},
{4}, {3, 4}). r_t can be at most min(prod_{k in t} m_k n_k, prod_{k not in t} m_k n_k), the rank of
W's matricisation at t (:func:`ht_max_ranks`). Parameters, with r_root = 1::

    sum_{leaves k} m_k n_k r_k  +  sum_{inner t} r_t1 r_t2 r_t

-- at one rank r, sum_k m_k n_k r + (d - 2) r^3 + r^2 against Tucker's sum_k m_k n_k r + r^d:
fewer from d = 4 on once r^d > (d - 2) r^3 + r^2 (r >= 3 at d = 4, r >= 2 at d >= 5).

Initialisation: leaves get orthonormal columns (QR of a Gaussian matrix) and each inner
transfer tensor, as an (r_t1 r_t2) x r_t matrix, orthonormal columns (orthonormal rows when
r_t > r_t1 r_t2). The root's entries are drawn from N(0, 1) and then scaled: with G_t = F_t^T F_t
(from G_t = B_t^T (G_t1 (x) G_t2) B_t, small r x r matrices, never W), ||W||_F^2 =
vec(B_root)^T (G_t1 (x) G_t2) vec(B_root), and the scale makes it M N ``init_std**2``. So the
mean of W^2 over its entries is exactly ``init_std**2`` for every draw, and the entries have
mean zero in expectation (the root's sign is symmetric).

``from_dense`` runs HT-SVD (Grasedyck 2010, Algorithm 1): U_t = the leading r_t left singular
vectors of W's matricisation at every node below the root, then, from the leaves to the root,
B_t = (U_t1 (x) U_t2)^T U_t and B_root = (U_t1 (x) U_t2)^T vec(W). The result is the
orthogonal projection of W level by level, so its error is at most the root of the sum of the
2d - 3 truncated tails (the root's two children share one), and at most sqrt(2d - 3) times the
best error at these ranks (Grasedyck 2010, Theorem 3.11); exact when every rank is at its
largest. ``matmul`` and ``to_dense`` are single contractions of all factors planned by
:mod:`deepspeech_tt.tensor.contraction` (its dynamic programme visits 3^(2d) operand subsets:
cheap for the d <= 5 of a GRU matrix, slow from d = 7 on).

References:
    W. Hackbusch, S. Kuehn, "A new scheme for the tensor representation", J. Fourier Anal.
    Appl. 15(5), 2009.
    L. Grasedyck, "Hierarchical singular value decomposition of tensors", SIAM J. Matrix Anal.
    Appl. 31(4), 2010.
    M. Yin, S. Liao, X.-Y. Liu, X. Wang, B. Yuan, "Towards extremely compact RNNs for video
    recognition with fully decomposed hierarchical Tucker structure", CVPR 2021.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import torch
from torch import Tensor, nn

from deepspeech_tt.tensor.base import FormatError, Rank
from deepspeech_tt.tensor.contraction import contract, count_macs, symbols
from deepspeech_tt.tensor.modes import ModeMatrix, Modes
from deepspeech_tt.tensor.shapes import check_ranks, describe, pair_modes, parse_ranks


@dataclass(frozen=True)
class Node:
    """A node of the dimension tree: modes ``start`` to ``stop - 1`` (0-based).

    ``children`` holds the positions of its two children in :func:`dimension_tree`'s list;
    None for a leaf.
    """

    start: int
    stop: int
    children: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        """The 1-based modes the node covers, as the module docstring writes them: "{1, 2}"."""
        return "{" + ", ".join(str(k + 1) for k in range(self.start, self.stop)) + "}"


@cache
def dimension_tree(order: int) -> tuple[Node, ...]:
    """The balanced dimension tree over ``order`` modes in post-order (the root last)."""
    nodes: list[Node] = []

    def build(start: int, stop: int) -> int:
        if stop - start == 1:
            nodes.append(Node(start, stop))
        else:
            middle = start + (stop - start + 1) // 2  # the left child takes ceil(|t| / 2)
            left, right = build(start, middle), build(middle, stop)
            nodes.append(Node(start, stop, (left, right)))
        return len(nodes) - 1

    build(0, order)
    return tuple(nodes)


def ht_max_ranks(out_shape: Modes, in_shape: Modes) -> Modes:
    """The largest useful rank of each node below the root (post-order): its matricisation's."""
    pairs = [m * n for m, n in zip(out_shape, in_shape, strict=True)]
    total = math.prod(pairs)
    inside = [math.prod(pairs[node.start:node.stop]) for node in dimension_tree(len(pairs))]
    return tuple(min(size, total // size) for size in inside[:-1])


class HierarchicalTuckerMatrix(ModeMatrix):
    """A weight matrix in hierarchical Tucker format over its paired modes (Grasedyck 2010).

    ``rank`` gives the ranks of the 2d - 2 nodes below the root: one int for all, or a list in
    post-order (see the module docstring). The other arguments are :class:`ModeMatrix`'s.
    """

    @property
    def nodes(self) -> tuple[Node, ...]:
        """The dimension tree over the d modes, in post-order."""
        return dimension_tree(len(self.out_shape))

    @classmethod
    def check_rank(cls, rank: Rank, out_shape: Modes, in_shape: Modes,
                   **options: int | None) -> Modes:
        """Checked ranks of the 2d - 2 nodes below the root, in post-order."""
        sizes = describe(out_shape, in_shape)
        limits = ht_max_ranks(out_shape, in_shape)
        try:
            ranks = parse_ranks(rank, len(limits), "a hierarchical Tucker matrix", sizes)
            check_ranks(ranks, limits, "HT rank", sizes)
        except FormatError as err:
            nodes = ", ".join(node.label for node in dimension_tree(len(out_shape))[:-1])
            raise FormatError(f"{err} (one per node {nodes} of the tree "
                              f"{describe_tree(len(out_shape))})") from None
        return ranks

    @classmethod
    def rank_limits(cls, out_shape: Modes, in_shape: Modes) -> Modes:
        return ht_max_ranks(out_shape, in_shape)

    @staticmethod
    def product_equation(order: int) -> str:
        return _equations(order)[0]

    def factor_shapes(self) -> list[Modes]:
        """(m_k, n_k, r_k) of every leaf in mode order, then (r_t1, r_t2, r_t) of every inner
        node in post-order (the root's r_t is 1)."""
        ranks = (*self.ranks, 1)  # the root's rank is 1
        leaves: list[Modes] = []
        transfers: list[Modes] = []
        for node, rank in zip(self.nodes, ranks, strict=True):
            if node.children is None:
                leaves.append((self.out_shape[node.start], self.in_shape[node.start], rank))
            else:
                left, right = node.children
                transfers.append((ranks[left], ranks[right], rank))
        return leaves + transfers

    def _initial_factors(self, std: float) -> list[Tensor]:
        factors = [_orthonormal(a * b, r).reshape(a, b, r) for a, b, r in self.factor_shapes()]
        root = factors[-1]  # the last transfer, or the single leaf when d = 1
        root.normal_()
        root.mul_(std * math.sqrt(self.numel / float(_norm_squared(factors, self.nodes))))
        return factors

    @classmethod
    def _fit(cls, weight: Tensor, out_shape: Modes, in_shape: Modes,
             ranks: Modes) -> list[Tensor]:
        """HT-SVD (Grasedyck 2010, Algorithm 1), leaves then transfers."""
        nodes = dimension_tree(len(out_shape))
        tensor = pair_modes(weight.to("cpu", torch.float64), out_shape, in_shape)
        frames = [_leading_vectors(tensor, node, r)  # (P_t, r_t) for the nodes below the root
                  for node, r in zip(nodes[:-1], ranks, strict=True)]
        frames.append(tensor.reshape(-1, 1))  # the root's "frame": vec(W), one column
        leaves, transfers = [], []
        for node, frame in zip(nodes, frames, strict=True):
            if node.children is None:  # (m_k n_k, r_k) as (m_k, n_k, r_k)
                leaves.append(frame.reshape(out_shape[node.start], in_shape[node.start], -1))
            else:
                left, right = (frames[child] for child in node.children)
                split = frame.reshape(left.shape[0], right.shape[0], -1)  # (P_t1, P_t2, r_t)
                transfers.append(torch.einsum("pa,qb,pqs->abs", left, right, split))
        return leaves + transfers

    def _hold(self, factors: list[Tensor]) -> None:
        count = len(self.out_shape)  # d leaves, then d - 1 transfers
        self.leaves = nn.ParameterList(nn.Parameter(leaf) for leaf in factors[:count])
        self.transfers = nn.ParameterList(nn.Parameter(t) for t in factors[count:])

    def to_dense(self) -> Tensor:
        dense = contract(_equations(len(self.out_shape))[1], *self._operands())
        return dense.reshape(self.out_features, self.in_features)  # (m_1..m_d, n_1..n_d) -> W

    def flops_to_dense(self) -> int:
        return count_macs(_equations(len(self.out_shape))[1], self._operand_shapes())

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tree={describe_tree(len(self.out_shape))}"

    def _operands(self) -> list[Tensor]:
        """Leaves, then transfer tensors, the root's without its last index (of size 1)."""
        operands = [*self.leaves, *self.transfers]
        return [*operands[:-1], operands[-1][..., 0]]

    def _operand_shapes(self) -> list[Modes]:
        shapes = self.factor_shapes()
        return [*shapes[:-1], shapes[-1][:-1]]


def _norm_squared(factors: list[Tensor], nodes: tuple[Node, ...]) -> Tensor:
    """||W||_F^2 from the Gram matrices G_t = F_t^T F_t of the frames, never forming W.

    ``factors``: the leaves, then the transfers, as :meth:`HierarchicalTuckerMatrix.factor_shapes`.
    """
    grams: list[Tensor] = []
    leaves = iter(factors[: (len(nodes) + 1) // 2])
    transfers = iter(factors[(len(nodes) + 1) // 2:])
    for node in nodes:
        if node.children is None:
            leaf = next(leaves)
            flat = leaf.reshape(-1, leaf.shape[-1])  # (m n, r)
            grams.append(flat.T @ flat)
        else:
            left, right = (grams[child] for child in node.children)
            transfer = next(transfers)
            flat = transfer.reshape(-1, transfer.shape[-1])  # (r_t1 r_t2, r_t)
            grams.append(flat.T @ torch.kron(left, right) @ flat)  # B^T (G_1 (x) G_2) B
    return grams[-1].sum()  # the root's G is 1 x 1


def describe_tree(order: int) -> str:
    """The dimension tree over ``order`` modes, 1-based: 3 -> "((1, 2), 3)"."""
    nodes = dimension_tree(order)

    def show(index: int) -> str:
        node = nodes[index]
        if node.children is None:
            return str(node.start + 1)
        left, right = node.children
        return f"({show(left)}, {show(right)})"

    return show(len(nodes) - 1)


def _orthonormal(rows: int, cols: int) -> Tensor:
    """(rows, cols) with orthonormal columns, or orthonormal rows when cols > rows."""
    if cols > rows:
        return _orthonormal(cols, rows).T.contiguous()
    q, _ = torch.linalg.qr(torch.randn(rows, cols))
    return q


def _leading_vectors(tensor: Tensor, node: Node, rank: int) -> Tensor:
    """(P_t, r_t): the leading left singular vectors of ``tensor``'s matricisation at ``node``."""
    before = math.prod(tensor.shape[:node.start])
    inside = math.prod(tensor.shape[node.start:node.stop])
    unfolding = tensor.reshape(before, inside, -1).transpose(0, 1).reshape(inside, -1)
    vectors, _, _ = torch.linalg.svd(unfolding, full_matrices=False)
    return vectors[:, :rank]


@cache
def _equations(order: int) -> tuple[str, str]:
    """The einsum equations of matmul (x, leaves, transfers -> y) and of to_dense."""
    nodes = dimension_tree(order)
    outs, ins = symbols(order), symbols(order, order)
    bonds = [*symbols(len(nodes) - 1, 2 * order), ""]  # the root's index (size 1) is dropped
    batch = symbols(1, 2 * order + len(nodes) - 1)[0]
    leaves = [outs[n.start] + ins[n.start] + bonds[t] for t, n in enumerate(nodes)
              if n.children is None]
    transfers = [bonds[n.children[0]] + bonds[n.children[1]] + bonds[t]
                 for t, n in enumerate(nodes) if n.children is not None]
    operands = ",".join(leaves + transfers)
    matmul = f"{batch}{''.join(ins)},{operands}->{batch}{''.join(outs)}"
    return matmul, f"{operands}->{''.join(outs)}{''.join(ins)}"
