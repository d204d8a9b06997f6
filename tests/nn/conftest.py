"""A toy strategy, registered by a fixture and removed after: a new strategy gets the suites of
``test_rnn.py`` by being registered, and ``auto`` weighs it like the built-in ones. Every test
here sees the built-in rates of the cost model, whatever this machine has cached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import Tensor

from deepspeech_tt.nn.layer import Direction, RecurrentLayer
from deepspeech_tt.nn.sequences import States
from deepspeech_tt.nn.strategies import STRATEGIES, LinearCase, RecurrentCase, Strategy, rates
from deepspeech_tt.tensor.base import FactorizedMatrix


class Float64Strategy(Strategy):
    """Rebuild the matrices and run each direction in float64, whatever the layer's dtype.

    Its cost is ``seconds`` whatever the case, and it supports ``formats`` (None: every one),
    so that a test decides when ``auto`` should pick it.
    """

    name = "float64"

    def __init__(self, seconds: float = float("inf"), formats: set[str] | None = None) -> None:
        self.seconds = seconds
        self.formats = None if formats is None else frozenset(formats)

    def cost(self, case: RecurrentCase) -> float:
        return self.seconds

    def linear_cost(self, case: LinearCase) -> float:
        return self.seconds

    def linear(self, x: Tensor, weight: FactorizedMatrix, bias: Tensor | None) -> Tensor:
        y = x.double() @ weight.to_dense().double().T
        return (y if bias is None else y + bias.double()).to(x.dtype)

    def run_direction(
        self, rnn: RecurrentLayer, direction: Direction, x: Tensor, state: States,
        lengths: Tensor | None, *, reverse: bool, final_state: bool,
    ) -> tuple[Tensor, States]:
        if lengths is None:
            lengths = torch.full((x.size(1),), x.size(0), dtype=torch.int64, device=x.device)
        weights = [w.double() for w in direction.dense_weights()]
        output, final = rnn.cell.reconstructed_direction(
            x.double(), tuple(s.double() for s in state), weights, lengths, reverse=reverse,
            final_state=final_state,
        )
        return output.to(x.dtype), tuple(s.to(x.dtype) for s in final)


@pytest.fixture
def float64_strategy() -> Iterator[Float64Strategy]:
    """The toy registered as "float64" (never ``auto``'s choice until a test lowers its cost)."""
    toy = Float64Strategy()
    STRATEGIES[toy.name] = toy
    yield toy
    del STRATEGIES[toy.name]


@pytest.fixture(autouse=True)
def _builtin_rates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty cache directory: ``rates.current()`` gives the built-in rates."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rates.current.cache_clear()
    yield
    rates.current.cache_clear()
