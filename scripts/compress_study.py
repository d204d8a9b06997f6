"""Train small or compress large: compress one trained checkpoint into several formats and ranks,
fine-tune each, and score both on the test split, greedy and with the LM.

For each target (``tt:8`` is ``rnn=tt rank=8``), under ``<out>/<format>-r<rank>/``:

1. ``compress.py checkpoint=<source> rnn=<format> rank=<rank> out=compressed.ckpt`` (its fit
   table kept in ``compress.txt``);
2. the compressed model decoded: ``audio=test`` greedy, the LM weight and word bonus tuned on
   dev, ``audio=test`` with the LM (``compressed-decode/``);
3. ``train.py recipe=<finetune recipe> rnn=<format> rank=<rank> init_from=<source>``, a run
   in ``finetune/`` (five minutes with ``tiny_finetune``);
4. its best checkpoint decoded the same way (``finetune/decode/``);
5. ``result.json``: parameters, fit errors, minutes of each step, test WER and CER of both.

A step whose output exists is skipped, so a study stopped midway goes on where it stopped. When
every target is done, ``<out>/study.md`` holds the table and ``<out>/study.png`` the plot: test
WER with the LM and greedy CER against the recurrent parameters, compressed, compressed and
fine-tuned, and (``--scratch FILE``, a CSV of runs trained from scratch with the columns of
``SCRATCH_COLUMNS``) trained small from the start. Example::

    make lm
    python train.py recipe=tiny_dense
    python scripts/compress_study.py outputs/tiny_dense/<run>/checkpoints/<best>.ckpt \\
        --out outputs/compress_study --scratch docs/compress_study/scratch.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from deepspeech_tt.decoding.run import tuning_path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("tt:2", "tt:4", "tt:8", "tt:16", "cp:24", "tucker:14", "lowrank:5")
"""TT ranks 2-16, and CP, Tucker and low rank at about TT rank 8's GRU parameters (74,752 in the
tiny model: CP 24 has 71,424, Tucker 14 78,432, low rank 5 80,896)."""
SCRATCH_COLUMNS = ("label", "params_rnn", "minutes", "test_wer_greedy", "test_cer_greedy",
                   "test_wer_lm", "test_cer_lm")  # fmt: skip


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", type=Path, help="the trained checkpoint to compress")
    parser.add_argument("--out", type=Path, default=Path("outputs/compress_study"))
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), help="format:rank ...")
    parser.add_argument("--recipe", default="tiny_finetune", help="the fine-tuning recipe")
    parser.add_argument("--source-minutes", type=float, default=None,
                        help="the source's training time (default: its run's summary.json)")
    parser.add_argument("--scratch", type=Path, default=None,
                        help="CSV of models trained small from scratch, for the table and plot")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of each decode")
    parser.add_argument("--lm", type=Path, default=None,
                        help="ARPA model (default: decode.py's, <data.root>/lm/3gram.arpa)")
    parser.add_argument("--train-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="one more override of each fine-tuning run (repeatable)")
    return parser.parse_args(argv)


def _run(command: list[str], log: Path | None = None) -> float:
    """Run ``command`` (a script of this repository and its arguments); its seconds. Its output
    goes to ``log`` where given (and is shown); a failure ends the study."""
    print("  $ " + " ".join(command), flush=True)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *command], cwd=ROOT, check=False,
                            capture_output=log is not None, text=True)  # fmt: skip
    if log is not None:
        log.write_text(result.stdout + result.stderr)
        print(result.stdout, end="", flush=True)
    if result.returncode != 0:
        tail = "" if log is None else result.stderr[-2000:]
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{tail}")
    return time.perf_counter() - started


def _decode(checkpoint: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Test WER/CER of ``checkpoint``, greedy and with the LM tuned on dev (steps already done
    are read back)."""
    common = [f"checkpoint={checkpoint}", f"out={out}", "print_transcripts=false"]
    common += [f"threads={args.threads}"] if args.threads else []
    common += [f"lm={args.lm}"] if args.lm else []
    steps = [(["audio=test"], out / "results-test-greedy.json"),
             (["audio=dev", "decoder=beam_lm", "tune=true"], tuning_path(checkpoint)),
             (["audio=test", "decoder=beam_lm"], out / "results-test-beam_lm.json")]  # fmt: skip
    for arguments, done in steps:
        if not done.exists():
            _run(["decode.py", *common, *arguments])
    greedy, lm = (json.loads(steps[i][1].read_text()) for i in (0, 2))
    return {"test_wer_greedy": greedy["wer"], "test_cer_greedy": greedy["cer"],
            "test_wer_lm": lm["wer"], "test_cer_lm": lm["cer"],
            "lm_weight": lm["lm_weight"], "word_score": lm["word_score"]}  # fmt: skip


def study_target(target: str, args: argparse.Namespace) -> dict[str, Any]:
    """Steps 1-5 for one ``format:rank``; its ``result.json`` contents."""
    fmt, rank = target.split(":")
    where = args.out / f"{fmt}-r{rank}"
    result_file = where / "result.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    where.mkdir(parents=True, exist_ok=True)
    print(f"== {target}", flush=True)
    compressed = where / "compressed.ckpt"
    timings = _timings(where)
    if not compressed.exists():
        timings["compress_seconds"] = _run(
            ["compress.py", f"checkpoint={args.source}", f"rnn={fmt}", f"rank={rank}",
             f"out={compressed}"], where / "compress.txt")  # fmt: skip
        _save_timings(where, timings)
    before = _decode(compressed, where / "compressed-decode", args)
    run_dir = where / "finetune"
    if not (run_dir / "summary.json").exists():  # its train_seconds are the fine-tune's time
        _run(["train.py", f"recipe={args.recipe}", f"rnn={fmt}", f"rank={rank}",
              f"init_from={args.source.resolve()}", f"hydra.run.dir={run_dir.resolve()}",
              "trainer.enable_progress_bar=false", *args.train_arg])  # fmt: skip
    summary = json.loads((run_dir / "summary.json").read_text())
    after = _decode(run_dir / summary["best_checkpoint"], run_dir / "decode", args)
    fits = summary["init_from"]["fits"]
    result = {
        "target": target, "format": fmt, "rank": int(rank), "params_rnn": summary["params_rnn"],
        "params_total": summary["params_total"],
        "max_fit_error": summary["init_from"]["max_error"],
        "mean_fit_error": sum(f["error_ih"] + f["error_hh"] for f in fits) / (2 * len(fits)),
        "compress_minutes": timings["compress_seconds"] / 60,
        "finetune_minutes": summary["train_seconds"] / 60,
        "compressed": before, "finetuned": after,
        "finetuned_dev_wer": summary["dev_wer"], "finetune_run": str(run_dir),
    }  # fmt: skip
    result_file.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _timings(where: Path) -> dict[str, float]:
    path = where / "timings.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save_timings(where: Path, timings: dict[str, float]) -> None:
    (where / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")


def _rnn_parameters(checkpoint: Path) -> int:
    """The recurrent parameters of the model in ``checkpoint``."""
    from deepspeech_tt.decoding.recognizer import load_recognizer
    from deepspeech_tt.model.summary import rnn_parameters

    return rnn_parameters(load_recognizer(checkpoint).model)


def _source_minutes(args: argparse.Namespace) -> float | None:
    """The source's training minutes: given, or its run's ``summary.json`` (two levels up)."""
    if args.source_minutes is not None:
        return args.source_minutes
    summary = args.source.resolve().parent.parent / "summary.json"
    return json.loads(summary.read_text())["train_seconds"] / 60 if summary.exists() else None


def _scratch(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if set(SCRATCH_COLUMNS) - set(row):
            raise SystemExit(f"{path}: expected the columns {', '.join(SCRATCH_COLUMNS)}")
    return [{k: (v if k == "label" else float(v)) for k, v in row.items()} for row in rows]


def table(results: list[dict[str, Any]], scratch: list[dict[str, Any]],
          source: dict[str, Any], source_minutes: float | None) -> str:
    """The study's Markdown table: one row per model and path."""
    lines = ["| model | GRU params | path | minutes in all | test WER greedy | test CER greedy "
             "| test WER with LM | test CER with LM | LM weight, word bonus |",
             "|---|---:|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    dense = source_minutes or 0.0
    lines.append(
        f"| the source | {source['params_rnn']:,} | trained | {dense:.1f} "
        f"| {source['test_wer_greedy']:.3f} | {source['test_cer_greedy']:.3f} "
        f"| {source['test_wer_lm']:.3f} | {source['test_cer_lm']:.3f} "
        f"| {source['lm_weight']:g}, {source['word_score']:g} |")  # fmt: skip
    for r in results:
        label = f"{r['format']} rank {r['rank']}"
        for path, scores, minutes in (
            ("compressed", r["compressed"], dense + r["compress_minutes"]),
            ("compressed + fine-tuned", r["finetuned"],
             dense + r["compress_minutes"] + r["finetune_minutes"]),
        ):
            lines.append(
                f"| {label} | {r['params_rnn']:,} | {path} | {minutes:.1f} "
                f"| {scores['test_wer_greedy']:.3f} | {scores['test_cer_greedy']:.3f} "
                f"| {scores['test_wer_lm']:.3f} | {scores['test_cer_lm']:.3f} "
                f"| {scores['lm_weight']:g}, {scores['word_score']:g} |")  # fmt: skip
    for row in scratch:
        lines.append(
            f"| {row['label']} | {int(row['params_rnn']):,} | from scratch | {row['minutes']:.1f} "
            f"| {row['test_wer_greedy']:.3f} | {row['test_cer_greedy']:.3f} "
            f"| {row['test_wer_lm']:.3f} | {row['test_cer_lm']:.3f} | |")  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(results: list[dict[str, Any]], scratch: list[dict[str, Any]], source: dict[str, Any],
         path: Path) -> None:
    """Test WER with the LM and greedy CER against GRU parameters, one marker per path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    series = [
        ("compressed", "x", [(r["params_rnn"], r["compressed"]) for r in results]),
        ("compressed + fine-tuned", "^", [(r["params_rnn"], r["finetuned"]) for r in results]),
        ("trained small from scratch", "o", [(row["params_rnn"], row) for row in scratch]),
        ("the source", "*", [(source["params_rnn"], source)]),
    ]  # fmt: skip
    for axis, key, title in ((axes[0], "test_wer_lm", "test WER, beam search with the LM"),
                             (axes[1], "test_cer_greedy", "test CER, greedy")):  # fmt: skip
        for label, marker, points in series:
            if points:
                axis.scatter([p for p, _ in points], [s[key] for _, s in points], marker=marker,
                             label=label, s=50)  # fmt: skip
        for r in results:
            axis.annotate(f"{r['format']} {r['rank']}", (r["params_rnn"], r["finetuned"][key]),
                          fontsize=7, xytext=(4, -8), textcoords="offset points")  # fmt: skip
        axis.set_xscale("log")
        axis.set_xlabel("GRU parameters")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if not args.source.is_file():
        print(f"error: {args.source}: no such checkpoint file", file=sys.stderr)
        return 2
    scratch = _scratch(args.scratch)
    results = []
    for number, target in enumerate(args.targets, 1):
        print(f"[{number}/{len(args.targets)}] {target}", flush=True)
        results.append(study_target(target, args))
    source = _decode(args.source, args.out / "source-decode", args)
    source["params_rnn"] = _rnn_parameters(args.source)
    text = table(results, scratch, source, _source_minutes(args))
    (args.out / "study.md").write_text(text)
    plot(results, scratch, source, args.out / "study.png")
    print(text)
    print(f"written to {args.out / 'study.md'} and {args.out / 'study.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
