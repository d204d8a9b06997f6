"""The hybrid (Lu et al. 2016) and FDHT (Yin et al. 2021) recipes train: a few steps each."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from deepspeech_tt.config import compose_config
from deepspeech_tt.training.run import train

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("recipe", ["tiny_hybrid", "tiny_fdht"])
def test_recipe_model_trains_a_few_steps(
    recipe: str, training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    overrides = training_overrides(
        "model.rnn_layers=3",  # the recipes' depth: the hybrid shares layer 1's V with layer 2
        "trainer.max_steps=2", "trainer.limit_val_batches=0", "trainer.test_after_fit=false",
        "trainer.checkpoint.every_n_steps=0", "data.max_frames=4000",
    )
    train(compose_config([f"recipe={recipe}", *overrides]), tmp_path, choices={"recipe": recipe})
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    losses = [event.value for event in events.Scalars("train/loss")]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
