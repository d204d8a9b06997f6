"""Benchmark the data loader against a training step's appetite for audio.

The loader (``SpeechDataset`` + ``DurationBatchSampler`` + ``collate`` in a ``DataLoader``)
must never keep the model waiting. Three measurements, all in seconds of audio per wall-clock
second, on batches of about ``--batch-seconds`` of audio:

1. loader alone, with ``num_workers`` 0, 1 and 2 (decode FLAC, tokenise, pad);
2. one training step alone, on batches already in memory: the default recipe's log-mel
   features and DeepSpeech2 (1 conv layer, time stride 3, + 3 dense BiGRU-256), CTC loss, AdamW;
3. both together, as training runs: the step fed by a ``DataLoader`` with ``--train-workers``
   workers, reporting the share of wall time spent waiting for the next batch.

The loader keeps up when (1) is well above (2) and the wait in (3) is near zero.

Corpus: ``--manifest`` (JSONL), ``--corpus`` (a LibriSpeech split directory), or else one
generated with ``deepspeech_tt.data.synth`` (``--hours``) in a temporary directory. Example::

    python scripts/bench_loader.py --hours 0.5 --loader-batches 20 --steps 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from deepspeech_tt.data.batching import DurationBatchSampler
from deepspeech_tt.data.dataset import Batch, SpeechDataset, collate
from deepspeech_tt.data.features import FeatureExtractor
from deepspeech_tt.data.librispeech import read_librispeech
from deepspeech_tt.data.manifest import Utterance, read_manifest
from deepspeech_tt.data.synth import generate_corpus
from deepspeech_tt.data.tokenizer import CharTokenizer
from deepspeech_tt.model import DeepSpeech2

RATE = 16_000
HOP = 0.01


def _rows(args: argparse.Namespace, scratch: Path) -> list[Utterance]:
    if args.manifest:
        return read_manifest(args.manifest)
    if args.corpus:
        return read_librispeech(args.corpus)

    generate_corpus(scratch / "corpus", hours=args.hours, dev_minutes=0.5, test_minutes=0.5)
    return read_librispeech(scratch / "corpus" / "train")


def _loader(rows: list[Utterance], args: argparse.Namespace, workers: int) -> DataLoader:
    max_frames = int(args.batch_seconds / HOP)
    sampler = DurationBatchSampler([r.duration for r in rows], max_frames, sorta_grad=False)
    dataset = SpeechDataset(rows, CharTokenizer())
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=workers)


def _seconds(batch: Batch) -> float:
    return float(batch["audio_lengths"].sum()) / RATE


def _loader_alone(rows: list[Utterance], args: argparse.Namespace, workers: int) -> float:
    """Audio seconds per wall second of the loader alone, worker start-up included."""
    start, audio = time.perf_counter(), 0.0
    for i, batch in enumerate(_loader(rows, args, workers)):
        if i == args.loader_batches:
            break
        audio += _seconds(batch)
    return audio / (time.perf_counter() - start)


def _model() -> tuple[FeatureExtractor, DeepSpeech2]:
    """The default recipe's (tiny) modules: log-mel, 1 conv (stride 3) + 3 BiGRU-256, dense."""
    features = FeatureExtractor("logmel", window_ms=25.0, normalize="utterance")
    model = DeepSpeech2(
        features.feature_dim, CharTokenizer().vocab_size, conv_layers=1, time_stride=3,
        rnn_layers=3, hidden_size=256,
    )
    return features, model


class _Trainer:
    """Features, model and optimiser; ``step(batch)`` is one training step."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.features, self.model = _model()
        self.optimiser = torch.optim.AdamW(self.model.parameters(), lr=1e-3)

    def step(self, batch: Batch) -> None:
        features, frames = self.features(batch["audio"], batch["audio_lengths"])
        log_probs, out_lengths = self.model(features, frames)  # (B, T', 29), (B,)
        loss = F.ctc_loss(
            log_probs.transpose(0, 1),
            batch["labels"],
            out_lengths,
            batch["label_lengths"],
            zero_infinity=True,
        )
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()


def _step_alone(batches: list[Batch]) -> float:
    """Audio seconds per wall second of training steps on batches held in memory."""
    trainer = _Trainer()
    trainer.step(batches[0])  # warm-up
    start = time.perf_counter()
    for batch in batches:
        trainer.step(batch)
    return sum(_seconds(b) for b in batches) / (time.perf_counter() - start)


def _together(rows: list[Utterance], args: argparse.Namespace) -> tuple[float, float]:
    """(audio seconds per wall second, share of time waiting) of training fed by a loader."""
    trainer = _Trainer()
    batches: Iterator[Batch] = iter(_loader(rows, args, args.train_workers))
    trainer.step(next(batches))  # warm-up and worker start-up, not timed
    waited = audio = 0.0
    start = time.perf_counter()
    for _ in range(args.steps):
        before = time.perf_counter()
        batch = next(batches, None)
        waited += time.perf_counter() - before
        if batch is None:
            break
        trainer.step(batch)
        audio += _seconds(batch)
    total = time.perf_counter() - start
    return audio / total, waited / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, help="a JSONL manifest to load")
    parser.add_argument("--corpus", type=Path, help="a LibriSpeech split directory")
    parser.add_argument("--hours", type=float, default=0.5, help="corpus to generate otherwise")
    parser.add_argument("--batch-seconds", type=float, default=100.0, help="audio per batch")
    parser.add_argument("--loader-batches", type=int, default=40, help="batches per loader run")
    parser.add_argument("--steps", type=int, default=10, help="training steps timed")
    parser.add_argument("--train-workers", type=int, default=2, help="workers feeding training")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        rows = _rows(args, Path(scratch))
        hours = sum(r.duration for r in rows) / 3600
        print(f"{len(rows)} utterances, {hours:.2f} h, batches of ~{args.batch_seconds:g} s")
        print("| measurement | audio s / s |\n|---|---|")
        loader = {w: _loader_alone(rows, args, w) for w in (0, 1, 2)}
        for workers, speed in loader.items():
            print(f"| loader, num_workers={workers} | {speed:.0f} |")
        cached = [b for b, _ in zip(_loader(rows, args, 0), range(args.steps), strict=False)]
        step = _step_alone(cached)
        print(f"| training step alone ({torch.get_num_threads()} threads) | {step:.1f} |")
        fed, waiting = _together(rows, args)
        print(f"| training fed by num_workers={args.train_workers} | {fed:.1f} |")
    ratios = ", ".join(f"{speed / step:.0f}x with {w} workers" for w, speed in loader.items())
    print(f"\nloader speed / training appetite: {ratios}")
    print(f"waiting for data: {100 * waiting:.1f}% of training wall time")


if __name__ == "__main__":
    main()
