"""``<run_dir>/summary.json``: what a finished run reports, read by ``scripts/compare_runs.py``.

::

    {"recipe": "tiny_tt", "format": "tt", "rank": 4, "rnn_type": "gru",
     "rnn_label": "GRU tt r4 x3", "rnn_layers": [{"format": "tt", "rank": "4",
     "layout": "separate"}, ...], "params_total": 52669, "params_rnn": 29184,
     "dev_wer": 0.749, "dev_cer": 0.241, "test_wer": 0.811, "test_cer": 0.263,
     "best_checkpoint": "checkpoints/best-step825-wer0.7494.ckpt", "train_seconds": 912.3}

Dev scores are those of the validation that chose the best checkpoint, test scores that
checkpoint's greedy decoding of ``data.test``; any of them is null when it was not measured.
``format`` is the format of every recurrent layer, or their formats joined by "+" in layer
order where they differ (``"toeplitz+lowrank"``, ``"dense+tt"``); ``rank`` is the one integer
rank of such a uniform stack, null otherwise (dense, per-bond lists, mixed layers);
``rnn_label`` and ``rnn_layers`` describe the whole stack (``model.StackDescription``).
``best_checkpoint`` is relative to the run directory. ``init_from`` is null, or for a run
started from another checkpoint (``train.py init_from=``) its provenance: the source's path
and BLAKE2b digest, ``fine_tuned``, the largest relative fit error and each direction's fit
(``deepspeech_tt.commands.compress.provenance``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepspeech_tt.atomic import write_text
from deepspeech_tt.model import StackDescription

SUMMARY_FILE = "summary.json"


def write_run_summary(
    run_dir: str | Path,
    *,
    recipe: str | None,
    rnn: Mapping[str, Any],
    stack: StackDescription,
    parameters: Mapping[str, int],
    dev: Mapping[str, float],
    test: Mapping[str, float],
    best_checkpoint: str | None,
    train_seconds: float,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write the run's ``summary.json`` atomically; returns its path.

    Args:
        run_dir: the run's output directory.
        recipe: the recipe's name (None when composed without one).
        rnn: the ``rnn`` config node (``rank``).
        stack: the recurrent layers as built.
        parameters: ``model/params_total`` and ``model/params_rnn``.
        dev: ``val/wer`` and ``val/cer`` of the best validation (empty when none ran).
        test: ``test/wer`` and ``test/cer`` (empty when not tested).
        best_checkpoint: path of the best checkpoint, or None.
        train_seconds: wall time of training and testing.
        provenance: where the starting weights came from (``init_from``), or None.
    """
    run_dir = Path(run_dir)
    uniform = "+" not in stack.format and stack.format != "dense"
    rank = rnn["rank"] if uniform and isinstance(rnn["rank"], int) else None
    summary = {
        "recipe": recipe,
        "format": stack.format,
        "rank": rank,
        "rnn_type": stack.cell,
        "rnn_label": stack.label,
        "rnn_layers": stack.as_dicts(),
        "params_total": parameters["model/params_total"],
        "params_rnn": parameters["model/params_rnn"],
        "dev_wer": dev.get("val/wer"),
        "dev_cer": dev.get("val/cer"),
        "test_wer": test.get("test/wer"),
        "test_cer": test.get("test/cer"),
        "best_checkpoint": _relative(best_checkpoint, run_dir),
        "train_seconds": round(train_seconds, 1),
        "init_from": None if provenance is None else dict(provenance),
    }
    return write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")


def _relative(path: str | None, run_dir: Path) -> str | None:
    if not path:
        return None
    try:
        return str(Path(path).resolve().relative_to(run_dir.resolve()))
    except ValueError:
        return str(path)
