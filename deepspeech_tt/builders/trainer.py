"""The Lightning ``Trainer`` of the ``trainer`` config group: logger, checkpoints, monitors.

Everything a run writes goes under its run directory (Hydra's output dir)::

    <run_dir>/events.out.tfevents.*     TensorBoard: tensorboard --logdir outputs
    <run_dir>/checkpoints/best-*.ckpt   the best by dev WER (save_top_k of them)
    <run_dir>/checkpoints/last.ckpt     the latest, for resume=<path>
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig

from deepspeech_tt.training.callbacks import GradNormMonitor, ThroughputMonitor
from deepspeech_tt.training.checkpoint import AtomicCheckpointIO


def build_trainer(
    cfg: DictConfig, run_dir: str | Path, callbacks: Sequence[Callback] = ()
) -> pl.Trainer:
    """A trainer logging to TensorBoard in ``run_dir`` and checkpointing to ``run_dir/checkpoints``.

    Args:
        cfg: the whole config (reads ``trainer``, ``features.sample_rate``).
        run_dir: the run's output directory.
        callbacks: more callbacks (e.g. ``HParamsLogger``).
    """
    t = cfg.trainer
    run_dir = Path(run_dir)
    logger = TensorBoardLogger(save_dir=run_dir, name="", version="", default_hp_metric=False)
    return pl.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=t.precision,
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        max_time=t.max_time,
        accumulate_grad_batches=t.accumulate_grad_batches,
        gradient_clip_val=t.gradient_clip_val or None,
        gradient_clip_algorithm="norm",
        log_every_n_steps=t.log_every_n_steps,
        val_check_interval=_val_check_interval(t.val_check_interval),
        limit_val_batches=t.limit_val_batches,
        num_sanity_val_steps=t.num_sanity_val_steps,
        enable_progress_bar=t.enable_progress_bar,
        use_distributed_sampler=False,  # DurationBatchSampler shards itself
        reload_dataloaders_every_n_epochs=1,  # each epoch as long as its plan (exact resume)
        logger=logger,
        callbacks=[
            *_checkpoints(run_dir / "checkpoints", t.checkpoint),
            *_monitors(cfg),
            *callbacks,
        ],
        plugins=[AtomicCheckpointIO()],
        default_root_dir=run_dir,
    )


def _checkpoints(directory: Path, checkpoint: DictConfig) -> list[Callback]:
    best = ModelCheckpoint(
        dirpath=directory,
        filename="best-step{step}-wer{val/wer:.4f}",
        auto_insert_metric_name=False,
        monitor="val/wer",
        mode="min",
        save_top_k=checkpoint.save_top_k,
        save_last=True,
        enable_version_counter=False,  # both callbacks keep one last.ckpt, the newest state
    )
    if checkpoint.every_n_steps <= 0:
        return [best]
    latest = ModelCheckpoint(
        dirpath=directory, save_top_k=0, save_last=True,
        every_n_train_steps=checkpoint.every_n_steps, enable_version_counter=False,
    )  # fmt: skip
    return [best, latest]


def _monitors(cfg: DictConfig) -> list[Callback]:
    return [
        LearningRateMonitor(logging_interval="step"),
        GradNormMonitor(cfg.trainer.log_every_n_steps),
        ThroughputMonitor(cfg.features.sample_rate, cfg.trainer.log_every_n_steps),
    ]


def _val_check_interval(value: float) -> float | int:
    """Lightning reads a float as a fraction of the epoch and an int as a number of batches."""
    return int(value) if value > 1 else float(value)
