"""The recurrent layers of DeepSpeech2, GRU or LSTM, each dense or in a compressed tensor format.

Every layer is a :class:`~deepspeech_tt.nn.gru.FactorizedGRU` (DeepSpeech2's choice, Amodei et
al. section 3.1), a :class:`~deepspeech_tt.nn.lstm.FactorizedLSTM` (``rnn_type="lstm"``) or the
layer of any other cell registered in ``deepspeech_tt.nn.cells.CELLS`` (``rnn_type`` is its
registry name); a dense layer is one whose format is "dense", which runs the same fused operator
as ``nn.GRU`` (``nn.LSTM``) on its stored weights. The module is registered under the type's
name (``gru`` or ``lstm``), so state-dict keys say which it is and GRU checkpoints keep their keys.
Variable lengths go to the GRU as ``lengths``: each direction runs as a plain GRU over the padded
batch, the backward one on each sequence reversed within its own length. That equals packing
and, measured on the 2-core development CPU (BiGRU 1312 -> 256, T = 200, B = 16, one thread,
forward + backward), takes 462 ms against 902 ms for a packed ``nn.GRU`` and 490 ms for two
``nn.GRU`` with the same reversal written out, so the dense layers gain nothing from ``nn.GRU``.
The layer asks for the output alone (``output``), so an LSTM skips its final cell state, which
costs extra with lengths (``deepspeech_tt.nn.cells.lstm``).

Layouts and sharing. A spec's ``layout`` is the layer's (``deepspeech_tt.nn.joint_layout``:
"joint" holds [W_ih | W_hh] in one matrix, FDHT; None: joint for "ht"). ``shared=True`` on layer
l (format "lowrank", separate layout, not the last layer) ties its hidden-to-hidden factor V^l
to layer l+1's input-to-hidden matrix, W_ih^{l+1} = U V^l (Lu, Sindhwani, Sainath 2016; see
``deepspeech_tt.nn.shared_lowrank``): with summed directions the next layer's U multiplies
[V_f; V_b], with concatenated ones blockdiag(V_f, V_b). V^l is a parameter of layer l only, so
every count (``num_parameters``, the summary) has it once. :func:`tie_shared_layers` applies
the ties after the layers are built and refuses contradictory specs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from torch import Tensor, nn

from deepspeech_tt.model.batchnorm import SequenceBatchNorm
from deepspeech_tt.nn import layer_class
from deepspeech_tt.nn.cells import CELLS
from deepspeech_tt.nn.factorized_rnn import FactorizedRNN
from deepspeech_tt.nn.shared_lowrank import SharedLowRankInput, tie_to_layer_below
from deepspeech_tt.tensor.base import Rank

RNN_TYPES = CELLS
"""The recurrent cell types a DeepSpeech2 layer can have, by config name: the cell registry."""


def rnn_class(rnn_type: str) -> type[FactorizedRNN]:
    """The layer class of ``rnn_type``; a ValueError listing the valid names otherwise."""
    if rnn_type not in RNN_TYPES:
        raise ValueError(f"unknown rnn_type {rnn_type!r}; choose one of {sorted(RNN_TYPES)}")
    return layer_class(rnn_type)


@dataclass(frozen=True)
class RNNLayerSpec:
    """How one recurrent layer stores its weights.

    Attributes:
        format: a name of ``deepspeech_tt.tensor.FORMATS`` ("dense", "tt", "cp", "tucker",
            "lowrank"), or a pair (input-to-hidden, hidden-to-hidden).
        rank: the format's rank, one int for every bond or a tuple; ignored by "dense".
        hh_rank: rank of the hidden-to-hidden matrices when it differs from ``rank``.
        strategy: a name in ``deepspeech_tt.nn.strategies.STRATEGIES`` ("reconstruct",
            "contract") or "auto" (see ``FactorizedRNN``).
        layout: "separate", "joint" ([W_ih | W_hh] in one matrix) or None (joint for "ht").
        shared: share this layer's low-rank V (hidden-to-hidden) with the next layer's
            input-to-hidden matrix (see the module docstring).
    """

    format: str | tuple[str, str] = "dense"
    rank: Rank = 8
    hh_rank: Rank | None = None
    strategy: str = "auto"
    layout: str | None = None
    shared: bool = False

    def describe(self) -> tuple[str, str]:
        """(format, rank) as a summary table shows them; rank "-" for dense layers."""
        formats = (self.format,) * 2 if isinstance(self.format, str) else self.format
        fmt = formats[0] if formats[0] == formats[1] else "/".join(formats)
        if set(formats) == {"dense"}:
            return fmt, "-"
        rank = _rank_text(self.rank)
        if self.hh_rank is not None and self.hh_rank != self.rank:
            rank += "/" + _rank_text(self.hh_rank)
        return fmt, rank


class RecurrentLayer(nn.Module):
    """[Sequence-wise BatchNorm ->] (bi)GRU or (bi)LSTM -> directions summed or concatenated.

    DeepSpeech2 (Amodei et al., 2016, section 3.2) normalises the input of every recurrent
    layer but the first, and sums the two directions (section 3.1); concatenating keeps them.

    Args:
        input_size: features of each input frame.
        hidden_size: H, features of each direction's state.
        spec: the format, rank and strategy of the recurrent weights.
        bidirectional: run a backward direction too.
        sum_directions: sum the two directions (output H) instead of concatenating them (2H).
        batch_norm: normalise the input over the valid frames first.
        rnn_type: a registered cell name ("gru", "lstm"; see ``deepspeech_tt.nn.cells``).

    Shape:
        x: (B, T, input_size), lengths: (B,) -> (B, T, output_size), zero beyond each length.
    """

    def __init__(
        self, input_size: int, hidden_size: int, spec: RNNLayerSpec, *,
        bidirectional: bool = True, sum_directions: bool = True, batch_norm: bool = True,
        rnn_type: str = "gru",
    ) -> None:
        super().__init__()
        self.spec = spec
        self.rnn_type = rnn_type
        self.norm = SequenceBatchNorm(input_size) if batch_norm else None
        rnn = rnn_class(rnn_type)(
            input_size, hidden_size, batch_first=True, bidirectional=bidirectional,
            format=spec.format, rank=spec.rank, hh_rank=spec.hh_rank, strategy=spec.strategy,
            layout=spec.layout,
        )
        self.add_module(rnn_type, rnn)  # "gru" or "lstm": the state-dict keys name the type
        self.sum_directions = bidirectional and sum_directions
        self.output_size = hidden_size * (2 if bidirectional and not sum_directions else 1)

    @property
    def rnn(self) -> FactorizedRNN:
        """The layer's FactorizedGRU or FactorizedLSTM."""
        return cast(FactorizedRNN, self._modules[self.rnn_type])

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        if self.norm is not None:
            x = self.norm(x, lengths)
        y = self.rnn.output(x, lengths)  # (B, T, D * H); the final state is not needed
        if self.sum_directions:
            batch, steps, _ = y.shape
            y = y.view(batch, steps, 2, -1).sum(dim=2)  # (B, T, H)
        return y, lengths


def tie_shared_layers(layers: Sequence[RecurrentLayer]) -> None:
    """Tie each layer whose spec is ``shared`` to the layer above it (module docstring).

    Raises:
        ValueError: naming the layer, when ``shared`` is set on the last layer, on a layer that
            is not low rank in the separate layout, or below a dense or joint layer.
    """
    for index, layer in enumerate(layers):
        if not layer.spec.shared:
            continue
        where = f"shared low rank of recurrent layers {index} and {index + 1}"
        if index == len(layers) - 1:
            raise ValueError(
                f"recurrent layer {index} is the last one, but shared=True ties a layer's V to "
                f"the layer above; set it on layers 0..{len(layers) - 2} only"
            )
        lower, upper = layer.rnn, layers[index + 1].rnn
        if lower.spec.formats[1] != "lowrank" or lower.layout != "separate":
            raise ValueError(
                f"{where}: layer {index} must hold its hidden-to-hidden matrices in format "
                f"'lowrank' with layout 'separate', got {lower.spec.formats[1]!r} ({lower.layout})"
            )
        if set(upper.spec.formats) == {"dense"} or upper.layout != "separate":
            raise ValueError(f"{where}: layer {index + 1} is dense or joint; its "
                             "input-to-hidden matrix cannot share V")
        tie_to_layer_below(
            [d.weight_hh for d in lower.direction_weights()], upper.direction_weights(),
            merge="sum" if layer.sum_directions else "concat",
            init_std=1.0 / math.sqrt(3 * upper.hidden_size), where=where,
        )


def shares_input(layer: RecurrentLayer) -> bool:
    """Whether the layer's input-to-hidden matrices share V with the layer below."""
    return any(isinstance(d.weight_ih, SharedLowRankInput) for d in layer.rnn.direction_weights())


def _rank_text(rank: Rank) -> str:
    return str(rank) if isinstance(rank, int) else "(" + ",".join(map(str, rank)) + ")"
