"""Builders: the only code that reads the Hydra config; they return plain objects.

``build_data`` (corpus, manifests, tokenizer, feature statistics), ``build_model``
(DeepSpeech2 with the configured GRU formats), ``build_optimizers`` (optimiser and schedule),
``build_trainer`` (Lightning trainer, logger, checkpoints). ``deepspeech_tt.training.run.train``
calls them in order.
"""

from deepspeech_tt.builders.data import PreparedData, build_data, build_datamodule
from deepspeech_tt.builders.model import build_model, rnn_layer_specs
from deepspeech_tt.builders.optim import build_optimizers, total_optimizer_steps
from deepspeech_tt.builders.trainer import build_trainer

__all__ = [
    "PreparedData",
    "build_data",
    "build_datamodule",
    "build_model",
    "build_optimizers",
    "build_trainer",
    "rnn_layer_specs",
    "total_optimizer_steps",
]
