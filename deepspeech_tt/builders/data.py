"""Data of the ``data``, ``features`` and ``tokenizer`` config groups, prepared once and cached.

The first run of a config does the slow work and keeps it in ``data.manifest_dir`` (default
``<data.root>/manifests``); later runs read it back::

    <manifest_dir>/<split>.jsonl            checked manifest of each split (prepare_manifest)
    <manifest_dir>/<split>.cache.json       how it was made: format, skip_bad, source files
    <manifest_dir>/tokenizer-<key>.pt       the tokenizer's state (BPE trained on train text)
    <manifest_dir>/features-<key>.pt        the feature extractor with its fitted statistics

``<key>`` is a hash of the settings, the training splits and the training utterances' ids it
depends on. A split's manifest is prepared again, with a log line saying why, when its record
no longer matches: another format or ``data.root``, changed source files, or a run without
``data.skip_bad`` after one with it that left utterances out. The embedded corpus is
synthesised into ``data.root`` first when ``data.generate_hours`` is set and it is missing.
Delete the directory to prepare again. Processes preparing the same directory at once (DDP
started by torchrun or SLURM) take turns through a lock file; the second finds the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from deepspeech_tt.checkpoints import CheckpointError, read_checkpoint, save_atomically
from deepspeech_tt.data.audio import read_audio
from deepspeech_tt.data.augment import SpecAugment
from deepspeech_tt.data.cache import cached_manifest
from deepspeech_tt.data.dataset import filter_utterances
from deepspeech_tt.data.features import FeatureExtractor
from deepspeech_tt.data.manifest import Utterance
from deepspeech_tt.data.tokenizer import (
    BpeTokenizer,
    CharTokenizer,
    Tokenizer,
    tokenizer_from_state,
)
from deepspeech_tt.training.data_module import BatchingSettings, SpeechDataModule

log = logging.getLogger(__name__)


@dataclass
class PreparedData:
    train: list[Utterance]  # training utterances (all of them; filtered with the model later)
    dev: list[Utterance]  # dev utterances
    test: list[Utterance]  # held-out utterances, decoded after training
    tokenizer: Tokenizer  # CharTokenizer or BpeTokenizer
    features: FeatureExtractor  # with its normalisation statistics fitted


def build_data(cfg: DictConfig) -> PreparedData:
    """Manifests, tokenizer and feature extractor of ``cfg``, from the cache when there."""
    data = cfg.data
    root = Path(data.root)
    if data.generate_hours is not None:
        _ensure_corpus(root, float(data.generate_hours), cfg.seed)
    cache = Path(data.manifest_dir) if data.manifest_dir else root / "manifests"
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / ".prepare.lock"):
        train = _manifest(data, data.train, cache)
        dev = _manifest(data, data.dev, cache)
        test = _manifest(data, data.test, cache)
        tokenizer = _tokenizer(cfg, train, cache)
        features = _feature_extractor(cfg, train, cache)
    return PreparedData(train=train, dev=dev, test=test, tokenizer=tokenizer, features=features)


def build_datamodule(cfg: DictConfig, data: PreparedData, model: nn.Module) -> SpeechDataModule:
    """Loaders of the training utterances CTC can use and of the dev and test utterances.

    Training utterances outside ``[min_duration, max_duration]`` or with more labels than the
    model has output frames for are dropped, and the report is logged.
    """
    d = cfg.data
    hop = cfg.features.hop_ms / 1000
    train, report = filter_utterances(
        data.train, d.min_duration, d.max_duration, tokenizer=data.tokenizer,
        output_frames=model.output_lengths, hop_seconds=hop,  # type: ignore[arg-type]
    )  # fmt: skip
    log.info("training data: %s", report.summary())
    dev = _evaluated(data.dev, "dev", d.max_frames * hop)
    test = _evaluated(data.test, "test", d.max_frames * hop)
    speed = None if d.speed_perturbation is None else tuple(d.speed_perturbation)
    batching = BatchingSettings(
        max_frames=d.max_frames, hop_seconds=hop, num_buckets=d.num_buckets,
        sorta_grad=d.sorta_grad, num_workers=d.num_workers, speed_perturbation=speed,
        seed=cfg.seed,
    )  # fmt: skip
    return SpeechDataModule(train, dev, data.tokenizer, batching, test=test)


def _evaluated(rows: Sequence[Utterance], split: str, longest: float) -> list[Utterance]:
    """The utterances of an evaluation split that fit a batch alone; a warning names the rest."""
    kept, report = filter_utterances(rows, max_duration=longest)
    if report.kept < report.total:
        log.warning("%s data: %s", split, report.summary())
    return kept


def _ensure_corpus(root: Path, hours: float, seed: int) -> None:
    from deepspeech_tt.data.synth import generate_corpus, read_summary

    if read_summary(root) is None:
        log.info("synthesising the embedded corpus (%.2f h of training audio) into %s", hours, root)
        generate_corpus(root, hours=hours, seed=seed)


def _manifest(data: DictConfig, splits: Sequence[str], cache: Path) -> list[Utterance]:
    """The rows of ``splits`` joined, each split prepared once (again when its source or
    ``skip_bad`` no longer match the manifest's record: ``deepspeech_tt.data.cache``)."""
    rows: list[Utterance] = []
    for split in splits:
        path = cache / f"{split.replace('/', '_')}.jsonl"
        rows.extend(cached_manifest(Path(data.root) / split, path, format=data.format,
                                    skip_bad=data.skip_bad, workers=2))  # fmt: skip
    return rows


def _tokenizer(cfg: DictConfig, train: Sequence[Utterance], cache: Path) -> Tokenizer:
    settings = cfg.tokenizer
    if settings.kind == "char":
        return CharTokenizer()
    if settings.kind != "bpe":
        raise ValueError(f"unknown tokenizer kind {settings.kind!r}; choose 'char' or 'bpe'")
    path = cache / f"tokenizer-{_key(settings, cfg.data.train, _ids(train))}.pt"
    if (state := _read_cached(path)) is not None:
        return tokenizer_from_state(state)
    log.info("training a %d-piece BPE tokenizer on %d transcripts", settings.vocab_size,
             len(train))  # fmt: skip
    tokenizer = BpeTokenizer.train([row.text for row in train], vocab_size=settings.vocab_size)
    save_atomically(tokenizer.state_dict(), path)
    return tokenizer


def _feature_extractor(
    cfg: DictConfig, train: Sequence[Utterance], cache: Path
) -> FeatureExtractor:
    f = cfg.features
    extractor = build_feature_extractor(f)
    if f.normalize != "global":
        return extractor
    settings = {name: f[name] for name in ("kind", "sample_rate", "window_ms", "hop_ms", "n_mels")}
    key = _key(settings, cfg.data.train, cfg.data.stats_utterances, _ids(train))
    path = cache / f"features-{key}.pt"
    if (state := _read_cached(path)) is not None:
        extractor.load_state_dict(state)
        return extractor
    step = max(len(train) // cfg.data.stats_utterances, 1)  # spread over speakers and lengths
    rows = list(train)[::step][: cfg.data.stats_utterances]
    log.info("fitting feature statistics on %d training utterances", len(rows))
    extractor.fit_normalization(_one_by_one(rows))
    save_atomically(extractor.state_dict(), path)
    return extractor


def _read_cached(path: Path) -> dict[str, Any] | None:
    """A file ``save_atomically`` wrote to the cache, its digest checked and removed; None where
    there is none or it is damaged (it is then computed again and replaced)."""
    if not path.is_file():
        return None
    try:
        return read_checkpoint(path, ours=False)
    except CheckpointError as error:
        log.warning("%s; computing it again", error)
        return None


def build_feature_extractor(features: DictConfig) -> FeatureExtractor:
    """The ``features`` group's extractor, statistics not yet fitted or loaded."""
    f = features
    return FeatureExtractor(
        kind=f.kind, sample_rate=f.sample_rate, window_ms=f.window_ms, hop_ms=f.hop_ms,
        n_mels=f.n_mels, normalize=f.normalize,
    )  # fmt: skip


def _one_by_one(rows: Sequence[Utterance]) -> Iterator[tuple[Tensor, Tensor]]:
    """(audio (1, S), lengths (1,)) of each utterance in turn."""
    for row in rows:
        audio = read_audio(row.audio, row.offset, row.duration)
        yield audio.unsqueeze(0), torch.tensor([audio.numel()])


def _key(*settings: Any) -> str:
    """A short hash of config nodes and values: the cache file of one set of settings."""
    plain = [OmegaConf.to_container(s) if OmegaConf.is_config(s) else s for s in settings]
    text = json.dumps(plain, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _ids(rows: Sequence[Utterance]) -> str:
    """A hash of the utterance ids: a fitted cache follows the rows it was fitted on."""
    return hashlib.sha1("\n".join(row.id for row in rows).encode()).hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_augment(features: DictConfig) -> nn.Module | None:
    """SpecAugment of ``features.spec_augment``; None when it masks nothing."""
    s = features.spec_augment
    if s.freq_masks == 0 and s.time_masks == 0:
        return None
    return SpecAugment(freq_masks=s.freq_masks, freq_width=s.freq_width,
                       time_masks=s.time_masks, time_width=s.time_width)  # fmt: skip
