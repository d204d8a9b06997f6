"""Builders: the Hydra config in, plain objects out.

``build_data`` (corpus, manifests, tokenizer, feature statistics), ``build_model``
(DeepSpeech2 with the configured recurrent formats), ``build_optimizers`` (optimiser and
schedule), ``build_trainer`` (Lightning trainer, logger, checkpoints).
``deepspeech_tt.commands.train.train`` calls them in order; ``decoding.recognizer`` calls
``build_model`` and ``build_feature_extractor`` to rebuild a checkpoint's recogniser.

Who reads the config: the builders; ``deepspeech_tt.config`` (schema, composition, the value
checks); the composition roots above them (``deepspeech_tt.commands``, ``decoding``'s CLI and
recognizer); and ``training.checkpoint.check_resumable``, which compares a checkpoint's config
with the run's. Models, layers, formats, the LightningModule and the data layer take plain
arguments.
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
