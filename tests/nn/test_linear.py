"""FactorizedLinear: compressing nn.Linear, and the two ways of running it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepspeech_tt.nn.linear import FactorizedLinear
from tests.tensor.helpers import ALL_FORMATS, FACTORIZED, IN_SHAPE, OUT_SHAPE, M, N, full_rank


def dense_linear(bias: bool = True) -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(N, M, bias=bias).double()


@pytest.mark.parametrize("name", ALL_FORMATS)
@pytest.mark.parametrize("strategy", ["reconstruct", "contract", "auto"])
def test_from_linear_at_full_rank_matches_nn_linear(name: str, strategy: str) -> None:
    linear = dense_linear()
    layer = FactorizedLinear.from_linear(
        linear, name, full_rank(name, OUT_SHAPE, IN_SHAPE), out_shape=OUT_SHAPE,
        in_shape=IN_SHAPE, strategy=strategy,
    )
    x = torch.randn(4, 7, N, dtype=torch.float64)  # (B, T, N)
    torch.testing.assert_close(layer(x), linear(x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", FACTORIZED)
@pytest.mark.parametrize("bias", [True, False])
def test_strategies_agree_on_outputs_and_gradients(name: str, bias: bool) -> None:
    layer = FactorizedLinear.from_linear(dense_linear(bias), name, 2, out_shape=OUT_SHAPE,
                                         in_shape=IN_SHAPE)
    x = torch.randn(5, N, dtype=torch.float64)
    results = {}
    for strategy in ("reconstruct", "contract"):
        layer.strategy = strategy
        x.grad = None
        layer.zero_grad()
        inputs = x.clone().requires_grad_()
        y = layer(inputs)
        (y * torch.linspace(-1, 1, M, dtype=torch.float64)).sum().backward()
        grads = [p.grad.clone() for p in layer.parameters()]  # type: ignore[union-attr]
        results[strategy] = (y.detach(), inputs.grad, grads)
    reconstructed, contracted = results["reconstruct"], results["contract"]
    torch.testing.assert_close(reconstructed[0], contracted[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(reconstructed[1], contracted[1], rtol=1e-12, atol=1e-12)
    for a, b in zip(reconstructed[2], contracted[2], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_auto_contracts_small_batches_and_reconstructs_large_ones() -> None:
    layer = FactorizedLinear(1024, 3072, format="tt", rank=8, strategy="auto")
    switch = layer.switch_batch
    assert 1 < switch < 10_000
    assert layer.plan(1).name == "contract" and layer.plan(switch - 1).name == "contract"
    assert layer.plan(switch).name == "reconstruct"
    assert layer.cost("reconstruct", switch) <= layer.cost("contract", switch)
    assert f"contract below batch {switch}, else reconstruct" in repr(layer)


def test_auto_on_a_dense_weight_always_reconstructs() -> None:
    layer = FactorizedLinear(64, 96, format="dense")
    assert layer.plan(1).name == "reconstruct"
    assert "reconstruct at every batch size" in repr(layer)


def test_fixed_strategy_is_shown_and_kept() -> None:
    layer = FactorizedLinear(64, 96, format="cp", rank=3, strategy="contract")
    assert layer.plan(1_000_000).name == "contract"
    assert "strategy='contract'" in repr(layer) and "format='cp'" in repr(layer)


def test_layer_has_linear_shapes_and_default_init() -> None:
    layer = FactorizedLinear(64, 96, format="tt", rank=4)
    assert layer(torch.randn(2, 3, 64)).shape == (2, 3, 96)
    assert layer.bias is not None and layer.bias.abs().max() <= 1 / 8  # U(-1/sqrt(N), ...)
    assert FactorizedLinear(64, 96, bias=False).bias is None


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"unknown strategy 'fast'.*'contract'"):
        FactorizedLinear(64, 96, strategy="fast")
    with pytest.raises(ValueError, match=r"unknown tensor format 'ttm'"):
        FactorizedLinear(64, 96, format="ttm")
    with pytest.raises(ValueError, match=r"96 x 64 .*at most 16"):
        FactorizedLinear(64, 96, format="tt", rank=17, out_shape=(4, 24), in_shape=(4, 16))


def test_contract_never_builds_the_dense_weight(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = FactorizedLinear(1024, 3072, format="tt", rank=8)

    def forbidden() -> torch.Tensor:
        raise AssertionError("W was built")

    monkeypatch.setattr(layer.weight, "to_dense", forbidden)
    assert layer(torch.randn(1, 1024)).shape == (1, 3072)  # auto contracts at batch 1
    with pytest.raises(AssertionError, match="W was built"):
        layer(torch.randn(layer.switch_batch, 1024))  # and reconstructs from the switch on
