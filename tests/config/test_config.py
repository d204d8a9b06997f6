"""The config composes for every recipe, builds its model, and refuses what it does not know."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from deepspeech_tt.builders import build_model
from deepspeech_tt.builders.model import ModelConfigError
from deepspeech_tt.config import compose_config, config_from_checkpoint
from deepspeech_tt.config.compose import CONFIG_DIR
from deepspeech_tt.model import count_parameters

RECIPES = sorted(path.stem for path in (CONFIG_DIR / "recipe").glob("*.yaml"))
NUM_FEATURES = {"logspec": 161, "logmel": 80}  # DeepSpeech2's 20 ms spectrogram; 80 mel bands
CHAR_VOCAB = 29  # blank, space, apostrophe, A-Z
# recipe names that do not say rnn.format
RECIPE_FORMATS = {"hybrid": "toeplitz", "fdht": "ht", "finetune": "tt"}


def _model(overrides: list[str]):
    cfg = compose_config(overrides)
    return cfg, build_model(cfg, NUM_FEATURES[cfg.features.kind], CHAR_VOCAB)


def test_the_issue_recipes_are_all_there() -> None:
    expected = {"tiny_tt", "tiny_dense", "tiny_cp", "tiny_tucker", "tiny_lowrank",
                "librispeech_tt", "librispeech_dense", "wsj_tt"}  # fmt: skip
    assert expected <= set(RECIPES)


def test_the_default_is_tiny_tt() -> None:
    cfg = compose_config()
    assert (cfg.data.name, cfg.model.name, cfg.rnn.format) == ("tiny", "tiny", "tt")


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_composes_and_builds_its_model(recipe: str) -> None:
    cfg, model = _model([f"recipe={recipe}"])
    assert cfg.rnn.format == RECIPE_FORMATS.get(recipe.split("_")[1], recipe.split("_")[1])
    assert count_parameters(model) > 0


def test_rank_is_defined_once_and_reaches_every_layer() -> None:
    cfg4, model4 = _model(["recipe=tiny_tt", "rank=4"])
    cfg8, model8 = _model(["recipe=tiny_tt", "rank=8"])
    assert (cfg4.rnn.rank, cfg8.rnn.rank) == (4, 8)
    assert {layer.spec.rank for layer in model8.rnns} == {8}
    assert count_parameters(model4) < count_parameters(model8)


def test_librispeech_tt_takes_rank_as_written() -> None:
    cfg = compose_config(["recipe=librispeech_tt", "rank=4"])
    assert (cfg.data.name, cfg.model.name, cfg.rnn.rank, cfg.trainer.accelerator) == (
        "librispeech", "ds2", 4, "gpu",
    )  # fmt: skip


def test_command_line_group_choice_beats_the_recipe() -> None:
    cfg = compose_config(["recipe=librispeech_tt", "trainer=cpu", "rnn=cp"])
    assert (cfg.trainer.accelerator, cfg.rnn.format, cfg.model.name) == ("cpu", "cp", "ds2")


def test_layers_can_stay_dense() -> None:
    _, model = _model(["rnn.dense_layers=[0]"])
    assert [layer.spec.format for layer in model.rnns] == ["dense", "tt", "tt"]


@pytest.mark.parametrize(
    ("override", "message"),
    [("recipe=nope", "Available options in 'recipe'"), ("rnn=nope", "Available options in 'rnn'")],
)
def test_unknown_group_option_lists_the_valid_ones(override: str, message: str) -> None:
    with pytest.raises(HydraException, match=message) as error:
        compose_config([override])
    assert "tiny_tt" in str(error.value) or "lowrank" in str(error.value)


@pytest.mark.parametrize("override", ["foo=1", "data.nope=1", "trainer.checkpoint.often=2"])
def test_unknown_key_fails(override: str) -> None:
    with pytest.raises((HydraException, OmegaConfBaseException), match="nope|foo|often"):
        compose_config([override])


def test_appended_unknown_top_level_key_fails() -> None:
    with pytest.raises(ValueError, match="unknown config key.*'foo'"):
        compose_config(["+foo=1"])


def test_wrong_type_fails() -> None:
    with pytest.raises((HydraException, OmegaConfBaseException)):
        compose_config(["trainer.max_steps=many"])


def test_unknown_format_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown tensor format 'ttt'.*'lowrank'"):
        _model(["rnn.format=ttt"])


def test_rank_that_cannot_fit_names_the_layer() -> None:
    with pytest.raises(ModelConfigError, match="recurrent layer 0.*rank"):
        _model(["recipe=tiny_lowrank", "rank=100000"])


def test_train_py_refuses_an_unknown_recipe_at_start() -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "train.py", "recipe=nope"], cwd=root, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Available options in 'recipe'" in result.stderr
    assert "tiny_tt" in result.stderr


def test_a_checkpoint_config_missing_newer_keys_rebuilds_its_model() -> None:
    cfg = compose_config(["recipe=tiny_tt", "rank=2"])
    saved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(saved, dict)
    del saved["model"]["time_stride"]  # written before the key existed
    restored = config_from_checkpoint(saved)
    assert restored.model.time_stride == 2  # DeepSpeech2's, the behaviour before the key
    assert restored.rnn.rank == 2
    model = build_model(restored, NUM_FEATURES[restored.features.kind], CHAR_VOCAB)
    assert model.conv.output_lengths(300) == 150
