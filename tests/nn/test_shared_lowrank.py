"""SharedLowRankInput: W = U V_c on the lower layer's V factors (Lu, Sindhwani, Sainath 2016)."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.nn.shared_lowrank import SharedLowRankInput
from deepspeech_tt.tensor.base import FormatError
from deepspeech_tt.tensor.lowrank import LowRankMatrix


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _sources(directions: int) -> list[LowRankMatrix]:
    """Hidden-to-hidden matrices of a lower layer: 12 x 4 (G = 3, H = 4), rank 2, float64."""
    return [LowRankMatrix(12, 4, 2).double() for _ in range(directions)]


@pytest.mark.parametrize(("directions", "merge", "in_features"),
                         [(1, "concat", 4), (2, "concat", 8), (2, "sum", 4)])
def test_product_and_dense_are_u_times_the_combined_v(
    directions: int, merge: str, in_features: int
) -> None:
    sources = _sources(directions)
    matrix = SharedLowRankInput(12, sources, merge, init_std=0.1)
    vs = [s.v for s in sources]
    combined = torch.block_diag(*vs) if merge == "concat" else torch.cat(vs)
    assert matrix.shape == (12, in_features)
    torch.testing.assert_close(matrix.to_dense(), matrix.u @ combined)
    x = torch.randn(5, 3, in_features, dtype=torch.double)
    torch.testing.assert_close(matrix.matmul(x), x @ matrix.to_dense().T)


def test_v_is_the_lower_layers_and_counted_there_only() -> None:
    sources = _sources(2)
    matrix = SharedLowRankInput(12, sources, "concat", init_std=0.1)
    assert [name for name, _ in matrix.named_parameters()] == ["u"]
    assert matrix.num_parameters() == 12 * 4  # U: G H x D r
    before = matrix.to_dense().detach().clone()
    with torch.no_grad():
        sources[1].v.add_(1.0)  # a change of the lower layer's V is seen by the upper matrix
    after = matrix.to_dense()
    torch.testing.assert_close(after[:, :4], before[:, :4])
    assert not torch.allclose(after[:, 4:], before[:, 4:])


def test_initial_std_is_init_std() -> None:
    sources = [LowRankMatrix(768, 256, 16) for _ in range(2)]
    matrix = SharedLowRankInput(768, sources, "sum", init_std=0.05)
    assert abs(float(matrix.to_dense().detach().std()) / 0.05 - 1.0) < 0.05


def test_cannot_be_fitted_alone() -> None:
    with pytest.raises(FormatError, match="fitted together with the layer below"):
        SharedLowRankInput.from_dense(torch.randn(12, 4), 2)
