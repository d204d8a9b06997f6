"""The factorized recurrent layer: weights, strategies, conversion, counts and repr, for any cell.

A layer is :class:`FactorizedRNN` bound to a cell (``cell``: a registered
:class:`~deepspeech_tt.nn.cells.Cell`, e.g. the GRU's or the LSTM's): ``FactorizedGRU`` and
``FactorizedLSTM`` are such bindings, and :func:`layer_class` gives the layer of any registered
cell. Weights are laid out by ``gru_layout`` with the cell's gate count, run by ``runner``, and
each layer is run by the strategy it names, or ``auto``'s choice (``strategies``).

Layouts (``layout``, see ``joint_layout``): "separate" keeps W_ih and W_hh as two matrices;
"joint" (the fully decomposed form of FDHT, Yin et al. 2021) keeps one [W_ih | W_hh] per layer
and direction; None picks "joint" for "ht" at one rank, "separate" otherwise.

Initialisation: every factorized matrix gets the standard deviation of torch's
U(-1/sqrt(H), 1/sqrt(H)) (``nn.GRU`` and ``nn.LSTM`` initialise every weight so), i.e.
1/sqrt(3H), whatever the input size; biases are drawn from that uniform distribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar, cast

from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from deepspeech_tt.nn.cells import Cell
from deepspeech_tt.nn.gru_layout import (
    RecurrentSpec,
    build_direction,
    direction_from_dense,
    parse_formats,
)
from deepspeech_tt.nn.joint_layout import (
    build_joint_direction,
    joint_from_dense,
    resolve_layout,
)
from deepspeech_tt.nn.layer import Direction
from deepspeech_tt.nn.parameter_counts import dense_rnn_parameters
from deepspeech_tt.nn.runner import layer_strategies, run_packed, run_padded
from deepspeech_tt.nn.sequences import States
from deepspeech_tt.nn.strategies import parse_strategies
from deepspeech_tt.nn.torch_conversion import (
    check_convertible,
    torch_direction_weights,
    torch_layer,
)
from deepspeech_tt.tensor.base import Rank

RNNType = TypeVar("RNNType", bound="FactorizedRNN")


class FactorizedRNN(nn.Module):
    """Multi-layer (bi)directional RNN of ``cell`` with factorized weight matrices.

    The interface of its torch counterpart (``nn.GRU``, ``nn.LSTM``): the same constructor
    arguments, ``forward`` and conventions, plus the format, rank, strategy and layout below.
    Each matrix holds the cell's gates stacked on its output side, in torch's order.

    Args:
        input_size: features of the input x.
        hidden_size: features of the hidden state h.
        num_layers: stacked layers.
        bias: whether the layers have the biases b_ih and b_hh.
        batch_first: input and output are (B, T, F) instead of (T, B, F).
        dropout: dropout on the outputs of each layer except the last.
        bidirectional: run a backward direction too and concatenate the outputs.
        format: registered format name of both matrices, or (input-to-hidden, hidden-to-hidden).
        rank: the format's rank (one integer for every bond, or a list), both matrices.
        hh_rank: the rank of the hidden-to-hidden matrices, when it differs from ``rank``.
        input_shape: factorisation of ``input_size`` (layer 0's input modes); optional.
        hidden_shape: factorisation of ``hidden_size``; optional, the formats factorise the sizes
            themselves without it.
        strategy: a registered strategy ("reconstruct", "contract"; see ``strategies``) or
            "auto" (the cheapest that supports the layer), or one of these for each layer.
        layout: "separate" (W_ih and W_hh), "joint" (one [W_ih | W_hh], FDHT) or None: joint
            when both formats are "ht" and hh_rank is None or equals rank, separate otherwise.
    """

    cell: ClassVar[Cell]  # set by each subclass (FactorizedGRU: the GRU cell)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        format: str | tuple[str, str] = "tt",
        rank: Rank = 8,
        hh_rank: Rank | None = None,
        input_shape: Sequence[int] | None = None,
        hidden_shape: Sequence[int] | None = None,
        strategy: str | Sequence[str] = "auto",
        layout: str | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        formats, name = parse_formats(format), type(self).__name__
        hh_rank = rank if hh_rank is None else hh_rank
        self.layout = resolve_layout(layout, formats, rank, hh_rank, name)
        self.spec = RecurrentSpec(
            input_size, hidden_size, num_layers, bidirectional, bias, formats=formats, rank=rank,
            hh_rank=hh_rank, input_shape=input_shape, hidden_shape=hidden_shape,
            gates=self.cell.num_gates, layer_name=name, layout=self.layout,
        )
        self.strategies = parse_strategies(strategy, num_layers)
        self.last_plan: tuple[int, int, tuple[str, ...]] | None = None
        init_std = 1.0 / math.sqrt(3 * hidden_size)  # std of U(-1/sqrt(H), 1/sqrt(H))
        build = build_joint_direction if self.layout == "joint" else build_direction
        self.directions = nn.ModuleList(
            build(self.spec, layer, d, init_std)
            for layer in range(num_layers)
            for d in range(self.num_directions)
        )

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def direction_weights(self, layer: int | None = None) -> list[Direction]:
        """The weights of each direction of ``layer`` (of all layers if None), torch's order."""
        directions = [cast(Direction, d) for d in self.directions]
        if layer is None:
            return directions
        d = self.num_directions
        return directions[layer * d : (layer + 1) * d]

    @classmethod
    def from_torch(cls: type[RNNType], rnn: nn.RNNBase, **kwargs: Any) -> RNNType:
        """Compress a (trained) torch RNN of the cell's type (``nn.GRU`` for FactorizedGRU...).

        A module of the sizes of ``rnn``, each matrix fitted by its format's ``from_dense``; in
        the joint layout, [W_ih | W_hh] of each layer and direction is fitted as one matrix.

        Args:
            rnn: the torch layer; its sizes, bias, batch_first, dropout and directions are kept.
            **kwargs: the constructor's keyword arguments (format, rank, hh_rank, input_shape,
                hidden_shape, strategy, layout), with the same defaults.

        Raises:
            TypeError: ``rnn`` is not the cell's torch layer, or has projections.
        """
        check_convertible(cls.__name__, cls.cell, rnn)
        module = cls(
            rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.bias, rnn.batch_first,
            float(rnn.dropout), rnn.bidirectional, **kwargs,
        )
        fit = joint_from_dense if module.layout == "joint" else direction_from_dense
        module.directions = nn.ModuleList(
            fit(module.spec, layer, d, *torch_direction_weights(rnn, layer, d))
            for layer in range(rnn.num_layers)
            for d in range(module.num_directions)
        )
        param = next(rnn.parameters())
        return module.to(device=param.device, dtype=param.dtype)

    def to_torch(self) -> nn.RNNBase:
        """The cell's torch layer (``nn.GRU``, ``nn.LSTM``) holding the reconstructed weights."""
        return torch_layer(self)

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | tuple[Tensor, ...] | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor | tuple[Tensor, ...]]:
        """Run the layer, with its torch counterpart's inputs, outputs and conventions.

        Args:
            input: (T, B, I), or (B, T, I) if ``batch_first``, or unbatched (T, I), or a
                PackedSequence.
            hx: the initial state, zeros if None: h_0 (L * D, B, H) for a cell of one state
                (GRU), a tuple of such tensors for more ((h_0, c_0) for the LSTM); without the
                B axis for unbatched input.
            lengths: (B,) lengths of padded input. Beyond torch's RNNs: each sequence then gets
                the output and final state it gets alone, without packing, and padded steps of
                the output are zero.

        Returns:
            output (T, B, D * H) (or batch-first, or packed like the input) and the final state
            shaped like ``hx``: h_n, or (h_n, c_n), each (L * D, B, H).
        """
        output, final = self._run(input, self._state_tuple(hx), lengths)
        return output, (final[0] if self.cell.num_states == 1 else final)

    def _state_tuple(self, hx: Tensor | tuple[Tensor, ...] | None) -> States | None:
        """hx as a tuple of the cell's state tensors; a TypeError for the other form."""
        names = ", ".join(f"{name}_0" for name in self.cell.states)
        if hx is None:
            return None
        if self.cell.num_states == 1:
            if not isinstance(hx, Tensor):
                raise TypeError(f"{type(self).__name__}: hx must be one tensor {names}")
            return (hx,)
        if isinstance(hx, Tensor):
            raise TypeError(f"{type(self).__name__}: hx must be a tuple ({names}), not one tensor")
        return tuple(hx)

    def _run(
        self, input: Tensor | PackedSequence, hx: States | None, lengths: Tensor | None
    ) -> tuple[Tensor | PackedSequence, States]:
        """``forward`` with the state as a tuple ((h,) or (h, c))."""
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError("lengths is for padded input; a PackedSequence has its own")
            return run_packed(self, input, hx)
        return run_padded(self, input, hx, lengths)

    def output(self, input: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``forward``'s output on a padded tensor, without the final state.

        For callers that discard the final state: with lengths, the LSTM then skips computing
        c_n (see ``cells.lstm``); the GRU's final state costs nothing extra.

        Args:
            input: (T, B, I), or (B, T, I) if ``batch_first``, or unbatched (T, I).
            lengths: (B,) lengths, or None when every sequence fills the T steps.

        Returns:
            output (T, B, D * H) (or batch-first), zero at padded steps.
        """
        output, _ = run_padded(self, input, None, lengths, final_state=False)
        return output

    def set_strategy(self, strategy: str | Sequence[str]) -> None:
        """Run with ``strategy`` from now on: one name for every layer, or one per layer."""
        self.strategies = parse_strategies(strategy, self.num_layers)

    def plan(self, batch_size: int, steps: int, *, training: bool) -> tuple[str, ...]:
        """The name of the strategy each layer runs with on a (steps, batch_size) input.

        Raises:
            ValueError: a layer names a strategy that does not support its device, dtype or
                formats (or, under ``auto``, none does).
        """
        return tuple(s.name for s in layer_strategies(self, batch_size, steps, training=training))

    def num_parameters(self) -> int:
        """The exact number of stored values: factors and dense biases."""
        return sum(p.numel() for p in self.parameters())

    def dense_num_parameters(self) -> int:
        """The number of values a dense layer of these sizes stores (as ``nn.GRU`` does)."""
        return dense_rnn_parameters(
            self.input_size, self.hidden_size, self.num_layers, gates=self.cell.num_gates,
            bias=self.bias, bidirectional=self.bidirectional,
        )

    def compression_ratio(self) -> float:
        """Dense parameters over stored parameters (> 1 means smaller than the torch layer)."""
        return self.dense_num_parameters() / self.num_parameters()

    def flatten_parameters(self) -> None:
        """No-op, for code written for torch's RNNs: weights are laid out at each forward."""

    def extra_repr(self) -> str:
        spec = self.spec
        lines = [
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bias={self.bias}, batch_first={self.batch_first}, dropout={self.dropout}, "
            f"bidirectional={self.bidirectional}",
            f"parameters={self.num_parameters():,} (nn.{self.cell.name}: "
            f"{self.dense_num_parameters():,}, compression {self.compression_ratio():.1f}x)",
        ]
        for layer, strategy in enumerate(self.strategies):
            shown = strategy
            if self.last_plan is not None:
                batch, steps, chosen = self.last_plan
                if strategy == "auto":
                    shown = f"auto -> {chosen[layer]} (last call: batch {batch}, {steps} steps)"
            lines.append(
                f"layer {layer}: format={spec.formats[0]}/{spec.formats[1]}, "
                f"rank={spec.rank}/{spec.hh_rank}, layout={self.layout}, strategy={shown}"
            )
        return "\n".join(lines)

