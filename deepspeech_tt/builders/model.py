"""DeepSpeech2 from the ``model`` and ``rnn`` config groups."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig

from deepspeech_tt.model import DeepSpeech2, RNNLayerSpec
from deepspeech_tt.model.recurrent import RNN_TYPES
from deepspeech_tt.tensor import get_format


class ModelConfigError(ValueError):
    """A model config that cannot be built; the message names the layer and the setting."""


def build_model(cfg: DictConfig, num_features: int, vocab_size: int) -> DeepSpeech2:
    """The acoustic model of ``cfg.model`` (sizes) with ``cfg.rnn`` (cell type, weight formats).

    Raises:
        ModelConfigError: an unknown rnn_type or format (listing the valid ones), or a rank that
            cannot fit a layer (naming it), before anything is trained.
    """
    model_cfg = cfg.model
    rnn_type = cfg.rnn.rnn_type
    if rnn_type not in RNN_TYPES:
        raise ModelConfigError(
            f"unknown rnn.rnn_type {rnn_type!r}; choose one of {sorted(RNN_TYPES)}"
        )
    try:
        return DeepSpeech2(
            num_features,
            vocab_size,
            conv_layers=model_cfg.conv_layers,
            time_stride=model_cfg.time_stride,
            rnn_layers=model_cfg.rnn_layers,
            hidden_size=model_cfg.hidden_size,
            bidirectional=model_cfg.bidirectional,
            sum_directions=model_cfg.sum_directions,
            rnn=rnn_layer_specs(cfg.rnn, model_cfg.rnn_layers),
            lookahead_context=None if model_cfg.bidirectional else model_cfg.lookahead,
            dropout=model_cfg.dropout,
            rnn_type=rnn_type,
        )
    except ValueError as error:
        raise ModelConfigError(f"cannot build the model of this config: {error}") from error


def rnn_layer_specs(rnn: DictConfig, num_layers: int) -> list[RNNLayerSpec]:
    """One spec per recurrent layer: ``rnn.format`` everywhere but ``rnn.dense_layers``."""
    get_format(rnn.format)  # an unknown name fails here, listing the valid ones
    dense = set(rnn.dense_layers)
    outside = sorted(dense - set(range(num_layers)))
    if outside:
        raise ModelConfigError(f"rnn.dense_layers {outside} are not layers 0..{num_layers - 1}")
    factorized = RNNLayerSpec(
        format=rnn.format, rank=_rank(rnn.rank), hh_rank=_rank(rnn.hh_rank),
        strategy=rnn.strategy,
    )  # fmt: skip
    return [RNNLayerSpec() if i in dense else factorized for i in range(num_layers)]


def _rank(value: Any) -> Any:
    """An int rank as it is; a list from the config as a tuple (one rank per bond)."""
    if isinstance(value, ListConfig):
        return tuple(int(r) for r in value)
    return value
