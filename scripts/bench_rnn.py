"""Benchmark FactorizedGRU against torch.nn.GRU and FactorizedLSTM against torch.nn.LSTM.

Parameters, time and peak memory. For each cell, hidden size H, batch size B, format and rank,
one bidirectional single-layer GRU or LSTM of input size H runs each way -- the torch module and
the factorized one with every registered strategy (``nn.strategies.STRATEGIES``) -- on T steps,
in inference (forward under no_grad) and training (forward + backward of the output sum). Runs
are interleaved (one of each in turn, the order rotating every repeat) and the medians are
reported as ratios to the torch module measured in the same run, as a Markdown table. A
strategy more than ``FAR_SLOWER`` = 2 times slower than the fastest at its first timed run
is not timed again (the contract loop's training step at batch 16 takes seconds, and no noise
brings it near the fastest); one whose first forward pass takes over ``UNTRAINED`` = 10 times
the fastest's is not timed in training at all ("n/t"; the TR contract loop's training step at
batch 16 holds tens of GiB of autograd state).

``auto`` is not timed on its own: it runs the strategy that ``FactorizedRNN.plan`` names, so
its row shows that choice (r, c...: the strategy's initial, inference/training) and the time of
the strategy chosen. Its target is that this time is within 1.05x of the fastest strategy's;
the report ends with the share of (case, mode) pairs where it is, and the worst misses. Which
rates ``auto`` used (built in, or cached by ``python -m deepspeech_tt.nn.calibrate``) is in the
header.

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

    # the whole grid (GRU and LSTM, H 512/1024, B 1/16, every format, ranks 4/8/16, T=200)
    python scripts/bench_rnn.py --no-memory --output bench_rnn.md
    # a quick look at one case
    python scripts/bench_rnn.py --cell gru --hidden 512 --batch 1 --formats tt --ranks 4 --steps 20
    # the LSTM alone, or some formats
    python scripts/bench_rnn.py --cell lstm --hidden 512 --formats tt --ranks 8
    python scripts/bench_rnn.py --cell gru --formats ht tr bt toeplitz --ranks 4 8
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import itertools
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from deepspeech_tt.nn.factorized_rnn import FactorizedRNN
from deepspeech_tt.nn.gru import FactorizedGRU
from deepspeech_tt.nn.lstm import FactorizedLSTM
from deepspeech_tt.nn.strategies import STRATEGIES, rates
from deepspeech_tt.tensor.registry import FORMATS

MODES = ("fwd", "train")
Key = tuple[str, str]  # (runner, mode)


CELLS: dict[str, tuple[type[nn.RNNBase], type[FactorizedRNN]]] = {
    "gru": (nn.GRU, FactorizedGRU),
    "lstm": (nn.LSTM, FactorizedLSTM),
}


def runners() -> tuple[str, ...]:
    """What is timed: the torch module ("dense"), then every registered strategy."""
    return ("dense", *STRATEGIES)


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
AUTO_TARGET = 1.05  # auto's choice / the fastest strategy, each mode
AUTO_SHARE_TARGET = 0.90  # of the (case, mode) pairs
UNTRAINED = 10.0  # a strategy whose forward is this much slower than the fastest is not timed
# in training: its training step takes longer than its forward, and every strategy's training
# step here takes under 10 times its own forward, so it cannot be the fastest
FAR_SLOWER = 2.0  # a strategy this much slower than the fastest at its first timed run is
# not timed again: no noise can bring it near the fastest, and it is most of the grid's time


def time_case(cell: str, hidden: int, batch: int, fmt: str, rank: int,
              args: argparse.Namespace) -> dict:
    """Median seconds of every runner in both modes, interleaved, and auto's choices."""
    dense, factorized = build(cell, hidden, fmt, rank)
    x = torch.randn(args.steps, batch, hidden)
    timed = runners()
    seconds: dict[Key, list[float]] = {(r, m): [] for r in timed for m in MODES}
    done: set[Key] = set()  # far slower than the fastest strategy: timed once only
    forward = {}
    for name in STRATEGIES:  # a first, untimed forward pass of each
        start = time.perf_counter()
        inference(select(name, dense, factorized), x)()
        forward[name] = time.perf_counter() - start
    done |= {(name, "train") for name, value in forward.items()
             if value > UNTRAINED * min(forward.values())}  # never timed in training
    for repeat in range(args.warmup + args.repeats):
        for offset in range(len(timed)):
            runner = timed[(repeat + offset) % len(timed)]
            module = select(runner, dense, factorized)
            for mode in MODES:
                if (runner, mode) in done:
                    continue
                run = MAKERS[mode](module, x)
                start = time.perf_counter()
                run()
                if repeat >= args.warmup:
                    seconds[runner, mode].append(time.perf_counter() - start)
        if repeat == args.warmup:
            for mode in MODES:
                fastest = min(seconds[name, mode][0] for name in STRATEGIES
                              if seconds[name, mode])  # fmt: skip
                done |= {(name, mode) for name in STRATEGIES
                         if seconds[name, mode] and seconds[name, mode][0] > FAR_SLOWER * fastest}
    factorized.set_strategy("auto")
    plans = {mode: factorized.plan(batch, args.steps, training=mode == "train")[0]
             for mode in MODES}
    return {
        "seconds": {key: statistics.median(values) if values else math.inf
                    for key, values in seconds.items()},  # inf: not timed
        "plans": plans,
        "params": factorized.num_parameters(),
        "compression": factorized.compression_ratio(),
    }


def auto_ratio(case: dict, mode: str) -> float:
    """Time of auto's choice over the fastest registered strategy's, in ``mode``."""
    t = case["seconds"]
    return t[case["plans"][mode], mode] / min(t[name, mode] for name in STRATEGIES)


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
    for runner in runners():
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
    if math.isinf(value):
        return "n/t"
    ratio = f"{value / base:.2f}" if base > 0 else "-"
    return f"{value:.1f} ({ratio}x)" if unit else ratio


def table_rows(label: str, case: dict, memory: dict[Key, float], verdicts: dict[str, str]
               ) -> list[str]:
    t, plans = case["seconds"], case["plans"]
    dense_time = f"{t['dense', 'fwd'] * 1e3:.1f} / {t['dense', 'train'] * 1e3:.1f} ms"
    dense_mem = "/".join(f"{memory[('dense', m)]:.1f}" for m in MODES) if memory else "n/a"
    rows = []
    for strategy in (*STRATEGIES, "auto"):
        shown, timed = strategy, {m: strategy for m in MODES}
        if strategy == "auto":
            shown = f"auto ({plans['fwd'][0]}/{plans['train'][0]})"
            timed = plans
        cells = [_cell(t[timed[m], m], t["dense", m]) for m in MODES]
        cells += [_cell(memory.get((timed[m], m)), memory.get(("dense", m)), "MiB")
                  for m in MODES]
        rows.append(
            f"| {label} | {shown} | {case['params']:,} | {case['compression']:.1f}x | "
            + " | ".join(cells) + f" | {dense_time}, {dense_mem} MiB | {verdicts[strategy]} |"
        )
    return rows


def target_checks(where: str, hidden: int, batch: int, fmt: str, rank: int, case: dict
                  ) -> tuple[dict[str, str], list[str]]:
    """The targets checked on one case.

    Returns the verdict shown in each strategy's row ("met", "MISSED" or "-" where no target
    applies) and a line for each missed target.
    """
    t = case["seconds"]
    verdicts = dict.fromkeys((*STRATEGIES, "auto"), "-")
    verdicts["auto"] = "met"
    notes = []
    if "reconstruct" in STRATEGIES:
        ratio = t["reconstruct", "train"] / t["dense", "train"]
        verdicts["reconstruct"] = "met" if ratio <= RECONSTRUCT_TARGET else "MISSED"
        if math.isinf(ratio):
            notes.append(f"{where}: reconstruct not timed in training (its forward took over "
                         f"{UNTRAINED:.0f}x the fastest's)")
        elif ratio > RECONSTRUCT_TARGET:
            notes.append(f"{where}: reconstruct training step {ratio:.2f}x the torch module "
                         f"(> {RECONSTRUCT_TARGET:.2f}x)")
    for mode in MODES:
        ratio = auto_ratio(case, mode)
        if ratio > AUTO_TARGET:
            verdicts["auto"] = "MISSED"
            notes.append(f"{where}: auto {mode} chose {case['plans'][mode]}, {ratio:.2f}x the "
                         f"fastest (> {AUTO_TARGET:.2f}x)")
    if "contract" in STRATEGIES and fmt == "tt" and rank <= 8 and batch == 1 and hidden == 1024:
        met = t["contract", "fwd"] < t["dense", "fwd"]
        verdicts["contract"] = "met" if met else "MISSED"
        if not met:
            notes.append(f"{where}: contract forward not faster than the torch module")
    return verdicts, notes


def rates_in_use() -> str:
    path = rates.cache_path()
    return f"calibrated rates from {path}" if path.is_file() else "built-in rates"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    factorized = [name for name in FORMATS if name != "dense"]
    parser.add_argument("--cell", nargs="+", choices=sorted(CELLS), default=sorted(CELLS),
                        help="recurrent cells (default: all)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--formats", nargs="+", choices=factorized, default=factorized,
                        help="weight formats (default: every registered one)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--steps", type=int, default=200, help="sequence length T")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each, medians")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory columns")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write the Markdown report (header, table, targets) here")
    parser.add_argument("--raw", type=Path, default=None,
                        help="also append each case's median seconds here, one JSON line each")
    parser.add_argument("--from-raw", type=Path, default=None,
                        help="report the timings of a --raw file instead of timing anew")
    parser.add_argument("--memory-probe", nargs=6, help=argparse.SUPPRESS)
    return parser.parse_args()


CaseKey = tuple[str, int, int, str, int]  # cell, H, B, format, rank


def measured_cases(args: argparse.Namespace) -> Iterator[tuple[CaseKey, dict]]:
    """Each case of the grid, timed now; or with ``--from-raw``, each case of that file with
    auto's choice made now (to see how a changed cost model or calibration would choose)."""
    if not args.from_raw:
        for key in itertools.product(args.cell, args.hidden, args.batch, args.formats,
                                     args.ranks):  # fmt: skip
            yield key, time_case(*key, args)
        return
    for line in args.from_raw.read_text().splitlines():
        stored = json.loads(line)
        key = (stored["cell"], stored["hidden"], stored["batch"], stored["format"],
               stored["rank"])  # fmt: skip
        _, factorized = build(*key[:2], *key[3:])
        factorized.set_strategy("auto")
        yield key, {
            "seconds": {tuple(name.split("/")): value
                        for name, value in stored["seconds"].items()},  # fmt: skip
            "plans": {mode: factorized.plan(key[2], stored["steps"], training=mode == "train")[0]
                      for mode in MODES},  # fmt: skip
            "params": factorized.num_parameters(),
            "compression": factorized.compression_ratio(),
        }


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

    started = time.perf_counter()
    emit(f"Command: `python scripts/bench_rnn.py {' '.join(sys.argv[1:])}`\n")
    if args.from_raw:
        emit(f"Timings read from {args.from_raw}; auto's choices made now.\n")
        first = json.loads(args.from_raw.read_text().splitlines()[0])
        args.steps, args.repeats = first["steps"], first.get("repeats", args.repeats)
    emit(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32, T={args.steps}, "
         f"bidirectional single layer, input size = H; medians of {args.repeats}; ratios to "
         f"the torch module (nn.GRU, nn.LSTM; lower is better); auto (inference/training "
         f"choice: the strategy's initial) with {rates_in_use()}; targets: reconstruct train "
         f"<= {RECONSTRUCT_TARGET:.2f}x, auto's choice <= {AUTO_TARGET:.2f}x the fastest "
         "strategy, contract fwd < 1x at H=1024, B=1, TT rank <= 8\n")
    emit("| cell | H | B | format | rank | strategy | params | compression | fwd time "
         "| train time | fwd mem MiB | train mem MiB | torch fwd / train | targets |")
    emit("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    notes: list[str] = []
    ratios: list[float] = []
    for (cell, hidden, batch, fmt, rank), case in measured_cases(args):
        memory = {} if args.no_memory or args.from_raw else memory_case(
            cell, hidden, batch, fmt, rank, args.steps)  # fmt: skip
        where = f"{cell} H={hidden} B={batch} {fmt} r={rank}"
        verdicts, missed = target_checks(where, hidden, batch, fmt, rank, case)
        label = f"{cell} | {hidden} | {batch} | {fmt} | {rank}"
        for row in table_rows(label, case, memory, verdicts):
            emit(row)
        notes += missed
        if args.raw is not None and not args.from_raw:
            with args.raw.open("a") as raw:
                seconds = {f"{r}/{m}": value for (r, m), value in case["seconds"].items()}
                raw.write(json.dumps({"cell": cell, "hidden": hidden, "batch": batch,
                                      "format": fmt, "rank": rank, "steps": args.steps,
                                      "repeats": args.repeats,
                                      "plans": case["plans"], "seconds": seconds}) + "\n")
        ratios += [auto_ratio(case, mode) for mode in MODES]
    within = sum(ratio <= AUTO_TARGET for ratio in ratios)
    share = within / len(ratios)
    emit(f"\nauto's choice within {AUTO_TARGET:.2f}x of the fastest strategy in {within} of "
         f"{len(ratios)} (case, mode) pairs ({share:.0%}; target {AUTO_SHARE_TARGET:.0%}: "
         f"{'met' if share >= AUTO_SHARE_TARGET else 'MISSED'}); median ratio "
         f"{statistics.median(ratios):.3f}, worst {max(ratios):.2f}. "
         f"{time.perf_counter() - started:.0f} s in all.")
    emit("\nTargets missed:" if notes else "\nAll targets met.")
    for note in notes:
        emit(f"- {note}")
    if args.output is not None:
        args.output.write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
