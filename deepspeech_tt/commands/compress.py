"""Compress a trained checkpoint into other recurrent weight formats: ``compress.py`` and the
``init_from=`` of ``train.py``.

    python compress.py checkpoint=<ckpt> rnn=tt rank=8 out=<new.ckpt> [overwrite=true]
    python train.py recipe=tiny_finetune rnn=tt rank=8 init_from=<ckpt>

The source checkpoint is rebuilt as ``decode.py`` rebuilds it (``load_recognizer``). The new
model is the source's config with the recurrent weights stored as asked (``rnn=``, ``rank=``,
``rnn.*``); ``deepspeech_tt.model.transfer`` copies every other weight and fits each recurrent
matrix, and the fit table (relative Frobenius error of each matrix, stored weights before and
after) is printed. The feature extractor with its statistics and the tokenizer are the
source's.

What a new model may not change (the source's model sizes, its cell type, its features, its
tokenizer) is checked against the source before anything is built (:func:`check_fits`), one
error naming the setting and both values. The source file is only read. ``compress.py`` writes
``out=`` atomically and never replaces an existing file unless ``overwrite=true``.

Provenance: the result records its source (path and BLAKE2b digest of the file), the fit of
every direction and whether it was fine-tuned afterwards (:func:`provenance`): in the
checkpoint under ``deepspeech_tt.provenance``, and for a fine-tuning run in ``summary.json``
and the TensorBoard hparams too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from deepspeech_tt.builders import build_model
from deepspeech_tt.builders.model import ModelConfigError
from deepspeech_tt.checkpoints import CHECKPOINT_KEY, FORMAT_VERSION, save_atomically
from deepspeech_tt.config import compose_config
from deepspeech_tt.config.validate import ConfigError
from deepspeech_tt.decoding.recognizer import Recognizer, load_recognizer
from deepspeech_tt.errors import UserError, reported
from deepspeech_tt.model import DeepSpeech2, count_parameters, rnn_parameters
from deepspeech_tt.model.transfer import DirectionFit, transfer_weights

log = logging.getLogger(__name__)

FIXED = ("model.conv_layers", "model.time_stride", "model.rnn_layers", "model.hidden_size",
         "model.bidirectional", "model.sum_directions", "rnn.rnn_type", "features.kind",
         "features.sample_rate", "features.window_ms", "features.hop_ms", "features.n_mels",
         "features.normalize", "tokenizer.kind")  # fmt: skip
"""Settings a compressed model keeps from its source: every size but the recurrent storage."""


@dataclass(frozen=True)
class Source:
    """A trained checkpoint to compress: the recogniser it holds, where, and its digest."""

    recognizer: Recognizer
    path: Path
    blake2b: str


def load_source(path: str | Path) -> Source:
    """The checkpoint at ``path``, read as ``decode.py`` reads it, with the file's digest.

    Raises:
        CheckpointError: the file is missing, damaged or not one of ours.
    """
    recognizer = load_recognizer(path)
    digest = hashlib.blake2b()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return Source(recognizer, Path(path), digest.hexdigest())


def check_fits(source: Source, cfg: DictConfig, key: str) -> None:
    """A ConfigError unless the model ``cfg`` describes can take ``source``'s weights.

    ``key`` names the setting that gave the source (``init_from``, ``checkpoint``).
    """
    theirs = source.recognizer.config
    names = list(FIXED)
    if not cfg.model.bidirectional:
        names.append("model.lookahead")
    if cfg.tokenizer.kind == "bpe":
        names.append("tokenizer.vocab_size")
    for name in names:
        old, new = OmegaConf.select(theirs, name), OmegaConf.select(cfg, name)
        if old != new:
            raise ConfigError(
                f"{key}={source.path}: the source has {name}={old}, this model {name}={new}; a "
                "compressed model keeps every setting of its source but the recurrent weights' "
                "format and rank"
            )


def compress_model(source: Source, cfg: DictConfig) -> tuple[DeepSpeech2, list[DirectionFit]]:
    """The model of ``cfg`` holding ``source``'s weights, and the fit of every direction.

    Raises:
        ModelConfigError: the model of ``cfg`` cannot be built (a rank its shapes cannot hold),
            or cannot take the source's weights.
    """
    recognizer = source.recognizer
    model = build_model(cfg, recognizer.features.feature_dim, recognizer.tokenizer.vocab_size)
    try:
        fits = transfer_weights(recognizer.model, model)
    except ValueError as error:
        raise ModelConfigError(f"{source.path}: {error}") from None
    return model, fits


def fit_table(fits: Sequence[DirectionFit]) -> str:
    """The fit of every direction as a text table, with the totals."""
    lines = [f"{'direction':20s} {'source':>12s} {'target':>12s} {'error W_ih':>10s} "
             f"{'error W_hh':>10s} {'weights before':>15s} {'after':>10s}"]  # fmt: skip
    for fit in fits:
        how = " (copied)" if fit.copied else ""
        lines.append(
            f"{fit.name:20s} {fit.source:>12s} {fit.target:>12s} {fit.error_ih:10.4f} "
            f"{fit.error_hh:10.4f} {fit.params_before:15,} {fit.params_after:10,}{how}"
        )
    before, after = sum(f.params_before for f in fits), sum(f.params_after for f in fits)
    ratio = f"{before / after:.1f}x fewer" if before >= after else f"{after / before:.1f}x more"
    lines.append(f"{'all recurrent weights':20s} {'':>12s} {'':>12s} {'':>10s} {'':>10s} "
                 f"{before:15,} {after:10,}  ({ratio})")  # fmt: skip
    return "\n".join(lines)


def provenance(source: Source, fits: Sequence[DirectionFit], fine_tuned: bool) -> dict[str, Any]:
    """What a compressed model records of how it was made (plain values, for JSON)."""
    return {
        "source": str(source.path.resolve()),
        "source_blake2b": source.blake2b,
        "fine_tuned": fine_tuned,
        "fits": [dataclasses.asdict(fit) for fit in fits],
        "max_error": max((max(f.error_ih, f.error_hh) for f in fits), default=0.0),
    }


def fit_scalars(origin: Mapping[str, Any]) -> dict[str, float]:
    """TensorBoard scalars of a :func:`provenance`'s fits: ``init/layer<l>_<direction>/error_ih``
    and ``.../error_hh``, the relative errors, and ``init/params_before`` and ``_after``."""
    scalars = {}
    for fit in origin["fits"]:
        name = f"init/layer{fit['layer']}_{fit['direction']}"
        scalars[f"{name}/error_ih"] = fit["error_ih"]
        scalars[f"{name}/error_hh"] = fit["error_hh"]
    scalars["init/params_before"] = sum(fit["params_before"] for fit in origin["fits"])
    scalars["init/params_after"] = sum(fit["params_after"] for fit in origin["fits"])
    return scalars


USAGE = """usage: python compress.py checkpoint=CKPT out=NEW.ckpt [rnn=FORMAT] [rank=R]
                          [rnn.KEY=VALUE ...] [overwrite=true]

Fit the recurrent weights of a trained checkpoint into another format and rank, copy every other
weight, print the fit table and write a checkpoint that decode.py (and train.py init_from=) read.
rnn= picks a group of conf/rnn/ (dense, tt, cp, tucker, lowrank, tr, bt, ht, toeplitz), rank=
the rank, rnn.KEY= any key of that group (rnn.hh_rank, rnn.layout, rnn.dense_layers, rnn.layers).
"""


def compress_command(argv: Sequence[str]) -> Path:
    """``compress.py``'s work: parse ``argv``, compress, write ``out=``; returns its path.

    Raises:
        UserError: a bad argument, source or rank (one line, nothing written).
    """
    settings, overrides = _parse(argv)
    source_path, out = Path(settings["checkpoint"]), Path(settings["out"])
    overwrite = settings.get("overwrite", "false").lower() in ("true", "1", "yes")
    source = load_source(source_path)
    if out.resolve() == source_path.resolve():
        raise ConfigError(f"out={out} is the source checkpoint; the source is never modified")
    if out.exists() and not overwrite:
        raise ConfigError(f"out={out} exists; give overwrite=true to replace it")
    cfg = _target_config(source, overrides)
    check_fits(source, cfg, "checkpoint")
    model, fits = compress_model(source, cfg)
    print(fit_table(fits))
    recognizer = source.recognizer
    print(f"parameters: {count_parameters(recognizer.model):,} -> {count_parameters(model):,} "
          f"(recurrent {rnn_parameters(recognizer.model):,} -> {rnn_parameters(model):,})")
    state = {f"features.{k}": v for k, v in recognizer.features.state_dict().items()}
    state.update({f"model.{k}": v for k, v in model.state_dict().items()})
    checkpoint = {
        "state_dict": state,
        CHECKPOINT_KEY: {
            "format_version": FORMAT_VERSION,
            "config": OmegaConf.to_container(cfg, resolve=True),
            "tokenizer": recognizer.tokenizer.state_dict(),
            "provenance": provenance(source, fits, fine_tuned=False),
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_atomically(checkpoint, out)
    print(f"written to {out}")
    return out


def _parse(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(checkpoint/out/overwrite settings, overrides of the rnn group)."""
    settings: dict[str, str] = {}
    overrides: list[str] = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(f"{arg!r} is not key=value\n{USAGE}")
        if key in ("checkpoint", "out", "overwrite"):
            settings[key] = value
        elif key in ("rnn", "rank") or key.startswith("rnn."):
            overrides.append(arg)
        else:
            raise ConfigError(
                f"unknown key {key!r}: compress.py takes checkpoint=, out=, overwrite=, rnn=, "
                "rank= and rnn.KEY= (the other settings are the source's)"
            )
    for key in ("checkpoint", "out"):
        if not settings.get(key):
            raise ConfigError(f"{key}= is required\n{USAGE}")
    return settings, overrides


def _target_config(source: Source, overrides: Sequence[str]) -> DictConfig:
    """The source's config with the ``rnn`` group (and ``rank``) composed from ``overrides``.

    Where the overrides leave them out, the rank and the cell type are the source's.
    """
    theirs = source.recognizer.config
    given = {arg.partition("=")[0] for arg in overrides}
    defaults = [f"rank={theirs.rank}"] if "rank" not in given else []
    if "rnn.rnn_type" not in given:
        defaults.append(f"rnn.rnn_type={theirs.rnn.rnn_type}")
    composed = OmegaConf.to_container(compose_config([*defaults, *overrides]), resolve=True)
    assert isinstance(composed, Mapping)
    cfg = OmegaConf.create(OmegaConf.to_container(theirs, resolve=True))
    assert isinstance(cfg, DictConfig)
    cfg.rnn = composed["rnn"]
    cfg.rank = composed["rank"]
    return cfg


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``compress.py``; returns the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    logging.basicConfig(level=logging.WARNING)
    with reported("compress.py"):
        compress_command(args)
    return 0


__all__ = ["Source", "UserError", "check_fits", "compress_model", "load_source", "main"]
