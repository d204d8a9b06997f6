"""Checkpoints of FactorizedGRU and FactorizedLSTM keep loading and keep their outputs.

``fixtures/rnn-v1.pt`` holds, for each cell and a few formats (seed 0, input 6, hidden 8, two
bidirectional layers, rank 2), the module's ``state_dict()`` and what it returned on a fixed
padded batch under each strategy. The test builds each module afresh from the current code,
loads that state dict (strictly) and compares: a renamed or reshaped parameter, or a change in
what the layers compute, fails here. Regenerate it only for a deliberate break of checkpoints
(``python -m tests.nn.test_compat``), and say so in the commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor

from deepspeech_tt.nn import FactorizedGRU, FactorizedLSTM
from deepspeech_tt.nn.factorized_rnn import FactorizedRNN

FIXTURE = Path(__file__).parent / "fixtures" / "rnn-v1.pt"
CLASSES: dict[str, type[FactorizedRNN]] = {"gru": FactorizedGRU, "lstm": FactorizedLSTM}
FORMATS = ("dense", "tt", "lowrank", "ht")  # "ht" at one rank: the joint layout's keys
STRATEGIES = ("reconstruct", "contract")
KWARGS = dict(input_size=6, hidden_size=8, num_layers=2, bidirectional=True, rank=2,
              input_shape=(2, 3), hidden_shape=(2, 4))


def _build(cell: str, fmt: str) -> FactorizedRNN:
    return CLASSES[cell](format=fmt, **KWARGS)  # type: ignore[arg-type]


def _run(rnn: FactorizedRNN, x: Tensor, lengths: Tensor) -> list[Tensor]:
    """Output (T, B, 2H) and every final-state tensor (4, B, H), under each strategy."""
    results = []
    with torch.no_grad():
        for strategy in STRATEGIES:
            rnn.set_strategy(strategy)
            output, state = rnn(x, lengths=lengths)
            results += [output, *(state if isinstance(state, tuple) else (state,))]
    return results


def _batch() -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(7, 3, 6, generator=generator)  # (T, B, I)
    return x, torch.tensor([7, 4, 2])


def write_fixture() -> None:
    """Write ``FIXTURE`` from the current code (a deliberate break of checkpoints only)."""
    torch.manual_seed(0)
    x, lengths = _batch()
    modules = {}
    for cell in CLASSES:
        for fmt in FORMATS:
            rnn = _build(cell, fmt)
            modules[f"{cell}/{fmt}"] = {"state_dict": rnn.state_dict(),
                                        "outputs": _run(rnn, x, lengths)}
    torch.save({"x": x, "lengths": lengths, "modules": modules}, FIXTURE)


@pytest.fixture(scope="module")
def stored() -> dict:
    return torch.load(FIXTURE, weights_only=True)


@pytest.mark.parametrize("cell", sorted(CLASSES))
@pytest.mark.parametrize("fmt", FORMATS)
def test_stored_module_loads_with_the_same_keys_shapes_and_outputs(
    stored: dict, cell: str, fmt: str
) -> None:
    saved = stored["modules"][f"{cell}/{fmt}"]
    rnn = _build(cell, fmt)
    current = {name: tuple(value.shape) for name, value in rnn.state_dict().items()}
    assert current == {name: tuple(value.shape) for name, value in saved["state_dict"].items()}
    rnn.load_state_dict(saved["state_dict"], strict=True)
    outputs = _run(rnn, stored["x"], stored["lengths"])
    assert len(outputs) == len(saved["outputs"])
    for got, want in zip(outputs, saved["outputs"], strict=True):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


if __name__ == "__main__":
    write_fixture()
