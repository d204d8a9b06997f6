"""``reconstruct``: build the dense matrices once per call, then run the dense layer.

A recurrent layer hands W_ih and W_hh to the cell's fused operator (oneDNN on CPU, cuDNN on
GPU), which keeps the time loop in C++; gradients reach the factors through the
reconstruction. Cost: one rebuild per call, then the speed of a dense RNN. A linear layer
rebuilds W and runs one GEMM.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from deepspeech_tt.nn.layer import Direction, RecurrentLayer
from deepspeech_tt.nn.sequences import States
from deepspeech_tt.nn.strategies import rates
from deepspeech_tt.nn.strategies.base import LinearCase, RecurrentCase, Strategy
from deepspeech_tt.tensor.base import FactorizedMatrix


class ReconstructStrategy(Strategy):
    """Rebuild the dense matrices, then run torch's dense operators; every case."""

    name = "reconstruct"

    def cost(self, case: RecurrentCase) -> float:
        return case.directions * reconstruct_seconds(
            case.weight_ih, case.weight_hh, steps=case.steps, batch=case.batch,
            training=case.training, rebuild_macs=case.rebuild_macs, formats=case.formats,
            cell=case.cell,
        )

    def linear_cost(self, case: LinearCase) -> float:
        rows, columns = case.weight.shape
        gemm = case.batch * rows * columns
        macs = rates.CONTRACTION_SLOWDOWN * case.weight.flops_to_dense() + gemm
        return macs / rates.current().gemm_macs_per_s

    def linear(self, x: Tensor, weight: FactorizedMatrix, bias: Tensor | None) -> Tensor:
        return F.linear(x, weight.to_dense(), bias)

    def run_direction(
        self, rnn: RecurrentLayer, direction: Direction, x: Tensor, state: States,
        lengths: Tensor | None, *, reverse: bool, final_state: bool,
    ) -> tuple[Tensor, States]:
        if lengths is None:  # every sequence has all T steps
            lengths = torch.full((x.size(1),), x.size(0), dtype=torch.int64, device=x.device)
        return rnn.cell.reconstructed_direction(
            x, state, direction.dense_weights(), lengths, reverse=reverse,
            final_state=final_state,
        )

    def run_layer(
        self, rnn: RecurrentLayer, layer: int, x: Tensor, state: States, lengths: Tensor | None,
        final_state: bool,
    ) -> tuple[Tensor, States]:
        if lengths is not None:
            return super().run_layer(rnn, layer, x, state, lengths, final_state)
        weights = _dense_weights(rnn.direction_weights(layer))
        return rnn.cell.fused(
            x, state, weights, has_bias=rnn.bias, num_layers=1, dropout=0.0,
            training=rnn.training, bidirectional=rnn.bidirectional,
        )

    def run_stack(
        self, rnn: RecurrentLayer, x: Tensor, state: States, lengths: Tensor | None
    ) -> tuple[Tensor, States] | None:
        if lengths is not None:
            return None
        weights = _dense_weights(rnn.direction_weights())
        return rnn.cell.fused(
            x, state, weights, has_bias=rnn.bias, num_layers=rnn.num_layers,
            dropout=rnn.dropout, training=rnn.training, bidirectional=rnn.bidirectional,
        )

    def run_packed(
        self, rnn: RecurrentLayer, packed: PackedSequence, state: States
    ) -> tuple[PackedSequence, States] | None:
        """cuDNN takes packed data directly; on CPU, unpacking is faster (see ``sequences``)."""
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        if not (data.is_cuda and rnn.cell.has_fused):
            return None
        if sorted_indices is not None:
            state = tuple(s.index_select(1, sorted_indices) for s in state)
        weights = _dense_weights(rnn.direction_weights())
        output, final = rnn.cell.fused_packed(
            data, batch_sizes, state, weights, has_bias=rnn.bias, num_layers=rnn.num_layers,
            dropout=rnn.dropout, training=rnn.training, bidirectional=rnn.bidirectional,
        )
        if unsorted_indices is not None:
            final = tuple(s.index_select(1, unsorted_indices) for s in final)
        return PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices), final


def _dense_weights(directions: Sequence[Direction]) -> list[Tensor]:
    """The flat list of torch's fused operator: w_ih, w_hh[, b_ih, b_hh] per direction."""
    return [w for direction in directions for w in direction.dense_weights()]


def reconstruct_seconds(
    weight_ih: FactorizedMatrix, weight_hh: FactorizedMatrix, *, steps: int, batch: int,
    training: bool = False, rebuild_macs: int | None = None, formats: tuple[str, ...] = (),
    cell: str = "", rate: rates.Rates | None = None,
) -> float:
    """One direction: rebuild W and U, then the fused dense RNN (forward, or forward+backward).

    ``rebuild_macs``: multiply-adds of the rebuild when it is not that of the two matrices
    (the joint layout rebuilds one [W_ih | W_hh]); ``formats``: the matrices' format names,
    whose rebuild slowdowns (``rates.Slowdown``) apply; ``cell``: the cell's name, whose fused
    operator's speed (``rates.FusedSpeed``) applies; ``rate``: the rates (``rates.current()``).
    """
    gate_rows, inputs = weight_ih.shape
    hidden = weight_hh.in_features
    rate = rates.current() if rate is None else rate
    ih, hh = (rate.slowdown(name) for name in formats) if formats else (rates.AS_MODELLED,) * 2
    ih_macs = weight_ih.flops_to_dense()
    if rebuild_macs is None:
        rebuild_macs = ih_macs + weight_hh.flops_to_dense()
    hh_macs = max(rebuild_macs - ih_macs, 0)  # joint layout: all of it when formats agree
    if ih is hh:
        ih_macs, hh_macs = 0, rebuild_macs
    rebuild = (ih.rebuild * ih_macs + hh.rebuild * hh_macs) / rate.rebuild_macs_per_s
    projection = steps * batch * gate_rows * inputs / rate.gemm_macs_per_s
    product = batch * gate_rows * hidden / rate.gemm_macs_per_s
    read = gate_rows * hidden / rate.read_values_per_s
    fused = projection + steps * max(product, read)
    speed = rate.fused_speed(cell)
    if not training:
        return rebuild + speed.factor(batch, training=False) * fused
    backward_step = max(rates.FUSED_BACKWARD * product, rates.FUSED_BACKWARD_READS * read)
    fused += rates.FUSED_BACKWARD * projection + steps * backward_step
    return (1.0 + rates.FUSED_BACKWARD) * rebuild + speed.factor(batch, training=True) * fused
