"""Toeplitz-like format: W = sum_i Z_1(g_i) Z_{-1}(h_i), displacement rank r, products by FFT.

Z_f(v) is the f-circulant matrix whose first column is v: Z_f(v)[a, b] = v[a - b] for a >= b
and f v[n + a - b] for a < b (f = 1 circulant, f = -1 skew-circulant); Z_f = Z_f(e_2) is the
f-cyclic down-shift. An n x n matrix T is Toeplitz-like of displacement rank r when its
displacement L(T) = Z_1 T - T Z_{-1} has rank r (L is invertible: the spectra of Z_1 and Z_{-1},
the n-th roots of 1 and of -1, are disjoint; so every matrix has rank <= n, a Toeplitz matrix
rank <= 2). From L(T) = G H^T, Sindhwani et al. (2015) write T = 1/2 sum_i Z_1(g_i) Z_{-1}(J h_i),
J the reversal. This module stores the generators of that product form directly::

    W = sum_{i=1..r} Z_1(g_i) Z_{-1}(h_i),        L(W) = 2 sum_i g_i (J h_i)^T,

(the identity holds since Z_1 - Z_{-1} = 2 e_1 e_n^T and each factor commutes with its shift),
so their h_i is our 2 J h_i; the 1/2 is applied in ``from_dense``.

Layout of an M x N matrix: one square Toeplitz-like block of size n = max(M, N), of which W is
the top-left M x N corner (the input is zero-padded from N to n, the output cropped from n to M).
Parameters: G and H of shape (r, n), exactly 2 r max(M, N); valid ranks 1 .. max(M, N). A GRU's
3H x H and 3H x I matrices are one 3H x 3H and one max(3H, I) block: the same count as a grid of
H x H blocks for 3H x H, fewer for 3H x I when I is not a multiple of the block, and a single
FFT length and meaning of the rank per matrix.

Products: with w = exp(i pi / n), D = diag(w^k) and F the DFT, Z_1(g) = F^-1 diag(F g) F and
Z_{-1}(h) = D^-1 F^-1 diag(F D h) F D (the scaled DFT diagonalises Z_{-1}). ``x @ W.T`` takes
2 r + 2 FFTs of length n per row: one of D x, r inverse ones (the skew-circulant products), r real
ones of those and one inverse real FFT of the sum, O(r n log n); ``product()`` keeps the spectra
of the generators. ``to_dense`` uses the same factorisation, W = F^-1 (C * Ghat^T Hhat) F D, with
Ghat = F G^T, Hhat = F D H^T (as rows) and C = F D^-1 F^-1 the circulant Cauchy-like matrix
C[j, k] = 2 / (n (1 - exp(i pi (2 (k - j) - 1) / n))): an r n^2 product and two FFT sweeps.

Initialisation: generator entries are drawn from N(0, s^2). W[a, b] sums, over i and k,
g_i[(a - k) mod n] * (+-h_i[(k - b) mod n]): r n products of independent pairs, with distinct
indices for distinct (i, k), hence uncorrelated. Every entry has variance r n s^4, and
s = (init_std^2 / (r n))^(1/4) makes it ``init_std**2``.

``from_dense`` (float64) starts from the truncated SVD of the displacement of W zero-padded to
n x n, L = P S Q^T: g_i = sqrt(s_i / 2) p_i, h_i = sqrt(s_i / 2) J q_i, the best rank-r
approximation of L (Eckart-Young), exact when the padded W has displacement rank <= r (a
Toeplitz-like W of that rank; any W at r = n). That is not the best fit of W: in the spectral
basis V = F W D^-1 F^-1 = C * (Ghat^T Hhat) (a unitary change of basis up to scale, so errors of V
are errors of W), the displacement is 2/n Ghat^T Hhat times a unit-modulus scaling of its
columns, and |C| weighs its entries by 1/n to about 2/pi; the plain SVD ignores those weights,
and its error in W can exceed that of W = 0. Alternating weighted least squares on the rows of
Ghat^T and Hhat^T (one r x r system per frequency; the real generators are read back by inverse
FFT) then lowers ||W_fit - W|| at every sweep, the part of the square block outside the M x N
corner filled in with the current fit (expectation-maximisation), until a sweep gains less than
``FIT_TOLERANCE``: about 0.1 s for 24 x 30 and 6 s for 768 x 256 at r = 8 on one CPU thread.
The result is a local optimum of a weighted low-rank problem that has no closed form.

References:
    V. Sindhwani, T. N. Sainath, S. Kumar, "Structured transforms for small-footprint deep
    learning", NeurIPS 2015.
    Z. Lu, V. Sindhwani, T. N. Sainath, "Learning compact recurrent neural networks",
    ICASSP 2016.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from deepspeech_tt.tensor.base import (
    FactorizedMatrix,
    FormatError,
    Rank,
    Shape,
    matrix_size,
    resolve_init_std,
)
from deepspeech_tt.tensor.shapes import check_shape, parse_ranks

FIT_SWEEPS = 30  # alternating least-squares sweeps of ``from_dense``, at most
FIT_TOLERANCE = 1e-4  # stop once a sweep lowers the squared error by less than this fraction


class ToeplitzLikeMatrix(FactorizedMatrix):
    """A weight matrix as the corner of a Toeplitz-like matrix (Sindhwani et al. 2015).

    Args:
        out_features: M, the number of rows (outputs).
        in_features: N, the number of columns (inputs).
        rank: r, the displacement rank (an int or a one-element list), 1 to max(M, N).
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
        self.size = max(out_features, in_features)  # n, the side of the square block
        (self.rank,) = parse_ranks(rank, 1, "a Toeplitz-like matrix", sizes)
        if self.rank > self.size:
            raise FormatError(
                f"{sizes}: displacement rank {self.rank} is too large; its {self.size} x "
                f"{self.size} Toeplitz-like block takes displacement ranks 1 to {self.size}"
            )
        std = resolve_init_std(init_std, in_features)
        generator_std = (std**2 / (self.rank * self.size)) ** 0.25
        self.g = nn.Parameter(torch.randn(self.rank, self.size) * generator_std)  # (r, n)
        self.h = nn.Parameter(torch.randn(self.rank, self.size) * generator_std)  # (r, n)

    @classmethod
    def from_dense(
        cls, weight: Tensor, rank: Rank, *, out_shape: Shape = None, in_shape: Shape = None
    ) -> ToeplitzLikeMatrix:
        """Generators fitted to ``weight`` (M, N) by :func:`fit_generators`, in its dtype/device."""
        rows, cols = matrix_size(weight)
        matrix = cls(rows, cols, rank, out_shape=out_shape, in_shape=in_shape)
        g, h = fit_generators(weight.detach().to(torch.float64), matrix.rank)  # (r, n) each
        matrix.g, matrix.h = nn.Parameter(g.to(weight.dtype)), nn.Parameter(h.to(weight.dtype))
        return matrix

    @classmethod
    def max_rank(cls, out_features: int, in_features: int, *, out_shape: Shape = None,
                 in_shape: Shape = None) -> Rank:
        """max(M, N): every square block has displacement rank at most its size."""
        return max(out_features, in_features)

    def to_dense(self) -> Tensor:
        return _assemble(self.g, self.h, self.out_features, self.in_features)

    def matmul(self, x: Tensor) -> Tensor:
        flat = self._flatten_input(x)  # (B, N)
        return self.product()(flat).reshape(*x.shape[:-1], self.out_features)

    def product(self) -> Callable[[Tensor], Tensor]:
        n, rows = self.size, self.out_features
        twist = _twist(n, self.g)  # (n,)
        g_hat = torch.fft.rfft(self.g)  # (r, n // 2 + 1): circulant spectra
        h_hat = torch.fft.fft(self.h * twist)  # (r, n): skew-circulant spectra

        def apply(x: Tensor) -> Tensor:
            x_hat = torch.fft.fft(x * twist[: x.shape[-1]], n=n)  # (B, n), zero-padded
            skew = torch.fft.ifft(x_hat[:, None, :] * h_hat) * twist.conj()  # (B, r, n)
            summed = (torch.fft.rfft(skew.real) * g_hat).sum(dim=1)  # (B, n // 2 + 1)
            return torch.fft.irfft(summed, n=n)[:, :rows]  # (B, M)

        return apply

    def flops_matmul(self, batch: int) -> int:
        """Multiply-adds of ``batch`` rows; FFTs counted by :func:`fft_macs`.

        The generators' spectra (r FFT pairs per call, independent of the batch) are left out:
        ``product()`` computes them once for every step, as other formats arrange their factors
        once.
        """
        n, r = self.size, self.rank
        per_row = (
            2 * n + fft_macs(n)  # twist and transform the padded input
            + r * (4 * n + fft_macs(n) + 2 * n)  # times Hhat_i, back, untwist the real part
            + r * (fft_macs(n, real=True) + 4 * (n // 2 + 1))  # to Z_1's basis, times Ghat_i
            + fft_macs(n, real=True)  # the sum back
        )
        return batch * per_row

    def flops_to_dense(self) -> int:
        n, r, rows, cols = self.size, self.rank, self.out_features, self.in_features
        spectra = r * (2 * fft_macs(n) + 2 * n)
        cauchy = 4 * r * n * n + 4 * n * n  # Ghat^T Hhat (complex) and the product with C
        sweeps = (n + rows) * fft_macs(n)  # inverse FFTs of n columns, FFTs of M rows
        return spectra + cauchy + sweeps + 2 * rows * cols

    def extra_repr(self) -> str:
        return (
            f"out_features={self.out_features}, in_features={self.in_features}, "
            f"rank={self.rank}, block={self.size}"
        )


def fit_generators(weight: Tensor, rank: int) -> tuple[Tensor, Tensor]:
    """Generators g, h (r, n) fitted to ``weight`` (M, N) at displacement rank r.

    Starts from the truncated SVD of the zero-padded displacement, then runs alternating
    weighted least squares on the spectra (module docstring), filling the part of the square
    block outside W with the current fit, until a sweep lowers the squared error by less than
    ``FIT_TOLERANCE`` of it (at most ``FIT_SWEEPS`` sweeps). Every sweep lowers the error.
    """
    rows, cols = weight.shape
    n = max(rows, cols)
    filled = weight.new_zeros(n, n)
    filled[:rows, :cols] = weight
    p, s, qt = torch.linalg.svd(displacement(filled))
    scale = (s[:rank] / 2).sqrt()[:, None]
    g, h = scale * p[:, :rank].T, scale * qt[:rank].flip(-1)  # (r, n): h_i = J q_i
    twist = _twist(n, weight)
    cauchy = _cauchy(n, twist.dtype, weight.device)
    weights = cauchy.abs() ** 2  # (n, n): W's squared error, entry by entry of the spectra
    square = _assemble(g, h, n, n)
    error = float((square[:rows, :cols] - weight).square().sum())
    floor = 1e-24 * float(weight.square().sum())
    for _ in range(FIT_SWEEPS if error > floor else 0):
        filled = square.detach().clone()
        filled[:rows, :cols] = weight
        spectra = torch.fft.fft(torch.fft.ifft(filled * twist.conj(), dim=1), dim=0) / cauchy
        g_hat = _weighted_rows(spectra, weights, torch.fft.fft(h * twist).T)  # (n, r)
        g = torch.fft.ifft(g_hat.T).real  # (r, n)
        h_hat = _weighted_rows(spectra.T, weights.T, torch.fft.fft(g).T)  # (n, r)
        h = (torch.fft.ifft(h_hat.T) * twist.conj()).real  # (r, n)
        square = _assemble(g, h, n, n)
        previous, error = error, float((square[:rows, :cols] - weight).square().sum())
        if previous - error <= FIT_TOLERANCE * previous or error <= floor:
            break
    return g, h


def _weighted_rows(targets: Tensor, weights: Tensor, basis: Tensor) -> Tensor:
    """x (J, r) minimising sum_k weights[j, k] |targets[j, k] - basis[k] . x[j]|^2, every j.

    Args:
        targets: (J, K) complex values to fit.
        weights: (J, K) non-negative weights.
        basis: (K, r) complex.
    """
    size, r = basis.shape
    outer = (basis.conj()[:, :, None] * basis[:, None, :]).reshape(size, r * r)  # (K, r^2)
    gram = (weights.to(basis.dtype) @ outer).reshape(-1, r, r)  # (J, r, r)
    rhs = (weights * targets) @ basis.conj()  # (J, r)
    diagonal = gram.diagonal(dim1=-2, dim2=-1).real.mean(-1)  # (J,)
    ridge = 1e-12 * diagonal.clamp_min(1e-300)[:, None, None] * torch.eye(r, device=basis.device)
    return torch.linalg.solve(gram + ridge, rhs[..., None])[..., 0]


def _assemble(g: Tensor, h: Tensor, rows: int, cols: int) -> Tensor:
    """The top-left (rows, cols) corner of sum_i Z_1(g_i) Z_{-1}(h_i), for g, h (r, n)."""
    n = g.shape[-1]
    twist = _twist(n, g)  # (n,) w^k
    g_hat = torch.fft.fft(g)  # (r, n)
    h_hat = torch.fft.fft(h * twist)  # (r, n)
    spectral = _cauchy(n, twist.dtype, g.device) * (g_hat.T @ h_hat)  # (n, n)
    left = torch.fft.ifft(spectral, dim=0)[:rows]  # (M, n): rows of F^-1 (C * Ghat^T Hhat)
    return (torch.fft.fft(left, dim=1)[:, :cols] * twist[:cols]).real  # (M, N)


def displacement(weight: Tensor) -> Tensor:
    """L(W) = Z_1 W - W Z_{-1} of a square W (n, n): rows shifted down, columns left."""
    shifted_rows = torch.roll(weight, 1, dims=0)  # Z_1 W
    shifted_cols = torch.cat([weight[:, 1:], -weight[:, :1]], dim=1)  # W Z_{-1}
    return shifted_rows - shifted_cols


def fft_macs(n: int, real: bool = False) -> int:
    """Real multiply-adds of an FFT of length n: (n/2) log2 n butterflies of one complex
    multiply (4 real) each; a real-input FFT does half. An estimate for lengths that are not
    powers of two (log2 rounded up)."""
    macs = 2 * n * max(1, math.ceil(math.log2(n))) if n > 1 else 1
    return max(1, macs // 2) if real else macs


def _twist(n: int, like: Tensor) -> Tensor:
    """(n,) w^k, w = exp(i pi / n): D, the scaling that lets the DFT diagonalise Z_{-1}."""
    angles = torch.arange(n, dtype=torch.float64, device=like.device) * (math.pi / n)
    return torch.polar(torch.ones_like(angles), angles).to(_complex(like.dtype))


def _cauchy(n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """(n, n) C = F D^-1 F^-1: C[j, k] = 2 / (n (1 - exp(i pi (2 (k - j) - 1) / n)))."""
    offsets = torch.arange(n, dtype=torch.float64, device=device)
    angles = (2 * offsets - 1) * (math.pi / n)  # C is circulant: one value per (k - j) mod n
    values = 2.0 / (n * (1 - torch.polar(torch.ones_like(angles), angles)))  # (n,)
    index = (torch.arange(n, device=device)[None, :] - torch.arange(n, device=device)[:, None]) % n
    return values.to(dtype)[index]


def _complex(dtype: torch.dtype) -> torch.dtype:
    """The complex dtype of a real one: complex64 for float32, complex128 for float64."""
    return torch.complex128 if dtype == torch.float64 else torch.complex64
