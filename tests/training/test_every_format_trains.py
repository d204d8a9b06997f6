"""Every format and cell the config can name trains: a few steps each of the hybrid (Lu et al.
2016) and FDHT (Yin et al. 2021) recipes, and of tiny_tt with the other formats and the LSTM."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from deepspeech_tt.commands.train import train
from deepspeech_tt.config import compose_config

pytestmark = pytest.mark.slow


CASES = {
    "hybrid": ("tiny_hybrid",),
    "fdht": ("tiny_fdht",),
    "tr": ("tiny_tt", "rnn=tr", "rank=2"),
    "bt": ("tiny_tt", "rnn=bt", "rank=2"),
    "ht-separate": ("tiny_tt", "rnn=ht", "rank=2", "rnn.layout=separate"),
    "toeplitz-lstm": ("tiny_tt", "rnn=toeplitz", "rank=2", "rnn.rnn_type=lstm"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_recipe_model_trains_a_few_steps(
    case: tuple[str, ...], training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    recipe, *more = case
    overrides = training_overrides(
        "model.rnn_layers=3",  # the recipes' depth: the hybrid shares layer 1's V with layer 2
        "trainer.max_steps=2", "trainer.limit_val_batches=0", "trainer.test_after_fit=false",
        "trainer.checkpoint.every_n_steps=0", "data.max_frames=4000",
    )
    cfg = compose_config([f"recipe={recipe}", *more, *overrides])
    train(cfg, tmp_path, choices={"recipe": recipe})
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    losses = [event.value for event in events.Scalars("train/loss")]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
