"""Benchmark FactorizedGRU against torch.nn.GRU (or FactorizedLSTM against torch.nn.LSTM).

Parameters, time and peak memory. For each hidden size H, batch size B, format and rank, one
bidirectional single-layer GRU (``--cell lstm``: LSTM) of input size H runs each way -- the
torch module and the factorized one with each strategy -- on
T steps, in inference (forward under no_grad) and training (forward + backward of the output
sum). Runs are interleaved (one of each in turn, the order rotating every repeat) and the
medians are reported as ratios to the torch module measured in the same run, as a Markdown table.

Peak memory: tracemalloc does not see torch's allocations, so the script reads the process's
resident set instead, in a child process per case (so that timing runs keep the default
allocator): there glibc is told to serve every allocation above 64 KiB with mmap and give it back
on free (``mallopt``), so freed tensors leave the resident set; before each run the kernel's
high-water mark is reset (``/proc/self/clear_refs``), and the peak is VmHWM minus VmRSS at the
start: the memory a call needs beyond the weights it holds. Linux only; elsewhere "n/a". Memory
columns give MiB and, in brackets, the ratio to the torch module (a dense forward under no_grad
needs almost nothing, so that ratio can be large while the MiB are small).

Every row says whether the issue's targets that apply to it are met ("met", "MISSED", or "-"
where none applies), and a list of the missed ones follows the table. ``--output`` also writes the
whole report, with the command that made it, to a Markdown file.

Examples::

    # the full grid of the issue (H 512/1024, B 1/16, four formats, ranks 4/8/16, T=200)
    python scripts/bench_rnn.py --output bench_rnn.md
    # a quick look at one case
    python scripts/bench_rnn.py --hidden 512 --batch 1 --formats tt --ranks 4 --steps 20
    # the LSTM, or the formats added later
    python scripts/bench_rnn.py --cell lstm --hidden 512 --formats tt --ranks 8
    python scripts/bench_rnn.py --formats ht tr bt toeplitz --ranks 4 8
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import itertools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from deepspeech_tt.nn.factorized_rnn import FactorizedRNN
from deepspeech_tt.nn.gru import FactorizedGRU
from deepspeech_tt.nn.lstm import FactorizedLSTM

RUNNERS = ("dense", "reconstruct", "contract", "auto")
MODES = ("fwd", "train")
Key = tuple[str, str]  # (runner, mode)


CELLS: dict[str, tuple[type[nn.RNNBase], type[FactorizedRNN]]] = {
    "gru": (nn.GRU, FactorizedGRU),
    "lstm": (nn.LSTM, FactorizedLSTM),
}


def build(cell: str, hidden: int, fmt: str, rank: int) -> tuple[nn.RNNBase, FactorizedRNN]:
    torch.manual_seed(0)
    torch_class, factorized_class = CELLS[cell]
    dense = torch_class(hidden, hidden, bidirectional=True)
    return dense, factorized_class(hidden, hidden, bidirectional=True, format=fmt, rank=rank)


def select(runner: str, dense: nn.RNNBase, factorized: FactorizedRNN) -> nn.Module:
    if runner == "dense":
        return dense
    factorized.set_strategy(runner)
    return factorized


def inference(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            module(x)

    return run


def training_step(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        output, state = module(x.requires_grad_())
        states = state if isinstance(state, tuple) else (state,)  # LSTM: (h_n, c_n)
        (output.sum() + sum(s.sum() for s in states)).backward()
        module.zero_grad(set_to_none=True)
        x.grad = None

    return run


MAKERS = {"fwd": inference, "train": training_step}
RECONSTRUCT_TARGET = 1.10  # reconstruct training step / the torch module's
AUTO_TARGET = 1.05  # auto / the faster of reconstruct and contract, both modes


def time_case(hidden: int, batch: int, fmt: str, rank: int, args: argparse.Namespace) -> dict:
    """Median seconds of every runner in both modes, interleaved, and auto's choices."""
    dense, factorized = build(args.cell, hidden, fmt, rank)
    x = torch.randn(args.steps, batch, hidden)
    seconds: dict[Key, list[float]] = {(r, m): [] for r in RUNNERS for m in MODES}
    plans: dict[str, str] = {}
    for repeat in range(args.warmup + args.repeats):
        for offset in range(len(RUNNERS)):
            runner = RUNNERS[(repeat + offset) % len(RUNNERS)]
            module = select(runner, dense, factorized)
            for mode in MODES:
                run = MAKERS[mode](module, x)
                start = time.perf_counter()
                run()
                if repeat >= args.warmup:
                    seconds[runner, mode].append(time.perf_counter() - start)
                if runner == "auto" and factorized.last_plan is not None:
                    plans[mode] = factorized.last_plan[2][0]
    return {
        "seconds": {key: statistics.median(values) for key, values in seconds.items()},
        "plans": plans,
        "params": factorized.num_parameters(),
        "compression": factorized.compression_ratio(),
    }


def _status_kib(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise OSError(f"no {name} in /proc/self/status")


def peak_mib(run: Callable[[], None]) -> float:
    """Peak resident memory (MiB) that one call adds to what the process held before it."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the high-water mark VmHWM to the current resident set
    start = _status_kib("VmRSS")
    run()
    return (_status_kib("VmHWM") - start) / 1024


def memory_probe(
    cell: str, hidden: int, batch: int, fmt: str, rank: int, steps: int
) -> dict[str, float]:
    """In a child process: peak MiB of every runner in both modes (after one warm-up each)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD, fixed: large blocks are mmapped ...
    libc.mallopt(-1, 64 * 1024)  # M_TRIM_THRESHOLD: ... and everything freed goes back
    dense, factorized = build(cell, hidden, fmt, rank)
    x = torch.randn(steps, batch, hidden)
    peaks = {}
    for runner in RUNNERS:
        module = select(runner, dense, factorized)
        for mode in MODES:
            MAKERS[mode](module, x)()
            peaks[f"{runner}/{mode}"] = peak_mib(MAKERS[mode](module, x))
    return peaks


def memory_case(
    cell: str, hidden: int, batch: int, fmt: str, rank: int, steps: int
) -> dict[Key, float]:
    command = [sys.executable, sys.argv[0], "--memory-probe", cell, str(hidden), str(batch), fmt,
               str(rank), str(steps)]
    with contextlib.suppress(subprocess.CalledProcessError, ValueError):
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        peaks = json.loads(result.stdout.strip().splitlines()[-1])
        return {tuple(key.split("/")): value for key, value in peaks.items()}
    return {}


def _cell(value: float | None, base: float | None, unit: str = "") -> str:
    if value is None or base is None:
        return "n/a"
    ratio = f"{value / base:.2f}" if base > 0 else "-"
    return f"{value:.1f} ({ratio}x)" if unit else ratio


def table_rows(label: str, case: dict, memory: dict[Key, float], verdicts: dict[str, str]
               ) -> list[str]:
    t, plans = case["seconds"], case["plans"]
    rows = []
    for strategy in RUNNERS[1:]:
        shown = strategy
        if strategy == "auto":
            shown = f"auto ({plans.get('fwd', '?')[0]}/{plans.get('train', '?')[0]})"
        cells = [_cell(t[strategy, m], t["dense", m]) for m in MODES]
        cells += [_cell(memory.get((strategy, m)), memory.get(("dense", m)), "MiB") for m in MODES]
        dense_mem = "/".join(f"{memory[('dense', m)]:.1f}" if memory else "n/a" for m in MODES)
        rows.append(
            f"| {label} | {shown} | {case['params']:,} | {case['compression']:.1f}x | "
            + " | ".join(cells)
            + f" | {t['dense', 'fwd'] * 1e3:.1f} / {t['dense', 'train'] * 1e3:.1f} ms, "
            f"{dense_mem} MiB | {verdicts[strategy]} |"
        )
    return rows


def target_checks(hidden: int, batch: int, fmt: str, rank: int, case: dict
                  ) -> tuple[dict[str, str], list[str]]:
    """The issue's targets checked on one case.

    Returns the verdict shown in each strategy's row ("met", "MISSED" or "-" where no target
    applies) and a line for each missed target.
    """
    t = case["seconds"]
    where = f"H={hidden} B={batch} {fmt} r={rank}"
    verdicts, notes = {"reconstruct": "met", "contract": "-", "auto": "met"}, []
    ratio = t["reconstruct", "train"] / t["dense", "train"]
    if ratio > RECONSTRUCT_TARGET:
        verdicts["reconstruct"] = "MISSED"
        notes.append(f"{where}: reconstruct training step {ratio:.2f}x the torch module "
                     f"(> {RECONSTRUCT_TARGET:.2f}x)")
    for mode in MODES:
        best = min(t["reconstruct", mode], t["contract", mode])
        if t["auto", mode] > AUTO_TARGET * best:
            verdicts["auto"] = "MISSED"
            notes.append(f"{where}: auto {mode} {t['auto', mode] / best:.2f}x the faster "
                         f"(> {AUTO_TARGET:.2f}x)")
    if fmt == "tt" and rank <= 8 and batch == 1 and hidden == 1024:
        verdicts["contract"] = "met"
        if t["contract", "fwd"] >= t["dense", "fwd"]:
            verdicts["contract"] = "MISSED"
            notes.append(f"{where}: contract forward not faster than the torch module")
    return verdicts, notes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--formats", nargs="+", default=["tt", "cp", "tucker", "lowrank"])
    parser.add_argument("--ranks", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--steps", type=int, default=200, help="sequence length T")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each, medians")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory columns")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write the Markdown report (header, table, targets) here")
    parser.add_argument("--cell", choices=sorted(CELLS), default="gru", help="recurrent cell")
    parser.add_argument("--memory-probe", nargs=6, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        cell, hidden, batch, fmt, rank, steps = args.memory_probe
        print(json.dumps(memory_probe(cell, int(hidden), int(batch), fmt, int(rank), int(steps))))
        return
    report: list[str] = []

    def emit(line: str = "") -> None:
        print(line, flush=True)
        report.append(line)

    emit(f"Command: `python scripts/bench_rnn.py {' '.join(sys.argv[1:])}`\n")
    torch_name = f"nn.{CELLS[args.cell][0].__name__}"
    emit(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32, T={args.steps}, "
         f"bidirectional single layer, input size = H; medians of {args.repeats}; ratios to "
         f"{torch_name} (lower is better); auto (inference/training choice: r or c); targets: "
         f"reconstruct train <= {RECONSTRUCT_TARGET:.2f}x, auto <= {AUTO_TARGET:.2f}x the faster "
         "strategy, contract fwd < 1x at H=1024, B=1, TT rank <= 8\n")
    emit("| H | B | format | rank | strategy | params | compression | fwd time | train time "
         f"| fwd mem MiB | train mem MiB | {torch_name} fwd / train | targets |")
    emit("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    notes: list[str] = []
    for hidden, batch, fmt, rank in itertools.product(args.hidden, args.batch, args.formats,
                                                      args.ranks):
        case = time_case(hidden, batch, fmt, rank, args)
        memory = {} if args.no_memory else memory_case(args.cell, hidden, batch, fmt, rank,
                                                        args.steps)  # fmt: skip
        verdicts, missed = target_checks(hidden, batch, fmt, rank, case)
        for row in table_rows(f"{hidden} | {batch} | {fmt} | {rank}", case, memory, verdicts):
            emit(row)
        notes += missed
    emit("\nTargets missed:" if notes else "\nAll targets met.")
    for note in notes:
        emit(f"- {note}")
    if args.output is not None:
        args.output.write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
