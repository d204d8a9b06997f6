"""``python decode.py key=value ...``: the settings, checked against ``DecodeConfig``.

Arguments are OmegaConf dot-list overrides of the dataclass below (``beam_size=100``,
``tune_lm_weights=[0,0.5,1]``); an unknown key or a value of the wrong type fails before
anything is loaded, naming the key and listing the valid ones.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from deepspeech_tt.errors import UserError

DECODERS = ("greedy", "beam", "beam_lm")
USAGE = "python decode.py checkpoint=<ckpt> audio=<file|dir|manifest|split> [key=value ...]"


@dataclass
class DecodeConfig:
    checkpoint: str = MISSING  # a training checkpoint (.ckpt): the model, features and tokenizer
    audio: str = MISSING  # a file, a directory, a .jsonl manifest, or a split: dev, test
    decoder: str = "greedy"  # greedy | beam (no LM) | beam_lm (beam search with a word n-gram)
    lm: str | None = None  # ARPA or KenLM binary; None: <data.root>/lm/3gram.arpa (make lm)
    lexicon: str | None = None  # a text file whose words join the LM's vocabulary as the lexicon
    lm_weight: float | None = None  # None: the tuned value stored by tune=true, else 0.5
    word_score: float | None = None  # word-insertion bonus; None: the tuned value, else 0.0
    beam_size: int = 50  # hypotheses kept per frame
    beam_size_token: int | None = None  # likeliest tokens tried per frame; None: all
    beam_threshold: float = 25.0  # prune hypotheses this far below the best (log scale)
    tune: bool = False  # search lm_weight x word_score on this audio (use dev); store the best
    tune_lm_weights: list[float] = field(default_factory=lambda: [0.0, 0.5, 1.0, 1.5, 2.0, 2.5,
                                                                 3.0])  # fmt: skip
    tune_word_scores: list[float] = field(default_factory=lambda: [-4.0, -3.0, -2.0, -1.0, 0.0,
                                                                   1.0])  # fmt: skip
    out: str | None = None  # result files; None: <run dir>/decode (beside checkpoints/)
    batch_seconds: float = 200.0  # padded audio per batch
    threads: int | None = None  # torch intra-op threads; None: torch's default
    device: str = "cpu"  # cpu | cuda
    print_transcripts: bool = True  # print "<id> <hypothesis>" lines to stdout


class DecodeConfigError(UserError):
    """A ``decode.py`` argument that is unknown, missing or of the wrong type."""


def parse_decode_args(argv: Sequence[str]) -> DictConfig:
    """``key=value`` arguments merged over ``DecodeConfig``'s defaults, checked.

    Raises:
        DecodeConfigError: an unknown key (the valid ones listed), a bad value, a missing
            ``checkpoint`` or ``audio``, or an unknown decoder.
    """
    valid = [f.name for f in fields(DecodeConfig)]
    malformed = [arg for arg in argv if "=" not in arg]
    if malformed:
        raise DecodeConfigError(f"arguments must be key=value, got {malformed}; keys: {valid}")
    try:
        cfg = OmegaConf.merge(
            OmegaConf.structured(DecodeConfig), OmegaConf.from_dotlist(list(argv))
        )
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or getattr(error, "key", None)
        reason = str(error).splitlines()[0]
        raise DecodeConfigError(f"bad argument {key!r}: {reason}; keys: {valid}") from None
    assert isinstance(cfg, DictConfig)
    missing = [name for name in ("checkpoint", "audio") if OmegaConf.is_missing(cfg, name)]
    if missing:
        raise DecodeConfigError(f"missing {' and '.join(f'{m}=...' for m in missing)}")
    if cfg.decoder not in DECODERS:
        raise DecodeConfigError(f"decoder={cfg.decoder}: choose one of {list(DECODERS)}")
    if cfg.tune and cfg.decoder != "beam_lm":
        raise DecodeConfigError("tune=true searches LM settings: it needs decoder=beam_lm")
    return cfg


def usage() -> str:
    """The keys with their defaults and comments, for ``decode.py --help``."""
    body = inspect.getsource(DecodeConfig).split("\n", 1)[1]
    return USAGE + "\n\n" + textwrap.dedent(body)
