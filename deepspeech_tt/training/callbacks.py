"""TensorBoard instruments that are not part of a training step: throughput, gradient norm,
and the run's hyper-parameters next to its results.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from torch.optim import Optimizer
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from deepspeech_tt.data.dataset import Batch

HPARAM_METRICS = (
    "val/wer",
    "val/cer",
    "test/wer",
    "test/cer",
    "model/params_total",
    "model/params_rnn",
)
"""The metrics TensorBoard's HPARAMS tab shows against each run's hyper-parameters."""


class ThroughputMonitor(pl.Callback):
    """Logs ``train/audio_seconds_per_second``: training audio processed per wall second.

    Measured between consecutive logging steps, so loading, features, forward, backward and
    the optimiser all count; per process (multiply by the number of GPUs for the whole run).

    Args:
        sample_rate: samples per second of the batches' audio.
        every_n_steps: optimiser steps between measurements.
    """

    def __init__(self, sample_rate: int = 16_000, every_n_steps: int = 10) -> None:
        self.sample_rate = sample_rate
        self.every_n_steps = max(every_n_steps, 1)
        self._samples = 0
        self._since: float | None = None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Batch,
        batch_idx: int,
    ) -> None:  # fmt: skip
        now = time.perf_counter()
        if self._since is None:  # the first batch includes start-up costs: only start the clock
            self._since = now
            return
        self._samples += int(batch["audio_lengths"].sum())
        if trainer.global_step % self.every_n_steps == 0 and now > self._since:
            rate = self._samples / self.sample_rate / (now - self._since)
            pl_module.log("train/audio_seconds_per_second", rate)
            self._samples, self._since = 0, now

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._samples, self._since = 0, None  # validation time is not training throughput


class GradNormMonitor(pl.Callback):
    """Logs ``train/grad_norm``, the global L2 norm of the gradients before clipping.

    Args:
        every_n_steps: optimiser steps between measurements.
    """

    def __init__(self, every_n_steps: int = 10) -> None:
        self.every_n_steps = max(every_n_steps, 1)

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Optimizer
    ) -> None:
        if trainer.global_step % self.every_n_steps != 0:
            return
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
            pl_module.log("train/grad_norm", norm)


class BestDevScores(pl.Callback):
    """Keeps the dev scores (``val/wer``, ``val/cer``) of the validation with the lowest WER.

    The same validation the best checkpoint is chosen by, so a run's summary reports the dev
    scores of the checkpoint it tests.
    """

    def __init__(self) -> None:
        self.best: dict[str, float] = {}

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        if "val/wer" not in metrics:
            return
        scores: dict[str, float] = {
            name: float(metrics[name]) for name in ("val/wer", "val/cer") if name in metrics
        }
        if not self.best or scores["val/wer"] < self.best["val/wer"]:
            self.best = scores


class HParamsLogger(pl.Callback):
    """Writes the run's hyper-parameters with ``HPARAM_METRICS`` for TensorBoard's HPARAMS tab.

    The parameter counts (and a fine-tuned run's fit errors, ``init/...``) are written once, as
    scalars at step 0; ``val/wer`` and ``val/cer`` are the validation scalars, which
    TensorBoard matches to the hyper-parameters by their tag.
    Needs a ``TensorBoardLogger`` with ``default_hp_metric=False``.

    Args:
        hparams: flat name -> value (numbers, strings, booleans).
        parameters: ``{"model/params_total": n, "model/params_rnn": m}`` and any more scalars.
    """

    def __init__(self, hparams: Mapping[str, Any], parameters: Mapping[str, float]) -> None:
        self.hparams = dict(hparams)
        self.parameters = dict(parameters)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writer = getattr(trainer.logger, "experiment", None)
        if not trainer.is_global_zero or not isinstance(writer, SummaryWriter):
            return
        file_writer = writer._get_file_writer()
        for summary in hparams(self.hparams, dict.fromkeys(HPARAM_METRICS, 0.0)):
            file_writer.add_summary(summary)
        for name, value in self.parameters.items():
            writer.add_scalar(name, value, 0)


def flat_hparams(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``values`` flattened to dotted names, with what TensorBoard cannot show as text."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flat_hparams(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat
