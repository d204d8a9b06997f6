"""The cached rates of the cost model: written, found by ``auto`` in later calls, and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepspeech_tt.nn import FactorizedGRU
from deepspeech_tt.nn.strategies import rates


def test_without_a_cache_the_built_in_rates_are_used() -> None:
    assert not rates.cache_path().exists()  # conftest: an empty cache directory
    assert rates.current() == rates.Rates()
    assert rates.current().gemm_macs_per_s == rates.GEMM_MACS_PER_S


def test_saved_rates_are_found_under_the_cache_directory_and_steer_auto(tmp_path: Path) -> None:
    rnn = FactorizedGRU(1024, 1024, bidirectional=True, format="tt", rank=8)
    assert rnn.plan(1, 200, training=False) == ("contract",)
    slow_steps = rates.Rates(step_macs_per_s=1e6, op_seconds=1e-3)  # a loop 100s of x slower
    path = rates.save(slow_steps)
    assert path == tmp_path / "cache" / "deepspeech-tt" / "rates.json"
    assert rates.current() == slow_steps
    assert rnn.plan(1, 200, training=False) == ("reconstruct",)


def test_a_partial_file_keeps_the_built_in_rates_it_lacks(tmp_path: Path) -> None:
    path = tmp_path / "rates.json"
    path.write_text('{"gemm_macs_per_s": 1e11}')
    assert rates.load(path) == rates.Rates(gemm_macs_per_s=1e11)


@pytest.mark.parametrize("text", ['{"gemm_per_s": 1e11}', '{"op_seconds": -1}', "[1, 2]"])
def test_a_malformed_file_is_an_error_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rates.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="rates.json: expected positive rates named"):
        rates.load(path)
