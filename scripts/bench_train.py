"""Benchmark training throughput of recipes against each other, in one process.

Each recipe's model is built exactly as ``python train.py recipe=<name>`` builds it (same
config, same builders); one training step is what a run does per batch: features (no
gradient), DeepSpeech2 forward, CTC loss, backward, gradient clipping and an AdamW step. All
recipes run on the same batches of random 16 kHz audio (``--batch`` utterances of
``--seconds`` each; the cost of a step does not depend on what is said), their steps
interleaved (one of each in turn, the order rotating every repeat), and the medians are
reported as audio seconds per wall second and as a ratio to the first recipe's step.

Targets (issue 4): ``tiny_tt`` at most 1.10x the ``tiny_dense`` step; the LibriSpeech-size
model's step, dense against TT, is reported. Examples::

    python scripts/bench_train.py --recipes tiny_dense tiny_tt --repeats 7
    python scripts/bench_train.py --recipes librispeech_dense librispeech_tt --batch 4 \\
        --seconds 10 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepspeech_tt.builders import build_model
from deepspeech_tt.builders.data import build_feature_extractor
from deepspeech_tt.config import compose_config
from deepspeech_tt.data.tokenizer import CharTokenizer
from deepspeech_tt.model import count_parameters, rnn_parameters
from deepspeech_tt.training.ctc import CTCLoss

SAMPLE_RATE = 16_000
LETTERS_PER_SECOND = 12  # about the embedded corpus' speaking rate


class _Step:
    """One recipe's features, model and optimiser; ``__call__`` is one training step."""

    def __init__(self, recipe: str, overrides: Sequence[str]) -> None:
        cfg = compose_config([f"recipe={recipe}", *overrides])
        cfg.features.normalize = "utterance"  # no statistics to fit; the same cost per frame
        torch.manual_seed(0)
        self.features = build_feature_extractor(cfg.features)
        self.model = build_model(cfg, self.features.feature_dim, CharTokenizer().vocab_size)
        self.optimiser = torch.optim.AdamW(self.model.parameters(), lr=cfg.optim.lr)
        self.clip = float(cfg.trainer.gradient_clip_val)
        self.loss = CTCLoss()
        self.recipe = recipe

    def __call__(
        self, audio: Tensor, lengths: Tensor, labels: Tensor, label_lengths: Tensor
    ) -> float:
        start = time.perf_counter()
        with torch.no_grad():
            features, frames = self.features(audio, lengths)
        log_probs, out_lengths = self.model(features, frames)
        self.loss(log_probs, out_lengths, labels, label_lengths).loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimiser.step()
        self.optimiser.zero_grad(set_to_none=True)
        return time.perf_counter() - start


def _batch(batch: int, seconds: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Random audio and letter labels of a speaking rate the model can align."""
    generator = torch.Generator().manual_seed(0)
    samples = int(seconds * SAMPLE_RATE)
    audio = 0.1 * torch.randn(batch, samples, generator=generator)
    labels = torch.randint(3, 29, (batch, int(seconds * LETTERS_PER_SECOND)), generator=generator)
    lengths = torch.full((batch,), samples)
    label_lengths = torch.full((batch,), labels.shape[1])
    return audio, lengths, labels, label_lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["tiny_dense", "tiny_tt"],
                        help="recipes compared; ratios are to the first")  # fmt: skip
    parser.add_argument("--overrides", nargs="*", default=[], help="config overrides (rank=8)")
    parser.add_argument("--batch", type=int, default=10, help="utterances per batch")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each utterance")
    parser.add_argument("--repeats", type=int, default=7, help="timed steps of each recipe")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = [_Step(recipe, args.overrides) for recipe in args.recipes]
    batch = _batch(args.batch, args.seconds)
    for step in steps:  # warm-up: allocator, oneDNN kernels
        step(*batch)
    times: dict[str, list[float]] = {step.recipe: [] for step in steps}
    for repeat in range(args.repeats):
        shift = repeat % len(steps)
        for step in steps[shift:] + steps[:shift]:
            times[step.recipe].append(step(*batch))
    audio = args.batch * args.seconds
    base = statistics.median(times[steps[0].recipe])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch} x "
          f"{args.seconds:g} s, {args.repeats} interleaved steps each, medians; "
          f"overrides: {' '.join(args.overrides) or 'none'}\n")  # fmt: skip
    print("| recipe | params | RNN params | step (s) | audio s / s | step vs first |")
    print("|---|---:|---:|---:|---:|---:|")
    for step in steps:
        median = statistics.median(times[step.recipe])
        print(f"| {step.recipe} | {count_parameters(step.model):,} | "
              f"{rnn_parameters(step.model):,} | {median:.3f} | {audio / median:.1f} | "
              f"{median / base:.3f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
