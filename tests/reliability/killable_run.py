"""A training run that SIGKILLs itself at a chosen moment, for the resume drills.

    python -m tests.reliability.killable_run [--kill-at-step N | --kill-in-save N] RUN_DIR
        OVERRIDES...

``--kill-at-step N`` kills the process as optimiser step N starts (after the checkpoints of
step N-1 were written); ``--kill-in-save N`` kills it halfway through writing the first
checkpoint saved at step N, leaving a partly written temporary file beside it. A real
``SIGKILL``: no handler, no cleanup, as a crash or an out-of-memory kill would be.
"""

from __future__ import annotations

import argparse
import os
import signal
from typing import Any

import lightning.pytorch as pl
import torch

from deepspeech_tt import checkpoints
from deepspeech_tt.commands.train import train
from deepspeech_tt.config import compose_config


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _KillAtStep(pl.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            _die()


def _kill_in_save(step: int) -> None:
    save = torch.save

    def saving(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(obj, dict) and obj.get("global_step") == step:
            f.write(b"\0" * 4096)  # half a checkpoint, synced to the temporary file
            f.flush()
            _die()
        save(obj, f, *args, **kwargs)

    checkpoints.torch.save = saving  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--kill-at-step", type=int)
    parser.add_argument("--kill-in-save", type=int)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    callbacks = [] if args.kill_at_step is None else [_KillAtStep(args.kill_at_step)]
    if args.kill_in_save is not None:
        _kill_in_save(args.kill_in_save)
    train(compose_config(args.overrides), args.run_dir, callbacks=callbacks)


if __name__ == "__main__":
    main()
