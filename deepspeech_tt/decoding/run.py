"""One decode: a checkpoint and some audio in; transcripts, scores and the real-time factor out.

Utterances are decoded in batches of similar length (``batch_seconds`` of padded audio).
The real-time factor is wall time over audio time: ``rtf`` counts reading, features, the
acoustic model and the search, ``rtf_search`` the search alone. Besides the files of
``deepspeech_tt.decoding.scoring``, each decode writes ``results-<name>.json`` (the figures
``scripts/compare_runs.py`` gathers), where ``<name>`` is ``<audio name>-<decoder>``, and,
when anything was left out, ``skipped-<name>.tsv``; a warning lists the same.

An utterance is too short to decode when it has fewer feature frames than the model's first
output frame reads (``conv.last_input_frame(0) + 1``; 6 frames, 0.075 s, for the tiny recipes'
one convolution of time stride 3 over 25 ms windows, 16 frames, 0.17 s, for DeepSpeech2's
two over 20 ms windows): every output frame then reads zero padding past the audio, input the
model never met in training, and it emits nothing or noise. Such utterances are still decoded
(those under one feature frame get no frames: an empty hypothesis), a warning names them,
recogs marks each with a ``note=too short to decode: <seconds> s`` line and
``results-*.json`` lists them under ``too_short`` (id: seconds).

``tune=true`` (with ``decoder=beam_lm``, on the dev split) computes the acoustic scores once,
decodes them with every (``lm_weight``, ``word_score``) pair of the grid, and stores the pair
of lowest WER in ``<checkpoint stem>.lm-tuning.json`` beside the checkpoint; later
``beam_lm`` decodes with the same LM use it unless given values on the command line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from omegaconf import DictConfig
from torch import Tensor
from tqdm import tqdm

from deepspeech_tt.atomic import write_text
from deepspeech_tt.data.audio import read_audio
from deepspeech_tt.data.errors import DataError, Problem, audio_problem
from deepspeech_tt.data.manifest import Utterance
from deepspeech_tt.decoding.beam import BeamSearchDecoder, BeamSettings
from deepspeech_tt.decoding.config import beam_settings, search_settings, tuning_path
from deepspeech_tt.decoding.inputs import find_utterances
from deepspeech_tt.decoding.lm import LanguageModelError
from deepspeech_tt.decoding.recognizer import Recognizer, load_recognizer
from deepspeech_tt.decoding.scoring import word_errors, write_results, write_skipped
from deepspeech_tt.evaluation.greedy import greedy_decode

log = logging.getLogger(__name__)


class Decoder(Protocol):
    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]: ...


class GreedyDecoder:
    """The best path: likeliest token per frame, repeats merged, blanks dropped."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.tokenizer = recognizer.tokenizer

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        ids = greedy_decode(log_probs, lengths, self.tokenizer.blank)
        return [self.tokenizer.decode(row).strip() for row in ids]


@dataclass
class Scores:
    """Acoustic scores of one batch, and the time they took."""

    rows: list[Utterance]
    log_probs: Tensor  # (B, T, V)
    lengths: Tensor  # (B,)
    samples: Tensor  # (B,) audio samples of each utterance
    seconds: float


def decode(cfg: DictConfig) -> dict[str, Any]:
    """Run the decode ``cfg`` describes (``DecodeConfig``); returns what ``results-*.json`` holds.

    Raises:
        CheckpointError, LanguageModelError, DataError: before decoding starts.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    recognizer = load_recognizer(cfg.checkpoint, cfg.device)
    lm = _lm_path(cfg, recognizer) if cfg.decoder == "beam_lm" else None
    settings = beam_settings(cfg, recognizer.path, lm)
    decoder = _decoder(cfg, recognizer, settings, lm)  # a bad LM fails here, before any audio
    inputs = find_utterances(cfg.audio, recognizer.config.data)
    problems = list(inputs.problems)
    out = Path(cfg.out) if cfg.out else _run_dir(recognizer.path) / "decode"
    name = f"{inputs.name}-{cfg.decoder}"
    if cfg.tune:
        try:
            return tune(cfg, recognizer, inputs.utterances, problems, lm)
        finally:
            _report_problems(problems, write_skipped(out, name, problems))
    ids, refs, hyps = [], [], []
    too_short: dict[str, float] = {}
    audio_seconds = model_seconds = search_seconds = 0.0
    for scores in acoustic_scores(recognizer, inputs.utterances, cfg.batch_seconds, problems):
        started = time.perf_counter()
        texts = decoder.decode(scores.log_probs, scores.lengths)
        search_seconds += time.perf_counter() - started
        model_seconds += scores.seconds
        audio_seconds += sum(row.duration for row in scores.rows)
        ids += [row.id for row in scores.rows]
        refs += [row.text for row in scores.rows]
        hyps += texts
        too_short.update(_too_short(recognizer, scores))
    _report_problems(problems, write_skipped(out, name, problems))
    if not ids:
        raise DataError(f"audio={cfg.audio}: no utterance could be decoded")
    _report_too_short(too_short, recognizer)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    ids, refs, hyps = ([xs[i] for i in order] for xs in (ids, refs, hyps))
    notes = {i: f"too short to decode: {seconds:.2f} s" for i, seconds in too_short.items()}
    errors = write_results(out, name, ids, refs, hyps, notes)
    if cfg.print_transcripts:
        print("\n".join(f"{i} {h}" for i, h in zip(ids, hyps, strict=True)))
    results = {
        "checkpoint": str(recognizer.path.resolve()), "audio": cfg.audio, "split": inputs.name,
        "decoder": cfg.decoder, "utterances": len(ids), "skipped": len(problems),
        "too_short": {i: round(seconds, 3) for i, seconds in sorted(too_short.items())},
        "audio_seconds": round(audio_seconds, 3),
        "wer": None if errors is None else errors[0].rate,
        "cer": None if errors is None else errors[1].rate,
        "rtf": (model_seconds + search_seconds) / audio_seconds,
        "rtf_search": search_seconds / audio_seconds,
        "lm": None if lm is None else str(lm.resolve()),
        "lm_weight": settings.lm_weight if lm else None,
        "word_score": settings.word_score if lm else None,
        "beam_size": None if cfg.decoder == "greedy" else settings.beam_size,
    }  # fmt: skip
    write_text(out / f"results-{name}.json", json.dumps(results, indent=2) + "\n")
    _log_summary(name, results, out)
    return results


def tune(
    cfg: DictConfig,
    recognizer: Recognizer,
    rows: Sequence[Utterance],
    problems: list[Problem],
    lm: Path | None,
) -> dict[str, Any]:
    """Grid-search ``lm_weight`` x ``word_score`` by WER on ``rows``; store and return the best."""
    assert lm is not None
    batches = list(acoustic_scores(recognizer, rows, cfg.batch_seconds, problems))
    references = [row.text for scores in batches for row in scores.rows]
    if not any(references):
        raise DataError(f"audio={cfg.audio}: tuning needs references; use the dev split")
    grid = []
    pairs = [(w, s) for w in cfg.tune_lm_weights for s in cfg.tune_word_scores]
    words = _extra_words(cfg)
    loaded = BeamSearchDecoder(recognizer.tokenizer, search_settings(cfg, 0.0, 0.0), lm, words)
    for weight, bonus in tqdm(pairs, desc="tuning", unit="pair"):
        decoder = loaded.with_settings(search_settings(cfg, lm_weight=weight, word_score=bonus))
        hyps = [text for s in batches for text in decoder.decode(s.log_probs, s.lengths)]
        wer = word_errors(references, hyps).rate
        grid.append({"lm_weight": weight, "word_score": bonus, "wer": wer})
        log.info("lm_weight %.2f word_score %.2f: WER %.4f", weight, bonus, wer)
    best = min(grid, key=lambda row: row["wer"])
    _warn_on_edge(best, cfg)
    tuned = {"lm": str(lm.resolve()), "audio": cfg.audio, **best, "grid": grid}
    path = write_text(tuning_path(recognizer.path), json.dumps(tuned, indent=2) + "\n")
    log.info("best: lm_weight %.2f, word_score %.2f (WER %.4f) -> %s", best["lm_weight"],
             best["word_score"], best["wer"], path)  # fmt: skip
    return tuned


def acoustic_scores(
    recognizer: Recognizer, rows: Sequence[Utterance], batch_seconds: float,
    problems: list[Problem], progress: bool = True,
) -> Iterator[Scores]:  # fmt: skip
    """Log-probabilities of ``rows`` batch by batch; unreadable audio joins ``problems``."""
    rate = recognizer.features.sample_rate
    with tqdm(total=len(rows), unit="utt", desc="decoding", disable=not progress) as bar:
        for batch in _batches(rows, batch_seconds):
            started = time.perf_counter()
            waves, kept = [], []
            for row in batch:
                try:
                    waves.append(read_audio(row.audio, row.offset, row.duration or None, rate))
                    kept.append(row)
                except DataError as error:
                    problems.append(audio_problem(row.id, row.audio, error))
            bar.update(len(batch))
            if not kept:
                continue
            lengths = torch.tensor([w.numel() for w in waves])
            audio = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
            log_probs, out_lengths = _log_probs(recognizer, audio, lengths)
            yield Scores(kept, log_probs.cpu(), out_lengths.cpu(), lengths,
                         time.perf_counter() - started)  # fmt: skip


def _log_probs(recognizer: Recognizer, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """``recognizer.log_probs``, where audio shorter than one feature frame gets no frames.

    The model needs at least one frame a row; those rows are left out of its batch.
    """
    framed = torch.as_tensor(recognizer.features.num_frames(lengths)) > 0  # (B,)
    if framed.all():
        return recognizer.log_probs(audio, lengths)
    vocab, batch = recognizer.tokenizer.vocab_size, len(lengths)
    if not framed.any():
        return torch.zeros(batch, 0, vocab), torch.zeros_like(lengths)
    some, some_lengths = recognizer.log_probs(audio[framed], lengths[framed])
    log_probs = some.new_zeros(batch, some.shape[1], vocab)  # (B, T, V)
    out_lengths = some_lengths.new_zeros(batch)
    log_probs[framed.to(some.device)], out_lengths[framed.to(some.device)] = some, some_lengths
    return log_probs, out_lengths


def _batches(rows: Sequence[Utterance], batch_seconds: float) -> Iterator[list[Utterance]]:
    """Longest first, each batch's padded length (longest x count) within ``batch_seconds``."""
    batch: list[Utterance] = []
    for row in sorted(rows, key=lambda r: -r.duration):
        if batch and batch[0].duration * (len(batch) + 1) > batch_seconds:
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch


def _decoder(
    cfg: DictConfig, recognizer: Recognizer, settings: BeamSettings, lm: Path | None
) -> Decoder:
    if cfg.decoder == "greedy":
        return GreedyDecoder(recognizer)
    return BeamSearchDecoder(recognizer.tokenizer, settings, lm, _extra_words(cfg))


def _warn_on_edge(best: dict[str, Any], cfg: DictConfig) -> None:
    """A best value at the end of its grid may not be the best: say which grid to widen."""
    for key, grid in (("lm_weight", cfg.tune_lm_weights), ("word_score", cfg.tune_word_scores)):
        if len(grid) > 1 and best[key] in (min(grid), max(grid)):
            log.warning("best %s %s is at the end of tune_%ss=%s: a wider grid may do better",
                        key, best[key], key, list(grid))  # fmt: skip


def _lm_path(cfg: DictConfig, recognizer: Recognizer) -> Path:
    path = Path(cfg.lm) if cfg.lm else Path(recognizer.config.data.root) / "lm" / "3gram.arpa"
    if not path.is_file():
        hint = (
            "" if cfg.lm else " (the default for this checkpoint's data; build it with `make lm`)"
        )
        raise LanguageModelError(f"{path}: no such language model file{hint}")
    return path


def _extra_words(cfg: DictConfig) -> list[str]:
    if not cfg.lexicon:
        return []
    path = Path(cfg.lexicon)
    if not path.is_file():
        raise LanguageModelError(f"lexicon={path}: no such file")
    return path.read_text(encoding="utf-8").split()


def _run_dir(checkpoint: Path) -> Path:
    """The training run a checkpoint belongs to (``<run>/checkpoints/x.ckpt``), else its dir."""
    parent = checkpoint.resolve().parent
    return parent.parent if parent.name == "checkpoints" else parent


def shortest_decodable(recognizer: Recognizer) -> int:
    """The fewest audio samples the model decodes: those its first output frame reads.

    That frame reads feature frames up to ``conv.last_input_frame(0)``; feature frame ``t``
    ends at sample ``t * hop + window`` (see ``FeatureExtractor.num_frames``).
    """
    features = recognizer.features
    return recognizer.model.conv.last_input_frame(0) * features.hop_length + features.win_length


def _too_short(recognizer: Recognizer, scores: Scores) -> dict[str, float]:
    """{id: seconds} of the utterances of ``scores`` shorter than ``shortest_decodable``."""
    shortest, rate = shortest_decodable(recognizer), recognizer.features.sample_rate
    samples = scores.samples.tolist()
    return {row.id: n / rate for row, n in zip(scores.rows, samples, strict=True) if n < shortest}


def _report_too_short(too_short: dict[str, float], recognizer: Recognizer) -> None:
    if too_short:
        seconds = shortest_decodable(recognizer) / recognizer.features.sample_rate
        listed = ", ".join(f"{i} ({s:.2f} s)" for i, s in sorted(too_short.items()))
        log.warning("%d utterances too short to decode (the model needs %.3f s), their "
                    "hypotheses marked in the results: %s", len(too_short), seconds,
                    listed)  # fmt: skip


def _report_problems(problems: Sequence[Problem], listing: Path | None) -> None:
    if problems:
        lines = "".join(f"\n  {problem}" for problem in problems)
        log.warning("%d left out of the decode (listed in %s):%s", len(problems), listing, lines)


def _log_summary(name: str, results: dict[str, Any], out: Path) -> None:
    scores = "" if results["wer"] is None else (
        f"WER {results['wer']:.4f}, CER {results['cer']:.4f}, ")  # fmt: skip
    log.info("%s: %d utterances (%.1f s), %sRTF %.4f (search %.4f) -> %s", name,
             results["utterances"], results["audio_seconds"], scores, results["rtf"],
             results["rtf_search"], out)  # fmt: skip
