"""Hydra configuration: the dataclass schema and its registration in the ConfigStore.

``register_configs()`` stores ``Config`` as ``base_config``; ``conf/config.yaml`` lists it first
in its defaults so that every composed config is checked against the schema.
"""

from hydra.core.config_store import ConfigStore

from deepspeech_tt.config.compose import (
    check_config,
    compose_config,
    composition_error,
    config_from_checkpoint,
)
from deepspeech_tt.config.schema import (
    CheckpointConfig,
    Config,
    DataConfig,
    FeaturesConfig,
    ModelConfig,
    OptimConfig,
    RNNConfig,
    SpecAugmentConfig,
    TokenizerConfig,
    TrainerConfig,
)

__all__ = [
    "CheckpointConfig",
    "Config",
    "DataConfig",
    "FeaturesConfig",
    "ModelConfig",
    "OptimConfig",
    "RNNConfig",
    "SpecAugmentConfig",
    "TokenizerConfig",
    "TrainerConfig",
    "check_config",
    "compose_config",
    "composition_error",
    "config_from_checkpoint",
    "register_configs",
]


def register_configs() -> None:
    """Store the schema as ``base_config`` (idempotent: storing again replaces it)."""
    ConfigStore.instance().store(name="base_config", node=Config)
