"""Exact resume: a run SIGKILLed at any moment and resumed is the run that was never stopped.

The drill: a run killed at step 4 and resumed matched the uninterrupted run for steps 0-3 only;
its epochs then ended at step 10 instead of 14 and its losses differed. Here a short CPU run
with every source of randomness on (dropout, SpecAugment, speed perturbation in a loader
worker) is killed with SIGKILL mid-epoch, at an epoch's first step and halfway through writing
a checkpoint, then resumed; every loss it logged, its validation steps and its final weights
must equal those of the run that was never stopped.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.reliability.helpers import run_python

pytestmark = pytest.mark.slow

RUN = (
    "data.max_frames=1500", "trainer.max_steps=13", "trainer.limit_val_batches=1",
    "trainer.checkpoint.every_n_steps=1", "model.dropout=0.2", "data.num_workers=1",
    "data.speed_perturbation=[0.9,1.0,1.1]", "features.spec_augment.freq_masks=1",
    "features.spec_augment.time_masks=1", "trainer.test_after_fit=false",
)  # fmt: skip
"""12 utterances in batches of at most 15 s: about 6 batches an epoch, validated at each end."""


def _run(run_dir: Path, overrides: list[str], *kill: str) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "tests.reliability.killable_run", *kill, str(run_dir), *overrides,
                      timeout=600)


def _scalars(run_dir: Path, tag: str) -> dict[int, float]:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    if tag not in events.Tags()["scalars"]:
        return {}
    return {event.step: event.value for event in events.Scalars(tag)}


@pytest.fixture(scope="module")
def overrides(training_overrides: Callable[..., list[str]]) -> list[str]:
    return training_overrides(*RUN)


@pytest.fixture(scope="module")
def whole(overrides: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run that was never stopped."""
    run_dir = tmp_path_factory.mktemp("whole")
    result = _run(run_dir, overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.mark.parametrize(
    "kill",
    [("--kill-at-step", "6"), ("--kill-at-step", "9"), ("--kill-in-save", "3")],
    ids=["at-an-epoch-start", "mid-epoch", "during-a-save"],
)
def test_a_killed_run_resumes_to_the_same_losses_validations_and_weights(
    whole: Path, overrides: list[str], tmp_path: Path, kill: tuple[str, str]
) -> None:
    killed = _run(tmp_path / "killed", overrides, *kill)
    assert killed.returncode == -9, killed.stderr[-3000:]  # SIGKILL
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    resumed = _run(tmp_path / "resumed", [*overrides, f"resume={last}"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    expected = _scalars(whole, "train/loss")
    assert sorted(expected) == list(range(13))
    for run in ("killed", "resumed"):
        for step, loss in _scalars(tmp_path / run, "train/loss").items():
            assert loss == expected[step], f"{run} run, step {step}: {loss} != {expected[step]}"
    got = {**_scalars(tmp_path / "killed", "val/wer"), **_scalars(tmp_path / "resumed", "val/wer")}
    assert got == _scalars(whole, "val/wer")
    final = [torch.load(d / "checkpoints/last.ckpt", weights_only=True) for d in
             (whole, tmp_path / "resumed")]  # fmt: skip
    assert final[0]["global_step"] == final[1]["global_step"] == 13
    assert final[0]["epoch"] == final[1]["epoch"]
    for name, value in final[0]["state_dict"].items():
        torch.testing.assert_close(final[1]["state_dict"][name], value, rtol=0, atol=0, msg=name)


def test_the_temporary_file_of_a_killed_save_is_removed_by_the_next_save(
    overrides: list[str], tmp_path: Path
) -> None:
    killed = _run(tmp_path / "killed", [*overrides, "trainer.max_steps=4"], "--kill-in-save", "2")
    assert killed.returncode == -9
    directory = tmp_path / "killed" / "checkpoints"
    (stale,) = directory.glob(".*.tmp")
    resumed = _run(tmp_path / "resumed", [*overrides, "trainer.max_steps=4",
                                          f"resume={directory / 'last.ckpt'}"])  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # the resumed run saves into its own directory; a run writing into the killed one cleans it
    again = _run(tmp_path / "killed", [*overrides, "trainer.max_steps=1"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert not stale.exists()
