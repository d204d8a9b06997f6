"""The fully decomposed layout: one factorized matrix per layer and direction, [W_ih | W_hh].

FDHT (Yin et al. 2021) decomposes the whole cell as one tensor: per layer and direction, the
input-to-hidden (G H x I) and hidden-to-hidden (G H x H) matrices are concatenated along their
columns into one G H x (I + H) matrix,

    W = [W_ih | W_hh],        W [x_t; h_{t-1}] = W_ih x_t + W_hh h_{t-1},

held in one registered format (any format; Yin et al. use hierarchical Tucker). The gates stay
stacked on the output side in torch's order, as in the separate layout.

Layout names and default. ``layout="separate"`` keeps two matrices (the state-dict keys
``directions.{k}.weight_ih.*`` / ``weight_hh.*`` of older checkpoints, unchanged);
``layout="joint"`` keeps one (``directions.{k}.weight.*``). ``layout=None`` resolves to "joint"
exactly when both formats are "ht" and the hidden-to-hidden rank equals the input-to-hidden one
(``hh_rank`` None or equal to ``rank``), and to "separate" otherwise. A joint layout with two
different formats or two different ranks is contradictory and raises.

Factor shapes of I + H. The output modes are those of the separate layout (``hidden_shape`` with
its last mode x G, or the format's choice). The input modes: above layer 0 the input is D H
(D directions), so I + H = (D + 1) H and, given ``hidden_shape``, the modes are ``hidden_shape``
with its last mode x (D + 1); at layer 0, I + H has no factorisation built from
``input_shape`` and ``hidden_shape``, so the format factorises it into as many modes as the
output has (a prime I + H then fails, naming the layer and the matrix).

Initialisation: every entry of W gets the standard deviation of torch's U(-1/sqrt(H), 1/sqrt(H)),
as each of the two separate matrices does.

Strategies. ``reconstruct`` rebuilds W once per forward call and hands its column blocks
(contiguous copies) to torch's fused operator. ``contract`` never forms W: the runner sees two
column-block views of it (:class:`ColumnBlock`), the input projection of all T steps at once
through W with the hidden part zero, [x_t; 0], and at every step the product with [0; h_{t-1}].
The other way, one product of [x_t; h_{t-1}] per step, does half the multiply-adds but cannot
serve the GRU, whose candidate gate needs W_hn h_{t-1} apart from W_in x_t (the reset gate
multiplies it), and would move the input half of the work from one batched product over T B
rows into the sequential loop, where each step is bound by Python dispatch and memory reads
(``strategies.rates``); so both cells use the first. ``auto`` counts one rebuild of W.

References:
    M. Yin, S. Liao, X.-Y. Liu, X. Wang, B. Yuan, "Towards extremely compact RNNs for video
    recognition with fully decomposed hierarchical Tucker structure", CVPR 2021.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepspeech_tt.nn.gru_layout import RecurrentSpec, fresh_biases, naming
from deepspeech_tt.tensor.base import FactorizedMatrix, FormatError, Rank, Shape
from deepspeech_tt.tensor.registry import get_format

LAYOUTS = ("separate", "joint")


def resolve_layout(
    layout: str | None, formats: tuple[str, str], rank: Rank, hh_rank: Rank, layer_name: str
) -> str:
    """The layout a module runs with: ``layout`` checked, or the default (see module docstring).

    Raises:
        ValueError: an unknown layout, or "joint" with two formats or two ranks.
    """
    if layout is None:
        return "joint" if formats == ("ht", "ht") and hh_rank == rank else "separate"
    if layout not in LAYOUTS:
        raise ValueError(f"{layer_name}: unknown layout {layout!r}; choose one of {list(LAYOUTS)}")
    if layout == "joint" and formats[0] != formats[1]:
        raise ValueError(
            f"{layer_name}: layout='joint' holds [W_ih | W_hh] in one format, but format gives "
            f"two ({formats[0]!r}, {formats[1]!r}); give one name or use layout='separate'"
        )
    if layout == "joint" and hh_rank != rank:
        raise ValueError(
            f"{layer_name}: layout='joint' holds [W_ih | W_hh] at one rank, but hh_rank "
            f"{hh_rank!r} differs from rank {rank!r}; drop hh_rank or use layout='separate'"
        )
    return layout


def joint_size(spec: RecurrentSpec, layer: int) -> tuple[int, int]:
    """(G H, I + H) of the joint matrix of ``layer``."""
    rows, inputs = spec.size(layer, "ih")
    return rows, inputs + spec.hidden_size


def joint_factor_shapes(spec: RecurrentSpec, layer: int) -> tuple[Shape, Shape]:
    """(out_shape, in_shape) of the joint matrix; None where the format chooses."""
    out_shape, _ = spec.factor_shapes(layer, "hh")
    if spec.hidden_shape is None or layer == 0:
        return out_shape, None
    directions = 2 if spec.bidirectional else 1
    hidden = tuple(spec.hidden_shape)
    return out_shape, (*hidden[:-1], hidden[-1] * (directions + 1))


class ColumnBlock(FactorizedMatrix):
    """Columns [start, stop) of a factorized matrix, products through the whole of it.

    ``matmul`` pads x with zeros to the joint matrix's width, so it never forms W; counts are
    those of the joint matrix (the padded product costs what the whole one does).
    """

    def __init__(self, joint: FactorizedMatrix, start: int, stop: int) -> None:
        super().__init__(joint.out_features, stop - start)
        self.joint = joint
        self.padding = (start, joint.in_features - stop)  # zeros before and after x

    def to_dense(self) -> Tensor:
        start = self.padding[0]
        return self.joint.to_dense()[:, start : start + self.in_features]

    def matmul(self, x: Tensor) -> Tensor:
        self._flatten_input(x)  # checks the last size
        return self.joint.matmul(F.pad(x, self.padding))  # (..., G H)

    def product(self) -> Callable[[Tensor], Tensor]:
        joint_product = self.joint.product()  # factors arranged once
        return lambda x: joint_product(F.pad(x, self.padding))

    def flops_matmul(self, batch: int) -> int:
        return self.joint.flops_matmul(batch)

    def flops_to_dense(self) -> int:
        return self.joint.flops_to_dense()

    @classmethod
    def from_dense(
        cls, weight: Tensor, rank: Rank, *, out_shape: Shape = None, in_shape: Shape = None
    ) -> FactorizedMatrix:
        raise FormatError("a column block of a joint matrix is fitted through the joint matrix")


class JointDirectionWeights(nn.Module):
    """One direction of one layer in the joint layout: W = [W_ih | W_hh] and dense biases."""

    def __init__(
        self, weight: FactorizedMatrix, input_size: int, bias_ih: Tensor | None,
        bias_hh: Tensor | None,
    ) -> None:
        super().__init__()
        self.weight = weight
        self.input_size = input_size  # columns of W_ih; the rest are W_hh's
        self.bias_ih = None if bias_ih is None else nn.Parameter(bias_ih)
        self.bias_hh = None if bias_hh is None else nn.Parameter(bias_hh)

    @property
    def weight_ih(self) -> FactorizedMatrix:
        """W_ih (G H x I) as a view of W's first I columns."""
        return ColumnBlock(self.weight, 0, self.input_size)

    @property
    def weight_hh(self) -> FactorizedMatrix:
        """W_hh (G H x H) as a view of W's last H columns."""
        return ColumnBlock(self.weight, self.input_size, self.weight.in_features)

    def rebuild_macs(self) -> int:
        """Multiply-adds of rebuilding this direction's dense weights: W once."""
        return self.weight.flops_to_dense()

    def dense_weights(self) -> list[Tensor]:
        """[W_ih, W_hh] (+ [b_ih, b_hh]), from one reconstruction of W, torch's order."""
        weight = self.weight.to_dense()  # (G H, I + H)
        weights = [weight[:, : self.input_size].contiguous(),
                   weight[:, self.input_size :].contiguous()]
        if self.bias_ih is not None and self.bias_hh is not None:
            weights += [self.bias_ih, self.bias_hh]
        return weights


def build_joint_direction(
    spec: RecurrentSpec, layer: int, direction: int, init_std: float
) -> JointDirectionWeights:
    """A freshly initialised joint matrix (entries of std ``init_std``) and fresh biases."""
    out_shape, in_shape = joint_factor_shapes(spec, layer)
    with naming(spec.where(layer, direction, "joint")):
        weight = get_format(spec.formats[0])(
            *joint_size(spec, layer), spec.rank, out_shape=out_shape, in_shape=in_shape,
            init_std=init_std,
        )
    biases = fresh_biases(spec)
    return JointDirectionWeights(weight, spec.size(layer, "ih")[1], biases[0], biases[1])


def joint_from_dense(
    spec: RecurrentSpec, layer: int, direction: int, weight_ih: Tensor, weight_hh: Tensor,
    bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
) -> JointDirectionWeights:
    """The joint matrix fitted to [W_ih | W_hh] by the format's ``from_dense``."""
    out_shape, in_shape = joint_factor_shapes(spec, layer)
    with naming(spec.where(layer, direction, "joint")):
        weight = get_format(spec.formats[0]).from_dense(
            torch.cat([weight_ih, weight_hh], dim=1), spec.rank, out_shape=out_shape,
            in_shape=in_shape,
        )
    copies = [None if b is None else b.detach().clone() for b in (bias_ih, bias_hh)]
    return JointDirectionWeights(weight, weight_ih.size(1), copies[0], copies[1])

