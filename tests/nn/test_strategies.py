"""The strategy registry: names checked everywhere, ``auto`` as the cheapest strategy that
supports the case, its known choices pinned, and a toy strategy (``conftest``) plugged in."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.nn import FactorizedGRU, FactorizedLinear, FactorizedLSTM
from deepspeech_tt.nn.runner import layer_case
from deepspeech_tt.nn.strategies import STRATEGIES
from tests.nn.conftest import Float64Strategy

UNKNOWN = r"unknown strategy 'fast'; choose one of \['auto', 'reconstruct', 'contract'\]"


@pytest.mark.parametrize(
    ("layer", "sizes", "rank", "batch", "training", "expected"),
    [
        (FactorizedGRU, 1024, 8, 1, False, "contract"),  # inference at batch 1
        (FactorizedGRU, 1024, 8, 1, True, "contract"),
        (FactorizedGRU, 1024, 8, 8, False, "reconstruct"),
        (FactorizedGRU, 1024, 8, 32, True, "reconstruct"),  # training
        (FactorizedGRU, 1024, 32, 1, False, "reconstruct"),  # a larger rank
        (FactorizedLSTM, 1024, 8, 1, False, "contract"),
        (FactorizedLSTM, 1024, 8, 4, False, "reconstruct"),
    ],
)
def test_auto_keeps_its_known_choices_for_tt_layers(
    layer: type[FactorizedGRU], sizes: int, rank: int, batch: int, training: bool,
    expected: str,
) -> None:
    rnn = layer(sizes, sizes, bidirectional=True, format="tt", rank=rank)
    assert rnn.plan(batch, 200, training=training) == (expected,)


def test_auto_keeps_the_batch_at_which_a_linear_layer_stops_contracting() -> None:
    layer = FactorizedLinear(1024, 3072, format="tt", rank=8)
    assert layer.switch_batch == 44
    assert "auto: contract below batch 44, else reconstruct" in repr(layer)


def test_an_unknown_strategy_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=UNKNOWN):
        FactorizedGRU(8, 4, format="tt", rank=2, strategy="fast")
    with pytest.raises(ValueError, match=UNKNOWN):
        FactorizedLSTM(8, 4, num_layers=2, format="tt", rank=2, strategy=["auto", "fast"])
    with pytest.raises(ValueError, match=UNKNOWN):
        FactorizedLinear(8, 4, strategy="fast")


def test_a_strategy_is_accepted_by_name_only_while_registered(
    float64_strategy: Float64Strategy,
) -> None:
    rnn = FactorizedGRU(8, 16, num_layers=2, format="tt", rank=2, strategy=["float64", "auto"])
    rnn(torch.randn(3, 2, 8))
    assert rnn.last_plan is not None and rnn.last_plan[2][0] == "float64"
    assert "strategy=float64" in repr(rnn)
    linear = FactorizedLinear(8, 16, format="tt", rank=2, strategy="float64")
    torch.testing.assert_close(linear(torch.eye(8)), linear.weight.to_dense().T + linear.bias)
    del STRATEGIES["float64"]
    with pytest.raises(ValueError, match="unknown strategy 'float64'"):
        FactorizedGRU(8, 16, format="tt", rank=2, strategy="float64")
    STRATEGIES["float64"] = float64_strategy  # for the fixture to remove


def test_auto_picks_a_registered_strategy_when_it_is_cheapest(
    float64_strategy: Float64Strategy,
) -> None:
    rnn = FactorizedGRU(64, 64, bidirectional=True, format="tt", rank=4)
    before = rnn.plan(4, 50, training=True)
    float64_strategy.seconds = 0.0
    assert rnn.plan(4, 50, training=True) == ("float64",)
    rnn(torch.randn(50, 4, 64))
    assert "auto -> float64 (last call: batch 4, 50 steps)" in repr(rnn)
    float64_strategy.seconds = float("inf")
    assert rnn.plan(4, 50, training=True) == before


def test_auto_never_picks_a_strategy_that_does_not_support_the_case(
    float64_strategy: Float64Strategy,
) -> None:
    float64_strategy.seconds, float64_strategy.formats = 0.0, frozenset({"lowrank"})
    tt = FactorizedGRU(64, 64, format="tt", rank=4)
    assert tt.plan(1, 50, training=False) != ("float64",)
    assert FactorizedGRU(64, 64, format="lowrank", rank=4).plan(1, 50, training=False) == (
        "float64",
    )
    assert FactorizedLinear(64, 96, format="tt", rank=4).plan(1).name != "float64"
    tt.set_strategy("float64")
    with pytest.raises(ValueError, match="strategy 'float64' does not support .* formats tt/tt"):
        tt(torch.randn(5, 1, 64))


def test_auto_breaks_ties_in_registry_order(float64_strategy: Float64Strategy) -> None:
    rnn = FactorizedGRU(64, 64, format="tt", rank=4)
    case = layer_case(rnn, 0, 2, 30, training=False)
    float64_strategy.seconds = min(s.cost(case) for name, s in STRATEGIES.items()
                                   if name != "float64")
    assert rnn.plan(2, 30, training=False) != ("float64",)  # an earlier one costs as much
    float64_strategy.seconds = float64_strategy.seconds * (1 - 1e-9)
    assert rnn.plan(2, 30, training=False) == ("float64",)
