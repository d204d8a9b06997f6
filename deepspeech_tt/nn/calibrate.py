"""Time the cost model's rates on this machine and cache them for ``auto``.

Run ``python -m deepspeech_tt.nn.calibrate [--output PATH]``. ``auto`` picks a strategy from
estimated times built on a few rates (``strategies.rates``), measured once on the development
CPU. This times each on the machine at hand, fp32 on the CPU, in well under two minutes, and
writes them to ``rates.cache_path()`` (``$XDG_CACHE_HOME/deepspeech-tt/rates.json``), where
every later process finds them; delete the file to go back to the built-in rates. Each rate is
the median of a few timed repeats on a 3072 x 1024 matrix (W_hh of a GRU at H = 1024), TT rank
8.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from deepspeech_tt.nn.strategies import rates
from deepspeech_tt.tensor.base import FactorizedMatrix
from deepspeech_tt.tensor.registry import get_format

ROWS, COLUMNS, RANK, STEPS = 3072, 1024, 8, 200
_REPEATS = 5


def seconds_per_call(run: Callable[[], object], calls: int) -> float:
    """Median over a few repeats of the time of ``calls`` calls of ``run``, per call."""
    run()  # warm-up: allocations, kernel selection
    times = []
    for _ in range(_REPEATS):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def measure() -> rates.Rates:
    """Every rate of :class:`rates.Rates`, timed here (a few seconds each)."""
    torch.manual_seed(0)
    dense = torch.randn(ROWS, COLUMNS)
    weight: FactorizedMatrix = get_format("tt")(ROWS, COLUMNS, RANK)
    rows = torch.randn(STEPS, COLUMNS)  # an input projection of T = 200 steps at batch 1
    vector, tiny = torch.randn(1, COLUMNS), torch.randn(1, 64)
    with torch.no_grad():
        op = seconds_per_call(lambda: torch.add(tiny, tiny), 2000)
        product = weight.product()
        step = seconds_per_call(lambda: product(vector), 200)
        factor_ops = rates.OPS_PER_FACTOR * len(list(weight.parameters()))
        return rates.Rates(
            gemm_macs_per_s=ROWS * COLUMNS * STEPS / seconds_per_call(lambda: rows @ dense.T, 10),
            read_values_per_s=ROWS * COLUMNS / seconds_per_call(lambda: vector @ dense.T, 200),
            factor_macs_per_s=weight.flops_matmul(STEPS) / seconds_per_call(
                lambda: weight.matmul(rows), 10),
            step_macs_per_s=weight.flops_matmul(1) / max(step - factor_ops * op, step / 10),
            rebuild_macs_per_s=weight.flops_to_dense() / seconds_per_call(weight.to_dense, 10),
            op_seconds=op,
        )


def main(argv: list[str] | None = None) -> Path:
    """Measure the rates, print them next to the built-in ones and cache them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write them (default {rates.cache_path()})")
    args = parser.parse_args(argv)
    measured, builtin = measure(), rates.Rates()
    for name, value in vars(measured).items():
        print(f"{name:20s} {value:12.4g}  (built-in {getattr(builtin, name):.4g})")
    path = rates.save(measured, args.output)
    print(f"written to {path}")
    return path


if __name__ == "__main__":
    main()
