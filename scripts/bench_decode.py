"""Benchmark decoding speed: real-time factor of greedy decoding and of beam search with the LM.

The checkpoint's acoustic scores of the audio (``decode.py``'s batches: reading, features,
model) are computed, then searched by every decoder in turn on the same scores, the order
rotating each repeat; medians over ``--repeats``. One thread by default, as the issue asks.
The real-time factor is wall time over audio time; a decoder's total is the acoustic pass
plus its search, so "added by the LM search" is the beam-with-LM total minus the greedy
total (target, issue 5: at most 0.02).

    python scripts/bench_decode.py --checkpoint outputs/<run>/checkpoints/<best>.ckpt \\
        --audio test --lm data/tiny/lm/3gram.arpa --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from deepspeech_tt.decoding.beam import BeamSearchDecoder, BeamSettings
from deepspeech_tt.decoding.inputs import find_utterances
from deepspeech_tt.decoding.recognizer import load_recognizer
from deepspeech_tt.decoding.run import Decoder, GreedyDecoder, Scores, acoustic_scores
from deepspeech_tt.evaluation.error_rates import word_errors


def main() -> None:
    args = _parser().parse_args()
    torch.set_num_threads(args.threads)
    recognizer = load_recognizer(args.checkpoint)
    inputs = find_utterances(args.audio, recognizer.config.data)
    seconds = sum(row.duration for row in inputs.utterances)
    settings = BeamSettings(beam_size=args.beam_size, lm_weight=args.lm_weight,
                            word_score=args.word_score)  # fmt: skip
    decoders: dict[str, Decoder] = {
        "greedy": GreedyDecoder(recognizer),
        "beam": BeamSearchDecoder(recognizer.tokenizer, settings),
        "beam_lm": BeamSearchDecoder(recognizer.tokenizer, settings, lm=args.lm),
    }
    acoustic: list[float] = []
    search: dict[str, list[float]] = {name: [] for name in decoders}
    wer: dict[str, float] = {}
    for repeat in range(args.repeats):
        started = time.perf_counter()
        batches = list(
            acoustic_scores(recognizer, inputs.utterances, args.batch_seconds, [], progress=False)
        )
        acoustic.append(time.perf_counter() - started)
        names = list(decoders)
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            elapsed, hypotheses = _timed(decoders[name].decode, batches)
            search[name].append(elapsed)
            references = [row.text for batch in batches for row in batch.rows]
            wer[name] = word_errors(references, hypotheses).rate
    _report(args, seconds, acoustic, search, wer)


def _timed(
    decode: Callable[[Tensor, Tensor], list[str]], batches: list[Scores]
) -> tuple[float, list[str]]:
    started = time.perf_counter()
    hypotheses = [text for b in batches for text in decode(b.log_probs, b.lengths)]
    return time.perf_counter() - started, hypotheses


def _report(
    args: argparse.Namespace, seconds: float, acoustic: list[float],
    search: dict[str, list[float]], wer: dict[str, float],
) -> None:  # fmt: skip
    model_rtf = statistics.median(acoustic) / seconds
    print(f"{args.audio}: {seconds:.1f} s of audio, {args.threads} thread(s), beam "
          f"{args.beam_size}, LM weight {args.lm_weight}, word score {args.word_score}, "
          f"median of {args.repeats}")  # fmt: skip
    print("| decoder | search RTF | total RTF | WER |")
    print("|---|---|---|---|")
    print(f"| (acoustic pass) | - | {model_rtf:.4f} | - |")
    totals = {}
    for name, times in search.items():
        rtf = statistics.median(times) / seconds
        totals[name] = model_rtf + rtf
        print(f"| {name} | {rtf:.4f} | {totals[name]:.4f} | {wer[name]:.3f} |")
    added = totals["beam_lm"] - totals["greedy"]
    verdict = "met" if added <= 0.02 else "MISSED"
    print(
        f"beam search with LM adds {added:.4f} to the real-time factor (target <= 0.02: {verdict})"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--audio", default="test", help="file, directory, manifest or split")
    parser.add_argument("--lm", type=Path, default=Path("data/tiny/lm/3gram.arpa"))
    parser.add_argument("--beam-size", type=int, default=50)
    parser.add_argument("--lm-weight", type=float, default=0.5)
    parser.add_argument("--word-score", type=float, default=0.0)
    parser.add_argument("--batch-seconds", type=float, default=200.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    return parser


if __name__ == "__main__":
    main()
