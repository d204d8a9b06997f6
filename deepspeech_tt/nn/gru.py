"""A drop-in ``torch.nn.GRU`` whose weight matrices are held in compressed tensor formats.

Gate layout. Each layer and direction keeps two factorized matrices, each holding all three gates
stacked on its output side in torch's order r|z|n, exactly as ``nn.GRU.weight_ih_l{k}`` and
``weight_hh_l{k}`` do:

    weight_ih: (3H x I) = [W_ir; W_iz; W_in]        weight_hh: (3H x H) = [W_hr; W_hz; W_hn]

This is the TT-GRU form of Tjandra et al. (one tensor for the three gates; their code multiplies
the last output mode by 3), so with factor shapes the output modes of both matrices are
``hidden_shape`` with its last mode times 3. Biases stay dense (6H values per direction).

Strategies (chosen per layer):

* ``reconstruct``: rebuild the dense matrices once per forward call and run torch's fused GRU
  operator on them; gradients reach the factors through the reconstruction.
* ``contract``: never form the matrices; one batched product for the input projection of all
  steps, the hidden-to-hidden product contracted with the factors at every step.
* ``auto``: the cheaper of the two by ``deepspeech_tt.nn.gru_cost`` for the batch size, the
  number of steps and whether gradients are needed; the last choice is shown in the repr.

References:
    A. Tjandra, S. Sakti, S. Nakamura, "Compressing recurrent neural network with tensor train",
    IJCNN 2017; "Recurrent neural network compression based on low-rank tensor representation",
    IEICE Trans. Inf. & Syst. E103-D(2), 2020.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from deepspeech_tt.nn.gru_cost import STRATEGIES, Strategy, dense_gru_parameters, layer_cost
from deepspeech_tt.nn.gru_layout import (
    DirectionWeights,
    GRUSpec,
    build_direction,
    direction_from_dense,
    parse_formats,
)
from deepspeech_tt.nn.gru_runner import run_packed, run_padded
from deepspeech_tt.tensor.base import Rank


class FactorizedGRU(nn.Module):
    """Multi-layer (bi)GRU with factorized weight matrices; the interface of ``nn.GRU``.

    Args:
        input_size: features of the input x.
        hidden_size: features of the hidden state h.
        num_layers: stacked GRU layers.
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
        strategy: "reconstruct", "contract" or "auto", or one of these for each layer.

    Example::

        >>> gru = FactorizedGRU(160, 256, num_layers=3, bidirectional=True, format="tt", rank=8)
        >>> y, h_n = gru(torch.randn(200, 4, 160))  # (T, B, I) -> (T, B, 2H), (6, B, H)
    """

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
        self.spec = GRUSpec(
            input_size, hidden_size, num_layers, bidirectional, bias,
            formats=parse_formats(format), rank=rank, hh_rank=rank if hh_rank is None else hh_rank,
            input_shape=input_shape, hidden_shape=hidden_shape,
        )
        self.strategies = _parse_strategies(strategy, num_layers)
        self.last_plan: tuple[int, int, tuple[Strategy, ...]] | None = None
        init_std = 1.0 / math.sqrt(3 * hidden_size)  # nn.GRU: U(-1/sqrt(H), 1/sqrt(H))
        self.directions = nn.ModuleList(
            build_direction(self.spec, layer, d, init_std)
            for layer in range(num_layers)
            for d in range(self.num_directions)
        )

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def direction_weights(self, layer: int | None = None) -> list[DirectionWeights]:
        """The weights of each direction of ``layer`` (of all layers if None), nn.GRU's order."""
        directions = [cast(DirectionWeights, d) for d in self.directions]
        if layer is None:
            return directions
        d = self.num_directions
        return directions[layer * d : (layer + 1) * d]

    @classmethod
    def from_gru(
        cls,
        gru: nn.GRU,
        *,
        format: str | tuple[str, str] = "tt",
        rank: Rank = 8,
        hh_rank: Rank | None = None,
        input_shape: Sequence[int] | None = None,
        hidden_shape: Sequence[int] | None = None,
        strategy: str | Sequence[str] = "auto",
    ) -> FactorizedGRU:
        """Compress a (trained) ``nn.GRU``: each matrix by its format's ``from_dense``."""
        if not isinstance(gru, nn.GRU) or gru.proj_size:
            raise TypeError(f"from_gru needs an nn.GRU without projections, got {gru!r}")
        module = cls(
            gru.input_size, gru.hidden_size, gru.num_layers, gru.bias, gru.batch_first,
            float(gru.dropout), gru.bidirectional, format=format, rank=rank, hh_rank=hh_rank,
            input_shape=input_shape, hidden_shape=hidden_shape, strategy=strategy,
        )
        module.directions = nn.ModuleList(
            direction_from_dense(module.spec, layer, d, *_gru_direction_weights(gru, layer, d))
            for layer in range(gru.num_layers)
            for d in range(module.num_directions)
        )
        param = next(gru.parameters())
        return module.to(device=param.device, dtype=param.dtype)

    def to_gru(self) -> nn.GRU:
        """An ``nn.GRU`` holding the reconstructed dense weights."""
        param = next(self.parameters())
        gru = nn.GRU(
            self.input_size, self.hidden_size, self.num_layers, self.bias, self.batch_first,
            self.dropout, self.bidirectional, device=param.device, dtype=param.dtype,
        )
        with torch.no_grad():
            for index, direction in enumerate(self.direction_weights()):
                layer, d = divmod(index, self.num_directions)
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
                                       direction.dense_weights(), strict=False):
                    getattr(gru, name + suffix).copy_(value)
        return gru

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the GRU, with ``nn.GRU``'s inputs, outputs and conventions.

        Args:
            input: (T, B, I), or (B, T, I) if ``batch_first``, or unbatched (T, I), or a
                PackedSequence.
            hx: (L * D, B, H) initial states, zeros if None; (L * D, H) for unbatched input.
            lengths: (B,) lengths of padded input. Beyond nn.GRU: each sequence then gets the
                output and final state it gets alone, without packing, and padded steps of the
                output are zero.

        Returns:
            output (T, B, D * H) (or batch-first, or packed like the input) and h_n (L * D, B, H).
        """
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError("lengths is for padded input; a PackedSequence has its own")
            return run_packed(self, input, hx)
        return run_padded(self, input, hx, lengths)

    def set_strategy(self, strategy: str | Sequence[str]) -> None:
        """Run with ``strategy`` from now on: one name for every layer, or one per layer."""
        self.strategies = _parse_strategies(strategy, self.num_layers)

    def plan(self, batch_size: int, steps: int, *, training: bool) -> tuple[Strategy, ...]:
        """The strategy each layer runs with on a (steps, batch_size) input."""
        chosen: list[Strategy] = []
        for layer, strategy in enumerate(self.strategies):
            if strategy != "auto":
                chosen.append("contract" if strategy == "contract" else "reconstruct")
                continue
            first = self.direction_weights(layer)[0]
            cost = layer_cost(
                first.weight_ih, first.weight_hh, steps=steps, batch=batch_size,
                directions=self.num_directions, training=training,
            )
            chosen.append(cost.cheaper)
        return tuple(chosen)

    def num_parameters(self) -> int:
        """The exact number of stored values: factors and dense biases."""
        return sum(p.numel() for p in self.parameters())

    def dense_num_parameters(self) -> int:
        """The number of values an ``nn.GRU`` of the same sizes stores."""
        return dense_gru_parameters(
            self.input_size, self.hidden_size, self.num_layers,
            bias=self.bias, bidirectional=self.bidirectional,
        )

    def compression_ratio(self) -> float:
        """Dense parameters over stored parameters (> 1 means smaller than ``nn.GRU``)."""
        return self.dense_num_parameters() / self.num_parameters()

    def flatten_parameters(self) -> None:
        """No-op, for code written for ``nn.GRU``: weights are laid out at each forward."""

    def extra_repr(self) -> str:
        spec = self.spec
        lines = [
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bias={self.bias}, batch_first={self.batch_first}, dropout={self.dropout}, "
            f"bidirectional={self.bidirectional}",
            f"parameters={self.num_parameters():,} (nn.GRU: {self.dense_num_parameters():,}, "
            f"compression {self.compression_ratio():.1f}x)",
        ]
        for layer, strategy in enumerate(self.strategies):
            shown = strategy
            if self.last_plan is not None:
                batch, steps, chosen = self.last_plan
                if strategy == "auto":
                    shown = f"auto -> {chosen[layer]} (last call: batch {batch}, {steps} steps)"
            lines.append(
                f"layer {layer}: format={spec.formats[0]}/{spec.formats[1]}, "
                f"rank={spec.rank}/{spec.hh_rank}, strategy={shown}"
            )
        return "\n".join(lines)


def _parse_strategies(strategy: str | Sequence[str], num_layers: int) -> tuple[str, ...]:
    strategies = (strategy,) * num_layers if isinstance(strategy, str) else tuple(strategy)
    if len(strategies) != num_layers:
        raise ValueError(
            f"strategy lists {len(strategies)} entries for {num_layers} layers; give one each"
        )
    for name in strategies:
        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")
    return strategies


def _gru_direction_weights(gru: nn.GRU, layer: int, direction: int) -> list[Tensor]:
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if gru.bias else ())
    return [getattr(gru, name + suffix).detach() for name in names]
