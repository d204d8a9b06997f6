"""Running a FactorizedGRU: input conventions of ``nn.GRU``, packed sequences, the layer loop.

Everything is brought to padded, time-major form x (T, B, I) with optional lengths (B,), run
layer by layer with each layer's strategy, and given back in the caller's form. When every layer
reconstructs and all sequences are full length, the whole stack is one call of torch's fused
operator, exactly as ``nn.GRU`` runs.

PackedSequence input is unpacked and run with lengths: on CPU that is twice as fast to train as
torch's packed GRU (see ``gru_functional``). On CUDA, a stack that only reconstructs hands the
packed data to cuDNN directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from deepspeech_tt.nn.gru_functional import (
    contracted_direction,
    fused_gru,
    fused_gru_packed,
    length_mask,
    reconstructed_direction,
)

if TYPE_CHECKING:
    from deepspeech_tt.nn.gru import FactorizedGRU


def run_padded(
    gru: FactorizedGRU, input: Tensor, hx: Tensor | None, lengths: Tensor | None
) -> tuple[Tensor, Tensor]:
    """``nn.GRU.forward`` on a padded tensor (batched or not), plus optional lengths."""
    if input.dim() not in (2, 3):
        raise ValueError(f"FactorizedGRU: expected input to be 2-D or 3-D, got {input.dim()}-D")
    batched = input.dim() == 3
    if not batched:
        x = input.unsqueeze(1)  # (T, 1, I)
        hx = None if hx is None else hx.unsqueeze(1)
    else:
        x = input.transpose(0, 1) if gru.batch_first else input  # (T, B, I)
    steps, batch, _ = x.shape
    h0 = _initial_state(gru, x, hx)
    output, h_n = run_layers(gru, x, h0, _checked_lengths(lengths, steps, batch, x.device))
    if not batched:
        return output.squeeze(1), h_n.squeeze(1)
    return (output.transpose(0, 1) if gru.batch_first else output), h_n


def run_packed(
    gru: FactorizedGRU, packed: PackedSequence, hx: Tensor | None
) -> tuple[PackedSequence, Tensor]:
    """``nn.GRU.forward`` on a PackedSequence; hx and h_n in the caller's batch order."""
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    if data.is_cuda and set(_plan(gru, steps, batch)) == {"reconstruct"}:
        return _fused_packed(gru, packed, hx)
    padded, lengths = pad_packed_sequence(packed)  # (T, B, I) and (B,), caller's order
    h0 = _initial_state(gru, padded, hx)
    output, h_n = run_layers(gru, padded, h0, _checked_lengths(lengths, steps, batch, data.device))
    order = torch.arange(batch) if sorted_indices is None else sorted_indices.cpu()
    repacked = pack_padded_sequence(output[:, order.to(output.device)], lengths[order])
    return PackedSequence(repacked.data, batch_sizes, sorted_indices, unsorted_indices), h_n


def run_layers(
    gru: FactorizedGRU, x: Tensor, h0: Tensor, lengths: Tensor | None
) -> tuple[Tensor, Tensor]:
    """All layers on x (T, B, I) from h0 (L * D, B, H): output (T, B, D * H), h_n like h0."""
    steps, batch = x.shape[:2]
    plan = _plan(gru, steps, batch)
    if lengths is None and set(plan) == {"reconstruct"}:
        weights = [w for direction in gru.direction_weights() for w in direction.dense_weights()]
        return fused_gru(
            x, h0, weights, has_bias=gru.bias, num_layers=gru.num_layers,
            dropout=gru.dropout, training=gru.training, bidirectional=gru.bidirectional,
        )
    finals = []
    d = gru.num_directions
    for layer, strategy in enumerate(plan):
        if layer > 0 and gru.dropout > 0:
            x = F.dropout(x, gru.dropout, gru.training)
        x, h_layer = _run_layer(gru, layer, strategy, x, h0[layer * d : (layer + 1) * d], lengths)
        finals.append(h_layer)
    return x, torch.cat(finals)


def _run_layer(
    gru: FactorizedGRU, layer: int, strategy: str, x: Tensor, h0: Tensor, lengths: Tensor | None
) -> tuple[Tensor, Tensor]:
    """One layer, all directions: output (T, B, D * H), zero at padded steps; h_n (D, B, H)."""
    directions = gru.direction_weights(layer)
    if strategy == "reconstruct" and lengths is None:
        weights = [w for direction in directions for w in direction.dense_weights()]
        return fused_gru(
            x, h0, weights, has_bias=gru.bias, num_layers=1, dropout=0.0,
            training=gru.training, bidirectional=gru.bidirectional,
        )
    outputs, finals = [], []
    for index, direction in enumerate(directions):
        reverse = index == 1
        if strategy == "reconstruct" and lengths is not None:
            out, h = reconstructed_direction(
                x, h0[index], direction.dense_weights(), lengths, reverse=reverse
            )
        else:
            out, h = contracted_direction(
                x, h0[index], direction.weight_ih, direction.weight_hh, direction.bias_ih,
                direction.bias_hh, lengths, reverse=reverse,
            )
        outputs.append(out)
        finals.append(h)
    output = torch.cat(outputs, dim=-1)  # (T, B, D * H)
    if lengths is not None:
        output = output.masked_fill(~length_mask(lengths, x.size(0)), 0.0)
    return output, torch.stack(finals)


def _plan(gru: FactorizedGRU, steps: int, batch: int) -> tuple[str, ...]:
    plan = gru.plan(batch, steps, training=torch.is_grad_enabled())
    gru.last_plan = (batch, steps, plan)
    return plan


def _fused_packed(
    gru: FactorizedGRU, packed: PackedSequence, hx: Tensor | None
) -> tuple[PackedSequence, Tensor]:
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    h0 = _initial_state(gru, data.new_empty(1, int(batch_sizes[0]), data.size(-1)), hx)
    if sorted_indices is not None:
        h0 = h0.index_select(1, sorted_indices)
    weights = [w for direction in gru.direction_weights() for w in direction.dense_weights()]
    output, h_n = fused_gru_packed(
        data, batch_sizes, h0, weights, has_bias=gru.bias, num_layers=gru.num_layers,
        dropout=gru.dropout, training=gru.training, bidirectional=gru.bidirectional,
    )
    if unsorted_indices is not None:
        h_n = h_n.index_select(1, unsorted_indices)
    return PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices), h_n


def _initial_state(gru: FactorizedGRU, x: Tensor, hx: Tensor | None) -> Tensor:
    """hx checked against x (T, B, I), or zeros: (L * D, B, H)."""
    if x.size(-1) != gru.input_size:
        raise RuntimeError(
            f"FactorizedGRU: input.size(-1) must be equal to input_size. "
            f"Expected {gru.input_size}, got {x.size(-1)}"
        )
    expected = (gru.num_layers * gru.num_directions, x.size(1), gru.hidden_size)
    if hx is None:
        return x.new_zeros(expected)
    if tuple(hx.shape) != expected:
        raise RuntimeError(f"FactorizedGRU: expected hidden size {expected}, got {tuple(hx.shape)}")
    return hx


def _checked_lengths(
    lengths: Tensor | None, steps: int, batch: int, device: torch.device
) -> Tensor | None:
    """Lengths as an int64 tensor on ``device``; None when every sequence fills all T steps."""
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (batch,) or lengths.is_floating_point():
        raise ValueError(
            f"FactorizedGRU: lengths must be {batch} integers, got {lengths.dtype} "
            f"{tuple(lengths.shape)}"
        )
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > steps:
        raise ValueError(f"FactorizedGRU: lengths must lie in [1, {steps}], got {low}..{high}")
    return None if low == steps else lengths.to(device=device, dtype=torch.int64)
