"""A format registered from outside the package gets the whole format-level suite.

``DiagonalPlusLowRankMatrix`` is a toy format (W = D + U V, D diagonal) defined here and
registered only for the duration of one test; the tensor tests are then collected and run
again, on it alone, and must all pass: every parametrised test found it in the registry.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from deepspeech_tt.tensor.base import FactorizedMatrix, Rank, Shape, matrix_size, resolve_init_std
from deepspeech_tt.tensor.registry import FORMATS, get_format
from deepspeech_tt.tensor.shapes import check_ranks, check_shape, parse_ranks

TOY = "diag_lowrank"  # no test name contains it, so ``-k TOY`` selects the toy's cases only


class DiagonalPlusLowRankMatrix(FactorizedMatrix):
    """W = D + U V: D zero but for its main diagonal d, U (M, r), V (r, N); U V as low rank's."""

    def __init__(
        self, out_features: int, in_features: int, rank: Rank, *, out_shape: Shape = None,
        in_shape: Shape = None, init_std: float | None = None,
    ) -> None:
        super().__init__(out_features, in_features)
        sizes = f"{out_features} x {in_features} matrix"
        check_shape("out_shape", out_shape, out_features, sizes)
        check_shape("in_shape", in_shape, in_features, sizes)
        (self.rank,) = parse_ranks(rank, 1, "a diagonal-plus-low-rank matrix", sizes)
        check_ranks([self.rank], [self.max_rank(out_features, in_features)], "low rank", sizes)
        factor_std = (resolve_init_std(init_std, in_features) ** 2 / self.rank) ** 0.25
        self.d = nn.Parameter(torch.zeros(min(out_features, in_features)))  # D starts at zero
        self.u = nn.Parameter(torch.randn(out_features, self.rank) * factor_std)
        self.v = nn.Parameter(torch.randn(self.rank, in_features) * factor_std)

    @classmethod
    def from_dense(cls, weight: Tensor, rank: Rank, *, out_shape: Shape = None,
                   in_shape: Shape = None) -> DiagonalPlusLowRankMatrix:
        matrix = cls(*matrix_size(weight), rank, out_shape=out_shape, in_shape=in_shape)
        diagonal = torch.diagonal(weight.detach())
        rest = weight.detach().to(torch.float64).clone()
        rest.diagonal().zero_()
        p, s, qt = torch.linalg.svd(rest, full_matrices=False)
        root = s[: matrix.rank].sqrt()
        matrix.d = nn.Parameter(diagonal.clone())
        matrix.u = nn.Parameter((p[:, : matrix.rank] * root).to(weight.dtype))
        matrix.v = nn.Parameter((root[:, None] * qt[: matrix.rank]).to(weight.dtype))
        return matrix

    @classmethod
    def max_rank(cls, out_features: int, in_features: int, *, out_shape: Shape = None,
                 in_shape: Shape = None) -> Rank:
        return min(out_features, in_features)

    def to_dense(self) -> Tensor:
        low_rank = self.u @ self.v  # (M, N)
        return low_rank + torch.diagonal_scatter(torch.zeros_like(low_rank), self.d)

    def matmul(self, x: Tensor) -> Tensor:
        flat = self._flatten_input(x)  # (B, N)
        y = (flat @ self.v.T) @ self.u.T  # (B, M)
        k = self.d.shape[0]
        y = torch.cat([y[:, :k] + flat[:, :k] * self.d, y[:, k:]], dim=1)
        return y.reshape(*x.shape[:-1], self.out_features)

    def flops_matmul(self, batch: int) -> int:
        return batch * (self.rank * (self.out_features + self.in_features) + self.d.shape[0])

    def flops_to_dense(self) -> int:
        return self.out_features * self.in_features * self.rank


class Outcomes:
    """A pytest plugin that keeps the outcome of every test it sees run."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.passed.append(report.nodeid)
        elif report.failed or report.skipped:
            self.failed.append(report.nodeid)


def test_the_tensor_suite_runs_on_a_format_registered_from_a_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if TOY in FORMATS:
        pytest.skip("already inside the run on the toy format")
    outcomes = Outcomes()
    with monkeypatch.context() as patch:
        patch.setitem(FORMATS, TOY, DiagonalPlusLowRankMatrix)
        assert get_format(TOY) is DiagonalPlusLowRankMatrix
        code = pytest.main([str(Path(__file__).parent), "-q", "-k", TOY, "-p", "no:cacheprovider",
                            "-p", "no:randomly"], plugins=[outcomes])
    assert TOY not in FORMATS  # removed again: no other test sees it
    assert code == pytest.ExitCode.OK and not outcomes.failed, outcomes.failed
    ran = {nodeid.split("::")[1].split("[")[0] for nodeid in outcomes.passed}
    assert {
        "test_matmul_equals_dense_product", "test_from_dense_at_full_rank_gives_the_matrix_back",
        "test_truncation_error_falls_as_rank_grows", "test_gradcheck",
        "test_reconstruction_has_the_requested_std", "test_default_std_is_that_of_nn_linear",
        "test_one_above_the_largest_rank_is_refused", "test_input_of_the_wrong_size",
        "test_prepared_product_equals_matmul_with_gradients",
    } <= ran, sorted(ran)
