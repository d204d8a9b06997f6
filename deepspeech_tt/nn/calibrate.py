"""Time the cost model's rates on this machine and cache them for ``auto``.

Run ``python -m deepspeech_tt.nn.calibrate [--output PATH]``. ``auto`` picks a strategy from
estimated times built on a few rates (``strategies.rates``), measured once on the development
CPU. This times each on the machine at hand, fp32 on the CPU, in well under two minutes, and
writes them to ``rates.cache_path()`` (``$XDG_CACHE_HOME/deepspeech-tt/rates.json``), where
every later process finds them; delete the file to go back to the built-in rates. Each rate is
the median of a few timed repeats on a 3072 x 1024 matrix (W_hh of a GRU at H = 1024), TT rank
8. Then each registered format's slowdowns (``rates.Slowdown``: its rebuild, input projection
and step product against what the rates predict) are timed on the same matrix at rank 8, the
contract loop's backward-to-forward ratio on a GRU direction (H = 512, TT rank 8, T = 50), and
each registered cell's fused operator (``rates.FusedSpeed``) on a dense direction of the same
size at batch 1 and ``rates.FUSED_BATCH``, forward and training.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from deepspeech_tt.nn import FactorizedGRU, FactorizedRNN, layer_class
from deepspeech_tt.nn.cells import CELLS
from deepspeech_tt.nn.strategies import rates
from deepspeech_tt.nn.strategies.contract import step_product_seconds
from deepspeech_tt.nn.strategies.reconstruct import reconstruct_seconds
from deepspeech_tt.tensor.base import FactorizedMatrix
from deepspeech_tt.tensor.registry import FORMATS, get_format

ROWS, COLUMNS, RANK, STEPS = 3072, 1024, 8, 200
REFERENCE = "tt"  # the format the rates are timed on
_REPEATS = 7


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
    weight: FactorizedMatrix = get_format(REFERENCE)(ROWS, COLUMNS, RANK)
    rows = torch.randn(STEPS, COLUMNS)  # an input projection of T = 200 steps at batch 1
    vector, tiny = torch.randn(1, COLUMNS), torch.randn(1, 64)
    with torch.no_grad():
        op = seconds_per_call(lambda: torch.add(tiny, tiny), 2000)
        product = weight.product()
        step = seconds_per_call(lambda: product(vector), 200)
        factor_ops = rates.OPS_PER_FACTOR * len(list(weight.parameters()))
        measured = rates.Rates(
            gemm_macs_per_s=ROWS * COLUMNS * STEPS / seconds_per_call(lambda: rows @ dense.T, 10),
            read_values_per_s=ROWS * COLUMNS / seconds_per_call(lambda: vector @ dense.T, 200),
            factor_macs_per_s=weight.flops_matmul(STEPS) / seconds_per_call(
                lambda: weight.matmul(rows), 10),
            step_macs_per_s=weight.flops_matmul(1) / max(step - factor_ops * op, step / 10),
            rebuild_macs_per_s=weight.flops_to_dense() / seconds_per_call(weight.to_dense, 10),
            op_seconds=op,
        )
    return dataclasses.replace(measured, loop_backward=loop_backward(),
                               slowdowns=slowdowns(measured), fused=fused_speeds(measured))


def slowdowns(measured: rates.Rates) -> dict[str, rates.Slowdown]:
    """Each registered format's :class:`rates.Slowdown` under ``measured``, timed here."""
    found = {}
    for name in FORMATS:
        weight: FactorizedMatrix = get_format(name)(ROWS, COLUMNS, RANK)
        if weight.flops_to_dense() > 0:  # not dense: something to rebuild or contract
            found[name] = slowdown(weight, measured)
    # the rates are TT's: its rebuild and projection run at them by definition
    found[REFERENCE] = dataclasses.replace(found[REFERENCE], rebuild=1.0, projection=1.0)
    return found


@torch.no_grad()
def slowdown(weight: FactorizedMatrix, measured: rates.Rates) -> rates.Slowdown:
    """How many times its estimate under ``measured`` each operation of ``weight`` takes."""
    rows, vector = torch.randn(STEPS, weight.in_features), torch.randn(1, weight.in_features)
    product = weight.product()
    projection = weight.flops_matmul(STEPS) / measured.factor_macs_per_s
    rebuild = weight.flops_to_dense() / measured.rebuild_macs_per_s
    step = seconds_per_call(lambda: product(vector), 50)
    return rates.Slowdown(
        rebuild=seconds_per_call(weight.to_dense, 5) / rebuild,
        projection=seconds_per_call(lambda: weight.matmul(rows), 5) / projection,
        step_overhead=max(step - step_product_seconds(weight, 1, measured, overhead=0.0),
                          step / 10),
    )


def fused_speeds(measured: rates.Rates) -> dict[str, rates.FusedSpeed]:
    """Each registered cell with a fused operator: its :class:`rates.FusedSpeed` under
    ``measured``, timed here on one dense direction (H = 512, T = 50)."""
    speeds = {}
    for name, cell in CELLS.items():
        if cell.has_fused:
            rnn = layer_class(name)(512, 512, format="dense", strategy="reconstruct")
            forward, training = zip(*(fused_factors(rnn, batch, measured)
                                      for batch in (1, rates.FUSED_BATCH)), strict=True)
            speeds[cell.name] = rates.FusedSpeed(forward=forward, training=training)
    return speeds


def fused_factors(
    rnn: FactorizedRNN, batch: int, measured: rates.Rates
) -> tuple[float, float]:
    """(forward, training) time of ``rnn`` (one dense direction) at ``batch`` over the
    estimate under ``measured``."""
    x = torch.randn(50, batch, rnn.input_size)
    direction = rnn.direction_weights(0)[0]
    forward, training = passes(rnn, x)

    def estimate(train: bool) -> float:
        return reconstruct_seconds(direction.weight_ih, direction.weight_hh, steps=len(x),
                                   batch=batch, training=train, rate=measured)  # fmt: skip

    return (seconds_per_call(forward, 3) / estimate(False),
            seconds_per_call(training, 2) / estimate(True))  # fmt: skip


def passes(rnn: FactorizedRNN, x: torch.Tensor) -> tuple[Callable[[], None], Callable[[], None]]:
    """(a forward pass without gradients, a forward and backward pass) of ``rnn`` on ``x``."""

    def forward() -> None:
        with torch.no_grad():
            rnn(x)

    def training() -> None:
        output, _ = rnn(x)
        output.sum().backward()
        rnn.zero_grad(set_to_none=True)

    return forward, training


def loop_backward() -> float:
    """Backward over forward time of the contract loop, on one GRU direction."""
    rnn = FactorizedGRU(512, 512, format="tt", rank=RANK, strategy="contract")
    forward, training = passes(rnn, torch.randn(50, 1, 512))
    return max(seconds_per_call(training, 3) / seconds_per_call(forward, 3) - 1.0, 0.1)


def main(argv: list[str] | None = None) -> Path:
    """Measure the rates, print them next to the built-in ones and cache them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write them (default {rates.cache_path()})")
    args = parser.parse_args(argv)
    measured, builtin = measure(), rates.Rates()
    for name, value in vars(measured).items():
        if name not in ("slowdowns", "fused"):
            print(f"{name:20s} {value:12.4g}  (built-in {getattr(builtin, name):.4g})")
    print("format slowdowns: rebuild x, projection x, step overhead us (built-in in brackets):")
    for name, slowdown in measured.slowdowns.items():
        print(f"  {name:10s} {_shown(slowdown)}  ({_shown(builtin.slowdown(name))})")
    print(f"fused operators: time over estimate, forward and training at batch 1 and "
          f"{rates.FUSED_BATCH} (built-in 1):")
    for name, speed in measured.fused.items():
        print(f"  {name:10s} {speed.forward[0]:.2f} {speed.forward[1]:.2f}  "
              f"{speed.training[0]:.2f} {speed.training[1]:.2f}")
    path = rates.save(measured, args.output)
    print(f"written to {path}")
    return path


def _shown(slowdown: rates.Slowdown) -> str:
    overhead = slowdown.step_overhead
    step = "-" if overhead is None else f"{overhead * 1e6:.0f}"
    return f"{slowdown.rebuild:.2f} {slowdown.projection:.2f} {step}"


if __name__ == "__main__":
    main()
