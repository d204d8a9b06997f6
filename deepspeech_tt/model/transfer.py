"""Take a trained DeepSpeech2's weights into another of the same sizes and other weight formats.

What ``compress.py`` and ``train.py init_from=`` do to the model. Every weight outside the
recurrent matrices (convolutions, batch norms, the lookahead, the output layer) is copied. Each
recurrent layer is copied exactly when source and target store it alike (same format, ranks,
shapes and layout); otherwise the source layer's dense matrices (its reconstruction, for a
factorized source) are fitted into the target's format and rank by the format's ``from_dense``
(TT-SVD, HOSVD, CP-ALS, HT-SVD, ...), through ``FactorizedRNN.from_torch``. Going through the
dense matrix costs one G H x (I + H) matrix per direction, a few MB at DeepSpeech2's sizes, and
gives the same quasi-optimal fit as rounding the factors would (TT rank 16 -> 4).

Each fitted direction is reported as a :class:`DirectionFit`: the relative Frobenius error of
W_ih and W_hh, ``||W - W_fit|| / ||W||``, and the stored weights before and after (biases are
copied as they are and not counted).

A target layer that shares its low-rank factor with the next (``shared_lowrank_from``) cannot
be fitted one layer at a time and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from deepspeech_tt.model.deepspeech2 import DeepSpeech2
from deepspeech_tt.model.recurrent import RecurrentLayer
from deepspeech_tt.nn.factorized_rnn import FactorizedRNN

DIRECTION_NAMES = ("forward", "backward")


@dataclass(frozen=True)
class DirectionFit:
    """How one direction of one recurrent layer was taken over.

    Attributes:
        layer: the recurrent layer's index.
        direction: "forward" or "backward".
        source: the source's format and rank as the summary shows them ("dense", "tt r16").
        target: the target's.
        error_ih, error_hh: relative Frobenius error of W_ih and W_hh (0 when copied).
        params_before, params_after: weights stored by the direction (no biases).
        copied: the source stored it alike, so it was copied exactly.
    """

    layer: int
    direction: str
    source: str
    target: str
    error_ih: float
    error_hh: float
    params_before: int
    params_after: int
    copied: bool

    @property
    def name(self) -> str:
        return f"layer {self.layer} {self.direction}"


def transfer_weights(source: DeepSpeech2, target: DeepSpeech2) -> list[DirectionFit]:
    """Set every weight of ``target`` from ``source`` (see the module docstring).

    ``source`` is left as it was.

    Raises:
        ValueError: the two models differ in anything but the recurrent weights' storage (the
            message names it, with both values), or a target layer shares factors.
    """
    _check_same_sizes(source, target)
    fits = []
    with torch.no_grad():
        recurrent = set()
        for index, (from_layer, to_layer) in enumerate(
            zip(_layers(source), _layers(target), strict=True)
        ):
            if to_layer.spec.shared:
                raise ValueError(
                    f"recurrent layer {index} shares its low-rank factor with the next layer "
                    "(rnn.shared_lowrank_from): such layers cannot be fitted from another "
                    "model's weights; train them from scratch"
                )
            fits += _transfer_rnn(index, from_layer, to_layer)
            recurrent.add(f"rnns.{index}.{to_layer.rnn_type}.")
        _copy_the_rest(source, target, recurrent)
    return fits


def relative_error(reference: Tensor, fitted: Tensor) -> float:
    """``||reference - fitted||_F / ||reference||_F`` (0 for two zero matrices)."""
    reference, fitted = reference.detach().double(), fitted.detach().double()
    norm = torch.linalg.matrix_norm(reference)
    difference = torch.linalg.matrix_norm(reference - fitted)
    return float(difference / norm) if norm > 0 else float(difference > 0)


def _layers(model: DeepSpeech2) -> list[RecurrentLayer]:
    return [cast(RecurrentLayer, layer) for layer in model.rnns]


def _transfer_rnn(index: int, source: RecurrentLayer, target: RecurrentLayer) -> list[DirectionFit]:
    """Fit (or copy) the recurrent weights of one layer; one record per direction."""
    from_rnn, to_rnn = source.rnn, target.rnn
    copied = from_rnn.spec == to_rnn.spec and type(from_rnn) is type(to_rnn)
    before = [_dense(d) for d in from_rnn.direction_weights()]
    counts = [_weight_count(d) for d in from_rnn.direction_weights()]
    if copied:
        to_rnn.load_state_dict(from_rnn.state_dict())
    else:
        fitted = _fitted(from_rnn, to_rnn)
        to_rnn.load_state_dict(fitted.state_dict())
    fits = []
    for d, direction in enumerate(to_rnn.direction_weights()):
        after = _dense(direction)
        fits.append(DirectionFit(
            layer=index, direction=DIRECTION_NAMES[d], source=_described(source),
            target=_described(target), error_ih=relative_error(before[d][0], after[0]),
            error_hh=relative_error(before[d][1], after[1]), params_before=counts[d],
            params_after=_weight_count(direction), copied=copied,
        ))  # fmt: skip
    return fits


def _fitted(source: FactorizedRNN, target: FactorizedRNN) -> FactorizedRNN:
    """A layer stored like ``target``, fitted to ``source``'s dense weights."""
    spec = target.spec
    return type(target).from_torch(
        source.to_torch(), format=spec.formats, rank=spec.rank, hh_rank=spec.hh_rank,
        input_shape=spec.input_shape, hidden_shape=spec.hidden_shape, layout=target.layout,
    )


def _dense(direction: nn.Module) -> tuple[Tensor, Tensor]:
    weights = direction.dense_weights()  # type: ignore[operator]
    return weights[0], weights[1]


def _weight_count(direction: nn.Module) -> int:
    """Values a direction stores, its biases left out."""
    return sum(p.numel() for name, p in direction.named_parameters()
               if not name.startswith("bias"))  # fmt: skip


def _described(layer: RecurrentLayer) -> str:
    fmt, rank = layer.spec.describe()
    return fmt if rank == "-" else f"{fmt} r{rank}"


def _copy_the_rest(source: DeepSpeech2, target: DeepSpeech2, recurrent: set[str]) -> None:
    """Copy every entry of the state dict outside the recurrent matrices."""
    state = source.state_dict()
    for key, value in target.state_dict().items():
        if any(key.startswith(prefix) for prefix in recurrent):
            continue
        value.copy_(state[key])  # same sizes: checked by _check_same_sizes


def _check_same_sizes(source: DeepSpeech2, target: DeepSpeech2) -> None:
    """A ValueError naming the first size the two models do not share, with both values."""
    if source.rnn_type != target.rnn_type:
        raise ValueError(f"the source's recurrent cell is {source.rnn_type!r}, the new model's "
                         f"{target.rnn_type!r}")  # fmt: skip
    if len(source.rnns) != len(target.rnns):
        raise ValueError(f"the source has {len(source.rnns)} recurrent layers, the new model "
                         f"{len(target.rnns)}")  # fmt: skip
    for index, (a, b) in enumerate(zip(_layers(source), _layers(target), strict=True)):
        for what in ("input_size", "hidden_size", "bidirectional"):
            if getattr(a.rnn, what) != getattr(b.rnn, what):
                raise ValueError(
                    f"recurrent layer {index}: the source's {what} is {getattr(a.rnn, what)}, "
                    f"the new model's {getattr(b.rnn, what)}"
                )
    recurrent = tuple(f"rnns.{i}.{source.rnn_type}." for i in range(len(source.rnns)))
    theirs = {k: v.shape for k, v in source.state_dict().items() if not k.startswith(recurrent)}
    ours = {k: v.shape for k, v in target.state_dict().items() if not k.startswith(recurrent)}
    for key in sorted(theirs.keys() | ours.keys()):
        if key not in theirs or key not in ours:
            held, lacks = ("the source", "the new model") if key in theirs else (
                "the new model", "the source")
            raise ValueError(f"{held} has the weight {key}, {lacks} does not")
        if theirs[key] != ours[key]:
            raise ValueError(f"{key} is {tuple(theirs[key])} in the source, "
                             f"{tuple(ours[key])} in the new model")  # fmt: skip
