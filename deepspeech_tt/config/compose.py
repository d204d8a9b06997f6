"""Compose the training config outside ``train.py`` (tests, notebooks): same files, same checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"
"""``conf/`` of the source checkout."""


def compose_config(
    overrides: Sequence[str] = (), config_dir: str | Path = CONFIG_DIR
) -> DictConfig:
    """The config ``python train.py <overrides>`` would run with (without the ``hydra`` node).

    Raises:
        hydra.errors.HydraException: an unknown group option, with the valid ones listed.
        omegaconf.errors.OmegaConfBaseException: a key the schema does not have, or a bad value.
    """
    from deepspeech_tt.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    check_config(cfg)
    return cfg


def check_config(cfg: DictConfig) -> None:
    """Fail on a top-level key the schema does not have (``+foo=1``, a typo in a recipe).

    Hydra checks the keys inside each group against the schema while composing; the top level
    of the composed config is a plain node, so its unknown keys are caught here.

    Raises:
        ValueError: naming the unknown keys and listing the valid ones.
    """
    from dataclasses import fields

    from deepspeech_tt.config.schema import Config

    valid = {f.name for f in fields(Config)}
    unknown = sorted(str(key) for key in cfg if key not in valid and key != "hydra")
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; the top level has {sorted(valid)}")


def config_from_checkpoint(saved: Mapping[str, Any]) -> DictConfig:
    """A checkpoint's saved config on top of the schema's defaults.

    Keys added to the schema after the checkpoint was written take their defaults (which
    keep the old behaviour), so older checkpoints still rebuild their model.
    """
    from omegaconf import OmegaConf

    from deepspeech_tt.config.schema import Config

    merged = OmegaConf.merge(OmegaConf.structured(Config), dict(saved))
    assert isinstance(merged, DictConfig)
    return merged
