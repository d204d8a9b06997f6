"""One training run from a composed config: build, check, fit, then test the best checkpoint.

With ``init_from=<checkpoint>`` the run starts from that checkpoint's weights: its features (with
their statistics) and tokenizer are taken over, and its model is fitted into this run's
recurrent formats and ranks (``deepspeech_tt.commands.compress``); the fit table is logged, the
fit errors go to TensorBoard (``init/...``) and the source's path and digest to the hparams,
``summary.json`` and every checkpoint (``provenance``).

When training ends, the checkpoint with the best dev WER (the last weights when no validation
ran) is decoded greedily on ``data.test`` and ``test/wer`` and ``test/cer`` are logged beside
the run's hyper-parameters (``trainer.test_after_fit=false`` leaves it out). Last, the run's
figures go to ``<run_dir>/summary.json`` (``deepspeech_tt.training.summary``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from deepspeech_tt.builders import (
    build_data,
    build_datamodule,
    build_model,
    build_optimizers,
    build_trainer,
    total_optimizer_steps,
)
from deepspeech_tt.builders.data import PreparedData, build_augment, build_feature_extractor
from deepspeech_tt.builders.model import ModelConfigError
from deepspeech_tt.checkpoints import read_checkpoint
from deepspeech_tt.commands.compress import (
    Source,
    check_fits,
    fit_scalars,
    fit_table,
    load_source,
    provenance,
)
from deepspeech_tt.config import check_config
from deepspeech_tt.data.errors import DataError
from deepspeech_tt.data.tokenizer import CharTokenizer
from deepspeech_tt.model import (
    DeepSpeech2,
    count_parameters,
    describe_stack,
    model_summary,
    rnn_parameters,
)
from deepspeech_tt.model.transfer import transfer_weights
from deepspeech_tt.training.callbacks import BestDevScores, HParamsLogger, flat_hparams
from deepspeech_tt.training.checkpoint import check_resumable
from deepspeech_tt.training.data_module import SpeechDataModule
from deepspeech_tt.training.module import SpeechRecognizer
from deepspeech_tt.training.summary import write_run_summary

log = logging.getLogger(__name__)

HPARAMS = ("data.name", "features.kind", "tokenizer.kind", "model.name", "model.rnn_layers",
           "model.hidden_size", "rnn.rnn_type", "rnn.format", "rnn.rank", "rnn.layout",
           "rnn.strategy", "optim.name", "optim.lr", "trainer.precision", "seed",
           "init_from")  # fmt: skip
"""Config values shown in TensorBoard's HPARAMS tab (with the recipe and the run's choices)."""


def train(
    cfg: DictConfig,
    run_dir: str | Path,
    choices: dict[str, Any] | None = None,
    callbacks: Sequence[pl.Callback] = (),
) -> float:
    """Train the model ``cfg`` describes; checkpoints and TensorBoard logs go under ``run_dir``.

    Args:
        cfg: the composed config (``conf/config.yaml`` and overrides).
        run_dir: the run's output directory (Hydra's, under ``outputs/``).
        choices: the config-group choices (``{"recipe": "tiny_tt", ...}``), for the hparams.
        callbacks: more Lightning callbacks.

    Returns:
        The best dev WER (NaN if no validation ran), for Hydra sweepers.
    """
    check_config(cfg)
    _check_model_builds(cfg)
    if cfg.resume:
        check_resumable(cfg, read_checkpoint(cfg.resume))
    source = None
    if cfg.init_from:
        source = load_source(cfg.init_from)
        check_fits(source, cfg, "init_from")
    started = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    data = build_data(cfg)
    if source is not None:
        data = _source_front_end(data, source)
    model = build_model(cfg, data.features.feature_dim, data.tokenizer.vocab_size)
    origin = None if source is None else _initialise(model, source)
    log.info("model:\n%s", model_summary(model))
    datamodule = build_datamodule(cfg, data, model)
    _check_training_data(cfg, datamodule, len(data.train))
    parameters = {"model/params_total": count_parameters(model),
                  "model/params_rnn": rnn_parameters(model)}  # fmt: skip
    stack = describe_stack(model, cfg.rnn.rnn_type)
    hparams = {**_hparams(cfg, choices or {}), "rnn.label": stack.label}
    if origin is not None:
        hparams.update({"init_from.blake2b": origin["source_blake2b"],
                        "init_from.max_error": origin["max_error"]})  # fmt: skip
    dev_scores = BestDevScores()
    scalars = {**parameters, **({} if origin is None else fit_scalars(origin))}
    monitors = [HParamsLogger(hparams, scalars), dev_scores, *callbacks]
    trainer = build_trainer(cfg, run_dir, callbacks=monitors)
    steps = total_optimizer_steps(cfg.trainer, _batches_per_epoch(datamodule, trainer))
    module = SpeechRecognizer(
        data.features, model, data.tokenizer, build_optimizers(cfg.optim, steps),
        augment=build_augment(cfg.features), config=_plain(cfg),
        examples=cfg.trainer.example_transcripts, provenance=origin,
    )  # fmt: skip
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.resume)
    test: dict[str, float] = {}
    if cfg.trainer.test_after_fit and datamodule.test_rows:
        test = _test(trainer, module, datamodule)
    if trainer.is_global_zero:
        write_run_summary(
            run_dir, recipe=(choices or {}).get("recipe"), rnn=cfg.rnn, stack=stack,
            parameters=parameters,
            dev=dev_scores.best, test=test, best_checkpoint=_best_checkpoint(trainer),
            train_seconds=time.perf_counter() - started, provenance=module.provenance,
        )  # fmt: skip
    return _best_wer(trainer)


def _check_model_builds(cfg: DictConfig) -> None:
    """Build the model once before any data is read: a rank that cannot fit a layer fails now.

    The vocabulary size only sizes the output layer, so the character tokenizer's (or the
    configured BPE size) stands in for the tokenizer the data will give.
    """
    features = build_feature_extractor(cfg.features)
    vocab = cfg.tokenizer.vocab_size if cfg.tokenizer.kind == "bpe" else CharTokenizer().vocab_size
    build_model(cfg, features.feature_dim, vocab)


def _source_front_end(data: PreparedData, source: Source) -> PreparedData:
    """``data`` with the source's feature extractor (its statistics) and tokenizer."""
    recognizer = source.recognizer
    return dataclasses.replace(data, features=recognizer.features.train(),
                               tokenizer=recognizer.tokenizer)  # fmt: skip


def _initialise(model: DeepSpeech2, source: Source) -> dict[str, Any]:
    """Fit ``source``'s weights into ``model``, log the fit table; the run's provenance."""
    try:
        fits = transfer_weights(source.recognizer.model, model)
    except ValueError as error:
        raise ModelConfigError(f"init_from={source.path}: {error}") from None
    log.info("weights from init_from=%s (BLAKE2b %s...):\n%s", source.path,
             source.blake2b[:16], fit_table(fits))  # fmt: skip
    return provenance(source, fits, fine_tuned=True)


def _check_training_data(cfg: DictConfig, datamodule: SpeechDataModule, total: int) -> None:
    """Fail, saying why, when the run would train zero steps."""
    if not datamodule.train_rows:
        raise DataError(
            f"no training utterance left: all {total} of data.train={list(cfg.data.train)} were "
            f"dropped (shorter than data.min_duration={cfg.data.min_duration} s, longer than "
            f"data.max_duration={cfg.data.max_duration} s, or more labels than output frames; "
            "the 'training data:' line above counts each reason)"
        )


def _test(
    trainer: pl.Trainer, module: pl.LightningModule, datamodule: SpeechDataModule
) -> dict[str, float]:
    """Greedy WER and CER of the best checkpoint (or the last weights) on ``data.test``."""
    best = _best_checkpoint(trainer)
    results = trainer.test(module, datamodule=datamodule, ckpt_path=best, verbose=False)
    if not results:
        return {}
    scores = {name: float(results[0][name]) for name in ("test/wer", "test/cer")}
    log.info("test (%s): WER %.4f, CER %.4f", best or "last weights", scores["test/wer"],
             scores["test/cer"])  # fmt: skip
    return scores


def _batches_per_epoch(datamodule: pl.LightningDataModule, trainer: pl.Trainer) -> int:
    datamodule.trainer = trainer  # the loader shards by the trainer's world size
    try:
        return len(datamodule.train_dataloader())
    except ValueError as error:  # too few batches for the DDP replicas
        raise DataError(f"the training data cannot be batched: {error}") from None


def _hparams(cfg: DictConfig, choices: dict[str, Any]) -> dict[str, Any]:
    values = {name: OmegaConf.select(cfg, name) for name in HPARAMS}
    groups = {f"choice.{group}": str(option) for group, option in choices.items()
              if "/" not in group}  # fmt: skip
    return flat_hparams({**groups, **values})


def _plain(cfg: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    return {str(key): value for key, value in container.items()}


def _best_wer(trainer: pl.Trainer) -> float:
    callback = _by_dev_wer(trainer)
    score = None if callback is None else callback.best_model_score
    return float("nan") if score is None else float(score)


def _best_checkpoint(trainer: pl.Trainer) -> str | None:
    callback = _by_dev_wer(trainer)
    return (callback.best_model_path or None) if callback is not None else None


def _by_dev_wer(trainer: pl.Trainer) -> ModelCheckpoint | None:
    """The checkpoint callback that keeps the best models by dev WER."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.monitor == "val/wer":
            return callback
    return None
