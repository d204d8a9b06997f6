"""DeepSpeech2 from the ``model`` and ``rnn`` config groups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from omegaconf import DictConfig, ListConfig

from deepspeech_tt.errors import UserError
from deepspeech_tt.model import DeepSpeech2, RNNLayerSpec
from deepspeech_tt.model.recurrent import RNN_TYPES
from deepspeech_tt.tensor import get_format


class ModelConfigError(UserError):
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
    """One spec per recurrent layer, from the ``rnn`` config group.

    Every layer takes ``rnn.format``, ``rank``, ``hh_rank``, ``strategy`` and ``layout``; an
    entry of ``rnn.layers`` (one per layer, or none) overrides what it sets; with
    ``rnn.shared_lowrank_from: k``, layers k and above are "lowrank" of ``rnn.shared_rank``
    (null: ``rnn.rank``), each but the last sharing its V with the next (Lu et al. 2016);
    layers in ``rnn.dense_layers`` are dense whatever else says.
    """
    dense = set(rnn.dense_layers)
    outside = sorted(dense - set(range(num_layers)))
    if outside:
        raise ModelConfigError(f"rnn.dense_layers {outside} are not layers 0..{num_layers - 1}")
    uniform = dict(format=rnn.format, rank=_rank(rnn.rank), hh_rank=_rank(rnn.hh_rank),
                   strategy=rnn.strategy, layout=rnn.layout)
    entries = [dict(uniform) for _ in range(num_layers)]
    if rnn.layers:
        if len(rnn.layers) != num_layers:
            raise ModelConfigError(
                f"rnn.layers lists {len(rnn.layers)} layers for model.rnn_layers={num_layers}; "
                "give one entry per layer"
            )
        for entry, layer_cfg in zip(entries, rnn.layers, strict=True):
            entry.update({key: _rank(value) for key, value in layer_cfg.items()
                          if value is not None})
    if rnn.shared_lowrank_from is not None:
        _shared_lowrank(rnn, entries)
    for index, entry in enumerate(entries):
        with _naming_layer(index):
            get_format(entry["format"])  # an unknown name fails here, listing the valid ones
    return [RNNLayerSpec() if i in dense else RNNLayerSpec(**entry)
            for i, entry in enumerate(entries)]


def _shared_lowrank(rnn: DictConfig, entries: list[dict[str, Any]]) -> None:
    """Make layers ``rnn.shared_lowrank_from`` and above low rank, sharing V upwards."""
    first, count = rnn.shared_lowrank_from, len(entries)
    if rnn.layers:
        raise ModelConfigError("give either rnn.layers or rnn.shared_lowrank_from, not both")
    if not 0 <= first <= count - 2:
        raise ModelConfigError(
            f"rnn.shared_lowrank_from={first} leaves no pair of layers to share a factor; "
            f"it must lie in 0..{count - 2} (the last layer has no layer above)"
        )
    rank = _rank(rnn.rank if rnn.shared_rank is None else rnn.shared_rank)
    for index in range(first, count):
        entries[index].update(format="lowrank", rank=rank, hh_rank=None, layout="separate",
                              shared=index < count - 1)


@contextmanager
def _naming_layer(index: int) -> Iterator[None]:
    try:
        yield
    except ValueError as error:
        raise ModelConfigError(f"recurrent layer {index}: {error}") from error


def _rank(value: Any) -> Any:
    """An int rank as it is; a list from the config as a tuple (one rank per bond)."""
    if isinstance(value, ListConfig):
        return tuple(int(r) for r in value)
    return value
