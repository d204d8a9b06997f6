"""Compose the training config outside ``train.py`` (tests, notebooks): same files, same checks."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from deepspeech_tt.config.validate import ConfigError, check_values

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
    """Fail on a top-level key the schema does not have (``+foo=1``, a typo in a recipe), then
    on any value out of its range (``deepspeech_tt.config.validate``).

    Hydra checks the keys inside each group against the schema while composing; the top level
    of the composed config is a plain node, so its unknown keys are caught here.

    Raises:
        ConfigError: naming the unknown keys and listing the valid ones, or naming the key, the
            value and what is allowed.
    """
    from dataclasses import fields

    from deepspeech_tt.config.schema import Config
    valid = {f.name for f in fields(Config)}
    unknown = sorted(str(key) for key in cfg if key not in valid and key != "hydra")
    if unknown:
        raise ConfigError(f"unknown config key(s) {unknown}; the top level has {sorted(valid)}")
    check_values(cfg)


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


def composition_error(error: Exception) -> ConfigError:
    """Hydra's or OmegaConf's error about the command line or a config file, as one line.

    Hydra prints several lines (the options of a group, one per line; the config search path;
    OmegaConf's ``full_key`` and ``object_type``); the error keeps what names the problem: the
    override, the key, the value, the valid options.
    """
    parts = [str(error)]
    if error.__cause__ is not None:
        parts.append(str(error.__cause__))
    lines: list[str] = []
    for part in parts:
        for line in part.splitlines():
            line = line.strip()
            if line.startswith("Config search path"):
                break
            if line and not line.startswith(("object_type", "reference_type", "provider=")):
                lines.append(line)
    text = " ".join(lines)
    text = re.sub(r"(Available options in '[^']*':) (.*)", _listed, text)
    return ConfigError(text)


def _listed(match: re.Match[str]) -> str:
    return f"{match[1]} {', '.join(match[2].split())}"
