"""Shared low-rank factors between stacked recurrent layers (Lu, Sindhwani, Sainath 2016).

Layer l's hidden-to-hidden matrix and layer l+1's input-to-hidden matrix both multiply what
layer l outputs, so they can share its right factor V^l (r x H):

    W_hh^l = U_hh^l V^l        (a ``LowRankMatrix``, owned by layer l; per direction)
    W_ih^{l+1} = U_ih^{l+1} V_c^l   (a :class:`SharedLowRankInput`: U_ih^{l+1} is its own)

Two directions. A bidirectional layer l has two hidden-to-hidden matrices, hence two V^l_f and
V^l_b; layer l+1 sees either their outputs concatenated, [h_f; h_b] (2H), or summed,
h_f + h_b (H, DeepSpeech2's choice). ``merge`` says which, and V_c^l combines them so that each
direction's output goes through its own V:

    concat: V_c = blockdiag(V_f, V_b)  (2r x 2H),   V_c [h_f; h_b] = [V_f h_f; V_b h_b]
    sum:    V_c = [V_f; V_b]           (2r x H),    V_c s = [V_f s; V_b s]

so W_ih^{l+1} = U_ih V_c with U_ih of shape (G H x 2r) per direction of layer l+1 (rank 2r);
a unidirectional layer gives V_c = V^l and U_ih (G H x r). In DeepSpeech2 a sequence-wise
BatchNorm sits between the layers, so W_ih^{l+1} multiplies the normalised output: the tie is
the parameter sharing of Lu et al., whose stacks have no normalisation in between.

Parameters, counted once: V^l belongs to layer l's hidden-to-hidden matrices (it is a
parameter of those modules only; :class:`SharedLowRankInput` holds an unregistered reference),
so layer l stores D r (G H + H) in its hidden-to-hidden matrices, and layer l+1 stores only
D' G H (D r) in its input-to-hidden ones (D' its directions), against D' G H D_in of dense
ones (D_in = D when concatenated, 1 when summed). A state dict saves V^l once, under layer l.

Initialisation: U_ih has N(0, s^2) entries with s = init_std / (sqrt(D r) * std(V_c's blocks)),
so that W_ih^{l+1} starts with the standard deviation ``init_std``, as the other matrices do.

References:
    Z. Lu, V. Sindhwani, T. N. Sainath, "Learning compact recurrent neural networks",
    ICASSP 2016.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepspeech_tt.nn.gru_layout import DirectionWeights
from deepspeech_tt.tensor.base import FactorizedMatrix, FormatError, Rank, Shape
from deepspeech_tt.tensor.lowrank import LowRankMatrix

MERGES = ("concat", "sum")


class SharedLowRankInput(FactorizedMatrix):
    """W_ih^{l+1} = U V_c, V_c built from the lower layer's V factors (see module docstring).

    Args:
        out_features: G H, the gate rows of the upper layer.
        sources: the lower layer's hidden-to-hidden ``LowRankMatrix`` of each direction.
        merge: "concat" or "sum", how the upper layer receives the lower directions' outputs.
        init_std: the standard deviation of the initial W.
    """

    def __init__(
        self, out_features: int, sources: Sequence[LowRankMatrix], merge: str, init_std: float
    ) -> None:
        if merge not in MERGES:
            raise ValueError(f"unknown merge {merge!r}; choose one of {list(MERGES)}")
        hidden = sources[0].in_features
        concatenated = merge == "concat" and len(sources) > 1
        super().__init__(out_features, hidden * len(sources) if concatenated else hidden)
        self._sources = tuple(sources)  # a tuple: not registered, the lower layer owns V
        self.merge = "concat" if concatenated else "sum"
        self.inner = sum(source.rank for source in sources)  # D r
        v = torch.cat([source.v.detach().reshape(-1) for source in sources])
        scale = init_std / (math.sqrt(self.inner) * float(v.square().mean().sqrt()))
        self.u = nn.Parameter(torch.randn(out_features, self.inner, dtype=v.dtype) * scale)

    @property
    def sources(self) -> tuple[LowRankMatrix, ...]:
        """The lower layer's hidden-to-hidden matrices whose V this matrix shares."""
        return self._sources

    def shared_v(self) -> Tensor:
        """V_c: blockdiag(V_f, V_b) (concat) or [V_f; V_b] (sum), (D r, in_features)."""
        vs: list[Tensor] = [source.v for source in self._sources]
        return torch.block_diag(*vs) if self.merge == "concat" else torch.cat(vs)

    def to_dense(self) -> Tensor:
        return self.u @ self.shared_v()  # (G H, D r) @ (D r, in)

    def matmul(self, x: Tensor) -> Tensor:
        flat = self._flatten_input(x)  # (B, in)
        vs: list[Tensor] = [source.v for source in self._sources]
        if self.merge == "concat":
            parts = flat.split([v.size(1) for v in vs], dim=1)
            z = torch.cat([part @ v.T for part, v in zip(parts, vs, strict=True)], dim=1)
        else:
            z = flat @ torch.cat(vs).T  # (B, D r)
        return (z @ self.u.T).reshape(*x.shape[:-1], self.out_features)

    def flops_matmul(self, batch: int) -> int:
        hidden = self._sources[0].in_features
        return batch * self.inner * (hidden + self.out_features)

    def flops_to_dense(self) -> int:
        return self.out_features * self.inner * self.in_features

    @classmethod
    def from_dense(
        cls, weight: Tensor, rank: Rank, *, out_shape: Shape = None, in_shape: Shape = None
    ) -> FactorizedMatrix:
        raise FormatError("a shared low-rank matrix is fitted together with the layer below it")

    def extra_repr(self) -> str:
        return (f"out_features={self.out_features}, in_features={self.in_features}, "
                f"inner={self.inner}, merge={self.merge}, V shared with the layer below")


def tie_to_layer_below(
    lower_hh: Sequence[FactorizedMatrix], upper_directions: Sequence[nn.Module], *, merge: str,
    init_std: float, where: str,
) -> None:
    """Give each of ``upper_directions`` a ``weight_ih`` U V_c that shares ``lower_hh``'s V.

    Args:
        lower_hh: the lower layer's hidden-to-hidden matrices, one per direction (low rank).
        upper_directions: the upper layer's ``DirectionWeights`` (separate layout).
        merge: "concat" or "sum", how the upper layer receives the lower layer's directions.
        init_std: the standard deviation of each new W_ih.
        where: how errors name the pair of layers.

    Raises:
        ValueError: the lower matrices are not low rank, or the sizes do not chain.
    """
    sources = []
    for matrix in lower_hh:
        if not isinstance(matrix, LowRankMatrix):
            raise ValueError(
                f"{where}: shared low rank needs low-rank hidden-to-hidden matrices below "
                f"(format 'lowrank', layout 'separate'), got {type(matrix).__name__}"
            )
        sources.append(matrix)
    for direction in upper_directions:
        if not isinstance(direction, DirectionWeights):
            raise ValueError(f"{where}: the layer above must have the separate layout")
        current = direction.weight_ih
        shared = SharedLowRankInput(current.out_features, sources, merge, init_std)
        if shared.in_features != current.in_features:
            raise ValueError(
                f"{where}: the layer below outputs {shared.in_features} features "
                f"({merge}), the layer above takes {current.in_features}"
            )
        direction.weight_ih = shared

