"""The optimiser and learning-rate schedule of the ``optim`` config group."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig
from torch import nn
from torch.optim import SGD, AdamW, Optimizer

from deepspeech_tt.training.module import OptimizerFactory
from deepspeech_tt.training.schedule import warmup_cosine

OPTIMIZERS = ("adamw", "sgd")


def build_optimizers(optim: DictConfig, total_steps: int) -> OptimizerFactory:
    """A factory of the optimiser and its per-step schedule, for ``configure_optimizers``.

    Args:
        optim: the ``optim`` config group.
        total_steps: optimiser steps of the whole run (the schedule's length).
    """
    if optim.name not in OPTIMIZERS:
        raise ValueError(f"unknown optimiser {optim.name!r}; choose one of {list(OPTIMIZERS)}")

    def factory(parameters: Iterable[nn.Parameter]) -> dict[str, Any]:
        optimizer = _optimizer(optim, parameters)
        scheduler = warmup_cosine(optimizer, total_steps, optim.warmup, optim.final_lr_ratio)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler,
                                                         "interval": "step"}}  # fmt: skip

    return factory


def total_optimizer_steps(trainer: DictConfig, batches_per_epoch: int) -> int:
    """The run's optimiser steps: ``max_steps`` if set, else what ``max_epochs`` makes."""
    if trainer.max_steps > 0:
        return int(trainer.max_steps)
    per_epoch = math.ceil(batches_per_epoch / trainer.accumulate_grad_batches)
    return max(per_epoch * trainer.max_epochs, 1)


def _optimizer(optim: DictConfig, parameters: Iterable[nn.Parameter]) -> Optimizer:
    if optim.name == "adamw":
        betas = (float(optim.betas[0]), float(optim.betas[1]))
        return AdamW(parameters, lr=optim.lr, betas=betas, weight_decay=optim.weight_decay)
    return SGD(parameters, lr=optim.lr, momentum=optim.momentum, nesterov=True,
               weight_decay=optim.weight_decay)  # fmt: skip
