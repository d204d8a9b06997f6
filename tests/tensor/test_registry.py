"""A format registered from outside the package gets the whole format-level suite.

``DiagonalPlusLowRankMatrix`` is a toy format (W = D + U V, D diagonal) defined here and
registered only for the duration of one test; the tensor tests are then collected and run
again, on it alone, and must all pass: every parametrised test found it in the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from deepspeech_tt.tensor.base import Rank
from deepspeech_tt.tensor.lowrank import LowRankMatrix
from deepspeech_tt.tensor.registry import FORMATS, get_format

TOY = "diag_lowrank"  # no test name contains it, so ``-k TOY`` selects the toy's cases only


class DiagonalPlusLowRankMatrix(LowRankMatrix):
    """W = D + U V: low rank's U V plus D, zero but for its main diagonal d (zero at first)."""

    def __init__(self, out_features: int, in_features: int, rank: Rank, **shapes: Any) -> None:
        super().__init__(out_features, in_features, rank, **shapes)
        self.d = nn.Parameter(torch.zeros(min(out_features, in_features)))

    @classmethod
    def from_dense(cls, weight: Tensor, rank: Rank, **shapes: Any) -> LowRankMatrix:
        """d = W's diagonal, U V = the best rank-r fit of the rest."""
        rest = weight.detach().clone()
        rest.diagonal().zero_()
        matrix = super().from_dense(rest, rank, **shapes)
        matrix.d = nn.Parameter(weight.detach().diagonal().clone())
        return matrix

    def to_dense(self) -> Tensor:
        low_rank = super().to_dense()  # (M, N)
        return low_rank + torch.diagonal_scatter(torch.zeros_like(low_rank), self.d)

    def matmul(self, x: Tensor) -> Tensor:
        diagonal = x[..., : self.d.shape[0]] * self.d  # (..., min(M, N))
        padding = (0, self.out_features - self.d.shape[0])
        return super().matmul(x) + nn.functional.pad(diagonal, padding)

    def flops_matmul(self, batch: int) -> int:
        return super().flops_matmul(batch) + batch * self.d.shape[0]


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
