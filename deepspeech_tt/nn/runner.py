"""Running a FactorizedGRU or FactorizedLSTM: torch's input conventions, packing, the layer loop.

Everything is brought to padded, time-major form x (T, B, I) with optional lengths (B,), run
layer by layer with each layer's strategy, and given back in the caller's form. When every layer
reconstructs and all sequences are full length, the whole stack is one call of torch's fused
operator, exactly as ``nn.GRU`` (``nn.LSTM``) runs.

The state is a tuple of (L * D, B, H) tensors, (h,) or (h, c); the cell (``rnn.cell``, see
``deepspeech_tt.nn.cells``) is the only thing that differs between the GRU and the LSTM.

PackedSequence input is unpacked and run with lengths: on CPU that is twice as fast to train as
torch's packed GRU (see ``sequences``). On CUDA, a stack that only reconstructs, of a cell with
a fused operator, hands the packed data to cuDNN directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from deepspeech_tt.nn.sequences import States, length_mask

if TYPE_CHECKING:
    from deepspeech_tt.nn.factorized_rnn import FactorizedRNN


def run_padded(
    rnn: FactorizedRNN, input: Tensor, hx: States | None, lengths: Tensor | None, *,
    final_state: bool = True,
) -> tuple[Tensor, States]:
    """torch's RNN ``forward`` on a padded tensor (batched or not), plus optional lengths.

    ``final_state`` False: the caller discards the final state, which may then be incomplete.
    """
    if input.dim() not in (2, 3):
        raise ValueError(f"{_name(rnn)}: expected input to be 2-D or 3-D, got {input.dim()}-D")
    batched = input.dim() == 3
    if not batched:
        x = input.unsqueeze(1)  # (T, 1, I)
        hx = None if hx is None else tuple(h.unsqueeze(1) for h in hx)
    else:
        x = input.transpose(0, 1) if rnn.batch_first else input  # (T, B, I)
    steps, batch, _ = x.shape
    state = _initial_state(rnn, x, hx)
    output, final = run_layers(
        rnn, x, state, _checked_lengths(rnn, lengths, steps, batch, x), final_state=final_state
    )
    if not batched:
        return output.squeeze(1), tuple(s.squeeze(1) for s in final)
    return (output.transpose(0, 1) if rnn.batch_first else output), final


def run_packed(
    rnn: FactorizedRNN, packed: PackedSequence, hx: States | None
) -> tuple[PackedSequence, States]:
    """torch's RNN ``forward`` on a PackedSequence; hx and the final state in caller's order."""
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    if data.is_cuda and rnn.cell.has_fused and set(_plan(rnn, steps, batch)) == {"reconstruct"}:
        return _fused_packed(rnn, packed, hx)
    padded, lengths = pad_packed_sequence(packed)  # (T, B, I) and (B,), caller's order
    state = _initial_state(rnn, padded, hx)
    output, final = run_layers(
        rnn, padded, state, _checked_lengths(rnn, lengths, steps, batch, data)
    )
    order = torch.arange(batch) if sorted_indices is None else sorted_indices.cpu()
    repacked = pack_padded_sequence(output[:, order.to(output.device)], lengths[order])
    return PackedSequence(repacked.data, batch_sizes, sorted_indices, unsorted_indices), final


def run_layers(
    rnn: FactorizedRNN, x: Tensor, state: States, lengths: Tensor | None, *,
    final_state: bool = True,
) -> tuple[Tensor, States]:
    """All layers on x (T, B, I) from a state of (L * D, B, H) tensors.

    Returns output (T, B, D * H) and the final state, shaped like the initial one.
    """
    steps, batch = x.shape[:2]
    plan = _plan(rnn, steps, batch)
    if lengths is None and set(plan) == {"reconstruct"}:
        weights = [w for direction in rnn.direction_weights() for w in direction.dense_weights()]
        return rnn.cell.fused(
            x, state, weights, has_bias=rnn.bias, num_layers=rnn.num_layers,
            dropout=rnn.dropout, training=rnn.training, bidirectional=rnn.bidirectional,
        )
    finals: list[States] = []
    d = rnn.num_directions
    for layer, strategy in enumerate(plan):
        if layer > 0 and rnn.dropout > 0:
            x = F.dropout(x, rnn.dropout, rnn.training)
        layer_state = tuple(s[layer * d : (layer + 1) * d] for s in state)
        x, layer_final = _run_layer(rnn, layer, strategy, x, layer_state, lengths, final_state)
        finals.append(layer_final)
    return x, tuple(torch.cat(parts) for parts in zip(*finals, strict=True))


def _run_layer(
    rnn: FactorizedRNN, layer: int, strategy: str, x: Tensor, state: States,
    lengths: Tensor | None, final_state: bool,
) -> tuple[Tensor, States]:
    """One layer, all directions: output (T, B, D * H), zero at padded steps; state (D, B, H)."""
    directions = rnn.direction_weights(layer)
    cell = rnn.cell
    if strategy == "reconstruct" and lengths is None:
        weights = [w for direction in directions for w in direction.dense_weights()]
        return cell.fused(
            x, state, weights, has_bias=rnn.bias, num_layers=1, dropout=0.0,
            training=rnn.training, bidirectional=rnn.bidirectional,
        )
    outputs, finals = [], []
    for index, direction in enumerate(directions):
        reverse = index == 1
        start = tuple(s[index] for s in state)  # (B, H) each
        if strategy == "reconstruct" and lengths is not None:
            out, final = cell.reconstructed_direction(
                x, start, direction.dense_weights(), lengths, reverse=reverse,
                final_state=final_state,
            )
        else:
            out, final = cell.contracted_direction(
                x, start, direction.weight_ih, direction.weight_hh, direction.bias_ih,
                direction.bias_hh, lengths, reverse=reverse,
            )
        outputs.append(out)
        finals.append(final)
    output = torch.cat(outputs, dim=-1)  # (T, B, D * H)
    if lengths is not None:
        output = output.masked_fill(~length_mask(lengths, x.size(0)), 0.0)
    return output, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))


def _plan(rnn: FactorizedRNN, steps: int, batch: int) -> tuple[str, ...]:
    plan = rnn.plan(batch, steps, training=torch.is_grad_enabled())
    rnn.last_plan = (batch, steps, plan)
    return plan


def _fused_packed(
    rnn: FactorizedRNN, packed: PackedSequence, hx: States | None
) -> tuple[PackedSequence, States]:
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    state = _initial_state(rnn, data.new_empty(1, int(batch_sizes[0]), data.size(-1)), hx)
    if sorted_indices is not None:
        state = tuple(s.index_select(1, sorted_indices) for s in state)
    weights = [w for direction in rnn.direction_weights() for w in direction.dense_weights()]
    output, final = rnn.cell.fused_packed(
        data, batch_sizes, state, weights, has_bias=rnn.bias, num_layers=rnn.num_layers,
        dropout=rnn.dropout, training=rnn.training, bidirectional=rnn.bidirectional,
    )
    if unsorted_indices is not None:
        final = tuple(s.index_select(1, unsorted_indices) for s in final)
    return PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices), final


def _initial_state(rnn: FactorizedRNN, x: Tensor, hx: States | None) -> States:
    """hx checked against x (T, B, I), or zeros: a tuple of (L * D, B, H) tensors."""
    if x.size(-1) != rnn.input_size:
        raise RuntimeError(
            f"{_name(rnn)}: input.size(-1) must be equal to input_size. "
            f"Expected {rnn.input_size}, got {x.size(-1)}"
        )
    expected = (rnn.num_layers * rnn.num_directions, x.size(1), rnn.hidden_size)
    count = rnn.cell.num_states
    if hx is None:
        return tuple(x.new_zeros(expected) for _ in range(count))
    if len(hx) != count:
        raise RuntimeError(f"{_name(rnn)}: expected a state of {count} tensors, got {len(hx)}")
    for index, h in enumerate(hx):
        if tuple(h.shape) != expected:
            which = "hidden" if count == 1 else f"hidden[{index}]"
            raise RuntimeError(
                f"{_name(rnn)}: expected {which} size {expected}, got {tuple(h.shape)}"
            )
    return hx


def _checked_lengths(
    rnn: FactorizedRNN, lengths: Tensor | None, steps: int, batch: int, like: Tensor
) -> Tensor | None:
    """Lengths as an int64 tensor on ``like``'s device; None when every sequence fills all T."""
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (batch,) or lengths.is_floating_point():
        raise ValueError(
            f"{_name(rnn)}: lengths must be {batch} integers, got {lengths.dtype} "
            f"{tuple(lengths.shape)}"
        )
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > steps:
        raise ValueError(f"{_name(rnn)}: lengths must lie in [1, {steps}], got {low}..{high}")
    return None if low == steps else lengths.to(device=like.device, dtype=torch.int64)


def _name(rnn: FactorizedRNN) -> str:
    return type(rnn).__name__
