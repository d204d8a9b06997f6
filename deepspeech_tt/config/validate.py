"""Every config value checked before any data is read or model built, one error naming each.

Hydra checks keys and types while composing (``optim.lr=abc`` fails there); this module checks
what types cannot say: ranges (a positive learning rate, at least one epoch), the choices of
string settings, ranks (positive ints or lists of them, never a string such as ``"44"``,
which would be read character by character), a BPE vocabulary large enough to spell every
character, a time limit Lightning can read, and a ``resume=`` or ``init_from=`` (not both)
that names a local file. Whether a rank fits each layer's matrices is checked by building the
model (``deepspeech_tt.commands.train``), also before the data.

Each failure is a ``ConfigError`` (a ``UserError``: one line, exit status 2) that names the key,
the value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from deepspeech_tt.data.features import KINDS, NORMALIZATIONS
from deepspeech_tt.data.formats import FORMATS as CORPUS_FORMATS
from deepspeech_tt.data.tokenizer import CharTokenizer
from deepspeech_tt.errors import UserError

MIN_BPE_VOCAB = CharTokenizer().vocab_size + 1
"""Every character of the alphabet as a piece, plus sentencepiece's unknown piece and the blank."""


class ConfigError(UserError):
    """A config value out of its range or choices: names the key, the value, what is allowed."""


@dataclass(frozen=True)
class Rule:
    key: str  # dotted config key
    allowed: str  # what the key takes, as the error says it
    test: Callable[[Any], bool]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive(value: Any) -> bool:
    return _number(value) and value > 0


def _at_least(low: float) -> Callable[[Any], bool]:
    return lambda value: _number(value) and value >= low


def _between(low: float, high: float) -> Callable[[Any], bool]:
    """low <= value < high."""
    return lambda value: _number(value) and low <= value < high


def _one_of(*choices: str) -> Callable[[Any], bool]:
    return lambda value: value in choices


def _epochs(value: Any) -> bool:
    return isinstance(value, int) and (value >= 1 or value == -1)


def _time(value: Any) -> bool:
    return value is None or bool(re.fullmatch(r"\d+:\d{1,2}:\d{1,2}:\d{1,2}", str(value)))


def _factors(value: Any) -> bool:
    return value is None or (len(value) > 0 and all(_positive(f) for f in value))


RULES: tuple[Rule, ...] = (
    Rule("optim.name", "adamw or sgd", _one_of("adamw", "sgd")),
    Rule("optim.lr", "a positive number", _positive),
    Rule("optim.weight_decay", "a number >= 0", _at_least(0)),
    Rule("optim.warmup", "a fraction of the steps in [0, 1)", _between(0, 1)),
    Rule("optim.final_lr_ratio", "a number in (0, 1]", lambda v: _positive(v) and v <= 1),
    Rule("optim.momentum", "a number in [0, 1)", _between(0, 1)),
    Rule("optim.betas", "two numbers in [0, 1)",
         lambda v: len(v) == 2 and all(_between(0, 1)(b) for b in v)),
    Rule("trainer.max_epochs", "a whole number >= 1 (or -1: no epoch limit)", _epochs),
    Rule("trainer.max_steps", "a whole number >= 1 (or -1: no step limit)", _epochs),
    Rule("trainer.max_time", 'null or "DD:HH:MM:SS"', _time),
    Rule("trainer.accumulate_grad_batches", "a whole number >= 1", _at_least(1)),
    Rule("trainer.gradient_clip_val", "a number >= 0 (0: no clipping)", _at_least(0)),
    Rule("trainer.log_every_n_steps", "a whole number >= 1", _at_least(1)),
    Rule("trainer.val_check_interval", "a positive number", _positive),
    Rule("trainer.limit_val_batches", "a number >= 0", _at_least(0)),
    Rule("trainer.num_sanity_val_steps", "a whole number >= 0", _at_least(0)),
    Rule("trainer.threads", "null or a whole number >= 1", lambda v: v is None or v >= 1),
    Rule("trainer.precision", "32-true, bf16-mixed or 16-mixed",
         _one_of("32-true", "32", "bf16-mixed", "16-mixed", "64-true", "bf16-true")),
    Rule("trainer.checkpoint.every_n_steps", "a whole number >= 0", _at_least(0)),
    Rule("trainer.checkpoint.save_top_k", "a whole number >= 1 (or -1: keep all)",
         lambda v: isinstance(v, int) and (v >= 1 or v == -1)),
    Rule("data.format", f"one of {sorted(CORPUS_FORMATS)}", lambda v: v in CORPUS_FORMATS),
    Rule("data.generate_hours", "null or a positive number", lambda v: v is None or _positive(v)),
    Rule("data.min_duration", "a number >= 0", _at_least(0)),
    Rule("data.max_duration", "a positive number", _positive),
    Rule("data.max_frames", "a whole number >= 1", _at_least(1)),
    Rule("data.num_buckets", "a whole number >= 1", _at_least(1)),
    Rule("data.speed_perturbation", "null or a list of positive factors", _factors),
    Rule("data.stats_utterances", "a whole number >= 1", _at_least(1)),
    Rule("data.num_workers", "a whole number >= 0", _at_least(0)),
    Rule("features.kind", f"one of {list(KINDS)}", lambda v: v in KINDS),
    Rule("features.normalize", f"one of {list(NORMALIZATIONS)}", lambda v: v in NORMALIZATIONS),
    Rule("features.sample_rate", "a whole number of Hz >= 1", _at_least(1)),
    Rule("features.window_ms", "a positive number", _positive),
    Rule("features.hop_ms", "a positive number", _positive),
    Rule("features.n_mels", "a whole number >= 1", _at_least(1)),
    Rule("tokenizer.kind", "char or bpe", _one_of("char", "bpe")),
    Rule("model.conv_layers", "1, 2 or 3", lambda v: v in (1, 2, 3)),
    Rule("model.time_stride", "a whole number >= 1", _at_least(1)),
    Rule("model.rnn_layers", "a whole number >= 1", _at_least(1)),
    Rule("model.hidden_size", "a whole number >= 1", _at_least(1)),
    Rule("model.lookahead", "a whole number >= 0", _at_least(0)),
    Rule("model.dropout", "a probability in [0, 1)", _between(0, 1)),
)  # fmt: skip
"""Range and choice checks, in the order their keys appear in the schema."""


def check_values(cfg: DictConfig) -> None:
    """Raise a ``ConfigError`` for the first value of ``cfg`` that the toolkit cannot run with."""
    for rule in RULES:
        value = _plain(OmegaConf.select(cfg, rule.key))
        if not rule.test(value):
            raise ConfigError(f"{rule.key}={value!r} is not allowed: give {rule.allowed}")
    _check_durations(cfg.data)
    _check_vocabulary(cfg.tokenizer)
    for key, value in _ranks(cfg):
        _check_rank(key, value)
    _check_local_file("resume", cfg.resume)
    _check_local_file("init_from", cfg.init_from)
    if cfg.resume is not None and cfg.init_from is not None:
        raise ConfigError(
            "give resume= or init_from=, not both: resume= alone continues any run, a "
            "fine-tuning one included (its weights, optimiser and provenance are in the "
            "checkpoint); init_from= starts a new run from another run's weights"
        )


def _plain(value: Any) -> Any:
    if isinstance(value, ListConfig | DictConfig):
        return OmegaConf.to_container(value)
    return value


def _check_durations(data: DictConfig) -> None:
    if data.min_duration >= data.max_duration:
        raise ConfigError(
            f"data.min_duration={data.min_duration} is not below data.max_duration="
            f"{data.max_duration}: no training utterance could be kept"
        )


def _check_vocabulary(tokenizer: DictConfig) -> None:
    if tokenizer.kind == "bpe" and tokenizer.vocab_size < MIN_BPE_VOCAB:
        raise ConfigError(
            f"tokenizer.vocab_size={tokenizer.vocab_size} is too small for a BPE tokenizer: "
            f"give at least {MIN_BPE_VOCAB} (every character as a piece, the unknown piece and "
            "the CTC blank)"
        )


def _ranks(cfg: DictConfig) -> Iterator[tuple[str, Any]]:
    """(key, value) of every rank setting; ``rank`` first, as the others interpolate it."""
    yield "rank", cfg.rank
    rnn = cfg.rnn
    for name in ("rank", "hh_rank", "shared_rank"):
        if name != "rank" and rnn[name] is None:
            continue
        yield f"rnn.{name}", rnn[name]
    for index, layer in enumerate(rnn.layers):
        for name in ("rank", "hh_rank"):
            if layer[name] is not None:
                yield f"rnn.layers[{index}].{name}", layer[name]


def _check_rank(key: str, value: Any) -> None:
    value = _plain(value)
    whole = lambda r: isinstance(r, int) and not isinstance(r, bool) and r >= 1  # noqa: E731
    if whole(value) or (isinstance(value, list) and value and all(whole(r) for r in value)):
        return
    raise ConfigError(
        f"{key}={value!r} is not a rank: give a whole number >= 1 or a list of them, one per "
        "bond (e.g. rank=8 or 'rank=[4,8,4]')"
    )


def _check_local_file(key: str, path: str | None) -> None:
    if path is None:
        return
    if "://" in path:
        raise ConfigError(
            f"{key}={path} is a URL: only local checkpoint files are loaded (a remote file "
            "could run code when unpickled); download it, check it, and give its path"
        )
    if not Path(path).is_file():
        raise ConfigError(f"{key}={path}: no such checkpoint file")
