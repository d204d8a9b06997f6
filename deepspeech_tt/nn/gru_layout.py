"""The weights of a factorized GRU or LSTM: sizes and factor shapes of every matrix, and their
creation.

Every layer and direction holds an input-to-hidden matrix (G H x I) and a hidden-to-hidden matrix
(G H x H), the G gates stacked on the output side (GRU r|z|n, G = 3; LSTM i|f|g|o, G = 4), each
in a registered format, and dense biases (G H each). With factor shapes, the gates share the last
output mode, ``hidden_shape`` with its last mode x G.
The joint layout (one G H x (I + H) matrix [W_ih | W_hh]) is built by ``joint_layout``.
Errors from a format (bad rank, bad factor shapes) are re-raised naming the matrix, e.g.
"layer 1, backward direction, hidden-to-hidden (768 x 256): ...".
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from deepspeech_tt.tensor.base import FactorizedMatrix, Rank, Shape
from deepspeech_tt.tensor.registry import get_format

KINDS = {"ih": "input-to-hidden", "hh": "hidden-to-hidden",
         "joint": "joint [input-to-hidden | hidden-to-hidden]"}


@dataclass(frozen=True)
class RecurrentSpec:
    """Sizes, formats, ranks and factor shapes of every matrix of a factorized GRU or LSTM."""

    input_size: int
    hidden_size: int
    num_layers: int
    bidirectional: bool
    bias: bool
    formats: tuple[str, str]  # (input-to-hidden, hidden-to-hidden)
    rank: Rank
    hh_rank: Rank
    input_shape: Shape = None
    hidden_shape: Shape = None
    gates: int = 3  # gate blocks stacked on the output side: GRU 3, LSTM 4
    layer_name: str = "FactorizedGRU"  # how errors name the layer
    layout: str = "separate"  # "separate" (W_ih, W_hh) or "joint" ([W_ih | W_hh], joint_layout)

    def __post_init__(self) -> None:
        for name, size in (("input_size", self.input_size), ("hidden_size", self.hidden_size),
                           ("num_layers", self.num_layers)):
            if size < 1:
                raise ValueError(f"{self.layer_name}: {name} must be positive, got {size}")
        for name, shape, size_name, size in (
            ("input_shape", self.input_shape, "input_size", self.input_size),
            ("hidden_shape", self.hidden_shape, "hidden_size", self.hidden_size),
        ):
            _check_shape(self.layer_name, name, shape, size_name, size)
        for name in self.formats:
            get_format(name)  # raises on an unknown name, listing the known ones

    def size(self, layer: int, kind: str) -> tuple[int, int]:
        """(out_features, in_features) of one matrix."""
        directions = 2 if self.bidirectional else 1
        inputs = self.input_size if layer == 0 else self.hidden_size * directions
        return self.gates * self.hidden_size, inputs if kind == "ih" else self.hidden_size

    def factor_shapes(self, layer: int, kind: str) -> tuple[Shape, Shape]:
        """(out_shape, in_shape) of one matrix, None where the format should choose.

        The gates share the last output mode (``hidden_shape`` with its last mode x gates);
        layers above the first take both directions' outputs, so their input modes are
        ``hidden_shape`` with its last mode x 2 when bidirectional.
        """
        layer0_in = None if self.input_shape is None else tuple(self.input_shape)
        if self.hidden_shape is None:
            return None, (layer0_in if kind == "ih" and layer == 0 else None)
        out_shape = _scale_last(self.hidden_shape, self.gates)
        if kind == "hh":
            return out_shape, tuple(self.hidden_shape)
        if layer == 0:
            return out_shape, layer0_in
        return out_shape, _scale_last(self.hidden_shape, 2 if self.bidirectional else 1)

    def where(self, layer: int, direction: int, kind: str) -> str:
        """How errors name one matrix (kind "ih", "hh" or "joint")."""
        out_features, in_features = self.size(layer, "ih" if kind == "joint" else kind)
        if kind == "joint":
            in_features += self.hidden_size
        side = ""
        if self.bidirectional:
            side = " backward direction," if direction else " forward direction,"
        return f"layer {layer},{side} {KINDS[kind]} ({out_features} x {in_features})"


class DirectionWeights(nn.Module):
    """One direction of one layer: two factorized matrices (gates stacked) and biases."""

    def __init__(
        self,
        weight_ih: FactorizedMatrix,
        weight_hh: FactorizedMatrix,
        bias_ih: Tensor | None,
        bias_hh: Tensor | None,
    ) -> None:
        super().__init__()
        self.weight_ih = weight_ih
        self.weight_hh = weight_hh
        self.bias_ih = None if bias_ih is None else nn.Parameter(bias_ih)
        self.bias_hh = None if bias_hh is None else nn.Parameter(bias_hh)

    def rebuild_macs(self) -> int:
        """Multiply-adds of rebuilding this direction's dense weights."""
        return self.weight_ih.flops_to_dense() + self.weight_hh.flops_to_dense()

    def dense_weights(self) -> list[Tensor]:
        """[W_ih, W_hh] (+ [b_ih, b_hh]) as dense tensors, in torch's (nn.GRU, nn.LSTM) order."""
        weights = [self.weight_ih.to_dense(), self.weight_hh.to_dense()]
        if self.bias_ih is not None and self.bias_hh is not None:
            weights += [self.bias_ih, self.bias_hh]
        return weights


def parse_formats(format: str | tuple[str, str]) -> tuple[str, str]:
    """One format name for both matrices, or a pair (input-to-hidden, hidden-to-hidden)."""
    if isinstance(format, str):
        return format, format
    ih, hh = format
    return ih, hh


def build_direction(
    spec: RecurrentSpec, layer: int, direction: int, init_std: float
) -> DirectionWeights:
    """Freshly initialised weights, with the variance of torch's uniform initialisation."""
    matrices = []
    for index, kind in enumerate(("ih", "hh")):
        out_shape, in_shape = spec.factor_shapes(layer, kind)
        rank = spec.rank if kind == "ih" else spec.hh_rank
        with naming(spec.where(layer, direction, kind)):
            make = get_format(spec.formats[index])
            matrices.append(make(*spec.size(layer, kind), rank, out_shape=out_shape,
                                 in_shape=in_shape, init_std=init_std))
    biases = fresh_biases(spec)
    return DirectionWeights(matrices[0], matrices[1], biases[0], biases[1])


def fresh_biases(spec: RecurrentSpec) -> list[Tensor | None]:
    """b_ih, b_hh (G H each) drawn from torch's U(-1/sqrt(H), 1/sqrt(H)); None without bias."""
    if not spec.bias:
        return [None, None]
    bound = 1.0 / math.sqrt(spec.hidden_size)
    rows = spec.gates * spec.hidden_size
    return [torch.empty(rows).uniform_(-bound, bound) for _ in range(2)]


def direction_from_dense(
    spec: RecurrentSpec, layer: int, direction: int, weight_ih: Tensor, weight_hh: Tensor,
    bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
) -> DirectionWeights:
    """Weights fitted to dense ones by each format's ``from_dense``."""
    matrices = []
    for index, (kind, weight) in enumerate((("ih", weight_ih), ("hh", weight_hh))):
        out_shape, in_shape = spec.factor_shapes(layer, kind)
        rank = spec.rank if kind == "ih" else spec.hh_rank
        with naming(spec.where(layer, direction, kind)):
            fit = get_format(spec.formats[index]).from_dense
            matrices.append(fit(weight, rank, out_shape=out_shape, in_shape=in_shape))
    copies = [None if b is None else b.detach().clone() for b in (bias_ih, bias_hh)]
    return DirectionWeights(matrices[0], matrices[1], copies[0], copies[1])


@contextmanager
def naming(where: str) -> Iterator[None]:
    """Re-raise a format's ValueError (or FormatError) with the matrix it concerns."""
    try:
        yield
    except ValueError as err:
        try:
            named = type(err)(f"{where}: {err}")
        except TypeError:  # an error class with another constructor
            named = ValueError(f"{where}: {err}")
        raise named from err


def _check_shape(layer_name: str, name: str, shape: Shape, size_name: str, size: int) -> None:
    if shape is None:
        return
    if any(mode < 1 for mode in shape) or math.prod(shape) != size:
        raise ValueError(
            f"{layer_name}: {name} {tuple(shape)} multiplies to {math.prod(shape)}, but "
            f"{size_name} is {size}; give positive factors whose product is {size}"
        )


def _scale_last(shape: Sequence[int], factor: int) -> tuple[int, ...]:
    return (*shape[:-1], shape[-1] * factor)
