"""``python decode.py key=value ...``: the settings, checked against ``DecodeConfig``.

Arguments are OmegaConf dot-list overrides of the dataclass below (``beam_size=100``,
``tune_lm_weights=[0,0.5,1]``); an unknown key or a value of the wrong type fails before
anything is loaded, naming the key and listing the valid ones.

The LM weight and word bonus of a search come from the command line, else from the pair
``tune=true`` stored for the checkpoint and LM (``tuning_path``), else from the defaults.
"""

from __future__ import annotations

import inspect
import json
import logging
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from deepspeech_tt.decoding.beam import BeamSettings
from deepspeech_tt.errors import UserError

log = logging.getLogger(__name__)

DECODERS = ("greedy", "beam", "beam_lm")
DEFAULT_LM_WEIGHT = 0.5
DEFAULT_WORD_SCORE = 0.0
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


def beam_settings(cfg: DictConfig, checkpoint: Path, lm: Path | None) -> BeamSettings:
    """Command-line LM values first, then the tuned ones for this LM, then the defaults."""
    tuned = _tuned(checkpoint, lm) if lm is not None and not cfg.tune else {}
    weight = cfg.lm_weight if cfg.lm_weight is not None else tuned.get("lm_weight")
    bonus = cfg.word_score if cfg.word_score is not None else tuned.get("word_score")
    return search_settings(
        cfg,
        lm_weight=DEFAULT_LM_WEIGHT if weight is None else float(weight),
        word_score=DEFAULT_WORD_SCORE if bonus is None else float(bonus),
    )


def search_settings(cfg: DictConfig, lm_weight: float, word_score: float) -> BeamSettings:
    """The beam settings of ``cfg`` with the given LM weight and word bonus."""
    return BeamSettings(
        beam_size=cfg.beam_size, beam_size_token=cfg.beam_size_token,
        beam_threshold=cfg.beam_threshold, lm_weight=lm_weight, word_score=word_score,
    )  # fmt: skip


def tuning_path(checkpoint: Path) -> Path:
    """Where ``tune=true`` stores the best LM settings of ``checkpoint``."""
    return checkpoint.with_name(f"{checkpoint.stem}.lm-tuning.json")


def _tuned(checkpoint: Path, lm: Path) -> dict[str, Any]:
    path = tuning_path(checkpoint)
    if not path.is_file():
        return {}
    tuned = json.loads(path.read_text())
    if tuned.get("lm") != str(lm.resolve()):
        log.warning("%s was tuned with another LM (%s): using the defaults", path, tuned.get("lm"))
        return {}
    log.info("LM settings tuned on %s: lm_weight %s, word_score %s", tuned.get("audio"),
             tuned["lm_weight"], tuned["word_score"])  # fmt: skip
    return tuned
