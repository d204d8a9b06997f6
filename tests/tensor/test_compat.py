"""Saved modules keep loading and computing the same W: parameter names, shapes and values.

``fixtures/formats-v1.pt`` was written by :func:`write_fixture` (``python -m
tests.tensor.test_compat``) before the formats were refactored onto a shared base: for every
format of that time, a 12 x 20 matrix with its default shapes at rank 2, initialised from seed 0,
its ``state_dict()``, its product on a fixed input, its W, and W of ``from_dense`` on a fixed
matrix. A trained checkpoint holds such state dicts, so they must load into the modules built
today, with the same keys and shapes, and give the same W.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from deepspeech_tt.tensor.registry import FORMATS

FIXTURE = Path(__file__).parent / "fixtures" / "formats-v1.pt"
ROWS, COLS, RANK = 12, 20, 2


X = torch.randn(3, COLS, generator=torch.Generator().manual_seed(1))  # the fixed input
TARGET = torch.randn(ROWS, COLS, generator=torch.Generator().manual_seed(2))  # the fitted W


def _case(name: str) -> dict[str, Any]:
    """What one format stores and computes at the fixed settings."""
    torch.manual_seed(0)
    matrix = FORMATS[name](ROWS, COLS, RANK)
    fitted = FORMATS[name].from_dense(TARGET, RANK)
    with torch.no_grad():
        return {"state": matrix.state_dict(), "product": matrix.matmul(X),
                "dense": matrix.to_dense(), "fit": fitted.to_dense()}


def write_fixture() -> None:
    """Write the fixture for every format registered now (run once, before a refactor)."""
    FIXTURE.parent.mkdir(exist_ok=True)
    torch.save({name: _case(name) for name in sorted(FORMATS)}, FIXTURE)  # about 40 KB


def _saved() -> dict[str, dict[str, Any]]:
    return torch.load(FIXTURE, weights_only=True)


SAVED_FORMATS = sorted(_saved()) if FIXTURE.exists() else []  # [] only while writing it


@pytest.mark.parametrize("name", SAVED_FORMATS)
def test_saved_state_loads_with_the_same_keys_and_shapes(name: str) -> None:
    saved = _saved()[name]
    matrix = FORMATS[name](ROWS, COLS, RANK)
    shapes = {key: tuple(value.shape) for key, value in matrix.state_dict().items()}
    assert shapes == {key: tuple(value.shape) for key, value in saved["state"].items()}
    matrix.load_state_dict(saved["state"], strict=True)
    with torch.no_grad():
        torch.testing.assert_close(matrix.to_dense(), saved["dense"], rtol=0, atol=1e-6)
        torch.testing.assert_close(matrix.matmul(X), saved["product"], rtol=0,
                                   atol=1e-6)


@pytest.mark.parametrize("name", SAVED_FORMATS)
def test_seeded_initialisation_and_fit_are_unchanged(name: str) -> None:
    saved, now = _saved()[name], _case(name)
    for key, value in saved["state"].items():
        torch.testing.assert_close(now["state"][key], value, rtol=0, atol=1e-6, msg=key)
    torch.testing.assert_close(now["fit"], saved["fit"], rtol=0, atol=1e-6)


def test_every_format_of_the_fixture_is_still_registered() -> None:
    assert len(SAVED_FORMATS) == 9 and set(SAVED_FORMATS) <= set(FORMATS)


if __name__ == "__main__":
    write_fixture()
