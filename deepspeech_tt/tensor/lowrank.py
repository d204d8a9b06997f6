"""Low-rank format: W = U V.

W (M x N) is the product of U (M x r) and V (r x N): r (M + N) parameters, r <= min(M, N).
The factor shapes are accepted for a uniform interface and only checked: the format does not
split modes. ``x @ W.T`` is computed as ``(x @ V.T) @ U.T``, r (M + N) multiply-adds a row.

Initialisation: U and V entries are drawn from N(0, s^2); an entry of W sums r products of two
of them, so its variance is r s^4, and s makes that ``init_std**2``.

``from_dense`` truncates the SVD W = P S Q^T (``torch.linalg.svd`` in float64) and splits the
singular values evenly, U = P_r S_r^{1/2}, V = S_r^{1/2} Q_r^T: the best rank-r approximation
(Eckart-Young), exact at r = min(M, N).

References:
    Z. Lu, V. Sindhwani, T. N. Sainath, "Learning compact recurrent neural networks",
    ICASSP 2016.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deepspeech_tt.tensor.base import FactorizedMatrix, Rank, Shape, matrix_size, resolve_init_std
from deepspeech_tt.tensor.shapes import check_ranks, check_shape, parse_ranks


class LowRankMatrix(FactorizedMatrix):
    """A weight matrix as a product of two thin matrices (Lu, Sindhwani and Sainath 2016).

    Args:
        out_features: M, the number of rows (outputs).
        in_features: N, the number of columns (inputs).
        rank: r, the inner size (an int or a one-element list).
        out_shape: checked against M if given, otherwise unused.
        in_shape: checked against N if given, otherwise unused.
        init_std: standard deviation of the initial W; None for ``nn.Linear``'s, 1/sqrt(3N).
    """

    def __init__(
        self, out_features: int, in_features: int, rank: Rank, *, out_shape: Shape = None,
        in_shape: Shape = None, init_std: float | None = None,
    ) -> None:
        super().__init__(out_features, in_features)
        sizes = f"{out_features} x {in_features} matrix"
        check_shape("out_shape", out_shape, out_features, sizes)
        check_shape("in_shape", in_shape, in_features, sizes)
        (self.rank,) = parse_ranks(rank, 1, "a low-rank matrix", sizes)
        check_ranks([self.rank], [min(out_features, in_features)], "low rank", sizes)
        std = resolve_init_std(init_std, in_features)
        factor_std = (std**2 / self.rank) ** 0.25
        self.u = nn.Parameter(torch.randn(out_features, self.rank) * factor_std)
        self.v = nn.Parameter(torch.randn(self.rank, in_features) * factor_std)

    @classmethod
    def from_dense(
        cls, weight: Tensor, rank: Rank, *, out_shape: Shape = None, in_shape: Shape = None
    ) -> LowRankMatrix:
        """The best rank-r approximation of ``weight`` (M, N), in its dtype and on its device."""
        rows, cols = matrix_size(weight)
        matrix = cls(rows, cols, rank, out_shape=out_shape, in_shape=in_shape)
        p, s, qt = torch.linalg.svd(weight.detach().to(torch.float64), full_matrices=False)
        root = s[: matrix.rank].sqrt()
        u = p[:, : matrix.rank] * root  # (M, r)
        v = root[:, None] * qt[: matrix.rank]  # (r, N)
        matrix.u = nn.Parameter(u.to(weight.dtype))
        matrix.v = nn.Parameter(v.to(weight.dtype))
        return matrix

    @classmethod
    def max_rank(cls, out_features: int, in_features: int, *, out_shape: Shape = None,
                 in_shape: Shape = None) -> Rank:
        """min(M, N): the rank of any W."""
        return min(out_features, in_features)

    def to_dense(self) -> Tensor:
        return self.u @ self.v

    def matmul(self, x: Tensor) -> Tensor:
        flat = self._flatten_input(x)  # (B, N)
        y = (flat @ self.v.T) @ self.u.T  # (B, r) then (B, M)
        return y.reshape(*x.shape[:-1], self.out_features)

    def flops_matmul(self, batch: int) -> int:
        return batch * self.rank * (self.out_features + self.in_features)

    def flops_to_dense(self) -> int:
        return self.out_features * self.in_features * self.rank

    def extra_repr(self) -> str:
        return f"out_features={self.out_features}, in_features={self.in_features}, rank={self.rank}"
