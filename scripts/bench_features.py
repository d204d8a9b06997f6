"""Benchmark feature extraction speed as a multiple of real time, on one thread.

Batches of random 16 kHz audio (``--batch`` utterances of ``--seconds`` each) go through
``FeatureExtractor`` for each kind; runs of the kinds are interleaved and repeated, and the
median is reported. Target (issue 2): at least 500x real time on one thread.

    python scripts/bench_features.py --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from deepspeech_tt.data.features import FeatureExtractor


def _time(extractor: FeatureExtractor, audio: torch.Tensor, lengths: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        extractor(audio, lengths)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10, help="utterances per batch")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each utterance")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    samples = int(args.seconds * 16000)
    audio = 0.1 * torch.randn(args.batch, samples)
    lengths = torch.full((args.batch,), samples)
    extractors = {
        f"{kind}/{norm}": FeatureExtractor(kind, normalize=norm)
        for kind in ("logspec", "logmel")
        for norm in ("utterance", "none")
    }
    times: dict[str, list[float]] = {name: [] for name in extractors}
    for extractor in extractors.values():  # warm-up
        _time(extractor, audio, lengths)
    for _ in range(args.repeats):
        for name, extractor in extractors.items():
            times[name].append(_time(extractor, audio, lengths))
    audio_seconds = args.batch * args.seconds
    print(
        f"{audio_seconds:.0f} s of audio per batch, {args.threads} thread(s), "
        f"median of {args.repeats}"
    )
    print("| features / normalisation | ms per batch | x real time |")
    print("|---|---|---|")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"| {name} | {1000 * median:.1f} | {audio_seconds / median:.0f} |")


if __name__ == "__main__":
    main()
