"""The cached rates of the cost model: written, found by ``auto`` in later calls, and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepspeech_tt.nn import FactorizedGRU, FactorizedLSTM
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


@pytest.mark.parametrize(
    "text", ['{"gemm_per_s": 1e11}', '{"op_seconds": -1}', "[1, 2]",
             '{"slowdowns": {"tt": {"rebuild": 0}}}', '{"slowdowns": {"tt": {"speed": 2}}}',
             '{"slowdowns": [1]}', '{"loop_backward": true}', '{"fused": [1]}',
             '{"fused": {"LSTM": {"forward": [1]}}}', '{"fused": {"LSTM": {"forward": [1, 0]}}}',
             '{"fused": {"LSTM": {"backward": [1, 1]}}}'],
)
def test_a_malformed_file_is_an_error_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rates.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="rates.json: expected positive rates named"):
        rates.load(path)


def test_format_slowdowns_are_saved_loaded_and_steer_auto() -> None:
    rnn = FactorizedGRU(1024, 1024, bidirectional=True, format="tt", rank=8)
    assert rnn.plan(1, 200, training=False) == ("contract",)
    slow_tt = rates.Rates(slowdowns={"tt": rates.Slowdown(projection=50.0, step_overhead=0.01)})
    rates.save(slow_tt)  # a TT product 10 ms a step: the loop loses
    assert rates.current().slowdown("tt") == rates.Slowdown(projection=50.0, step_overhead=0.01)
    assert rates.current().slowdown("cp") == rates.AS_MODELLED  # a format the file lacks
    assert rnn.plan(1, 200, training=False) == ("reconstruct",)


def test_a_slow_rebuild_steers_auto_to_contract() -> None:
    rnn = FactorizedGRU(512, 512, bidirectional=True, format="toeplitz", rank=8)
    assert rnn.plan(16, 200, training=False) == ("reconstruct",)
    rates.save(rates.Rates(slowdowns={"toeplitz": rates.Slowdown(rebuild=1000.0)}))
    assert rnn.plan(16, 200, training=False) == ("contract",)


def test_a_cells_fused_speed_is_saved_loaded_and_steers_auto_for_that_cell_only() -> None:
    lstm = FactorizedLSTM(512, 512, bidirectional=True, format="tt", rank=4)
    gru = FactorizedGRU(512, 512, bidirectional=True, format="tt", rank=4)
    assert lstm.plan(16, 100, training=True) == gru.plan(16, 100, training=True) == (
        "reconstruct",)
    inference = lstm.plan(16, 100, training=False)
    slow = rates.FusedSpeed(forward=(1.0, 1.0), training=(1.0, 1000.0))
    rates.save(rates.Rates(fused={"LSTM": slow}))  # torch's LSTM 1000x slower in training at B 16
    assert rates.current().fused_speed("LSTM") == slow
    assert rates.current().fused_speed("GRU") == rates.FUSED_AS_MODELLED
    assert lstm.plan(16, 100, training=True) == ("contract",)
    assert lstm.plan(16, 100, training=False) == inference  # its forward as fast as before
    assert gru.plan(16, 100, training=True) == ("reconstruct",)


@pytest.mark.parametrize(
    ("batch", "expected"), [(1, 2.0), (4, 4.0), (16, 8.0), (64, 8.0)],
)
def test_a_fused_speed_is_interpolated_geometrically_between_its_batches(
    batch: int, expected: float
) -> None:
    speed = rates.FusedSpeed(forward=(2.0, 8.0), training=(3.0, 3.0))
    assert speed.factor(batch, training=False) == pytest.approx(expected)
    assert speed.factor(batch, training=True) == pytest.approx(3.0)
