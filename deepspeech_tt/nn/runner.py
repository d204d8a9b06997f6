"""Running a FactorizedGRU or FactorizedLSTM: torch's input conventions, packing, the layer loop.

Everything is brought to padded, time-major form x (T, B, I) with optional lengths (B,), run
layer by layer with each layer's strategy (``strategies``), and given back in the caller's form.
When every layer runs the same strategy, it may run the whole stack at once: ``reconstruct``
does on full-length input, as one call of torch's fused operator, exactly as ``nn.GRU``
(``nn.LSTM``) runs.

The state is a tuple of (L * D, B, H) tensors, (h,) or (h, c); the cell (``rnn.cell``, see
``deepspeech_tt.nn.cells``) is the only thing that differs between the GRU and the LSTM.

PackedSequence input is unpacked and run with lengths: on CPU that is twice as fast to train as
torch's packed GRU (see ``sequences``), unless the stack's one strategy takes packed data
(``reconstruct`` on CUDA, of a cell with a fused operator, hands it to cuDNN directly).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from deepspeech_tt.nn.layer import RecurrentLayer
from deepspeech_tt.nn.sequences import States
from deepspeech_tt.nn.strategies import RecurrentCase, Strategy, choose


def run_padded(
    rnn: RecurrentLayer, input: Tensor, hx: States | None, lengths: Tensor | None, *,
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
    rnn: RecurrentLayer, packed: PackedSequence, hx: States | None
) -> tuple[PackedSequence, States]:
    """torch's RNN ``forward`` on a PackedSequence; hx and the final state in caller's order."""
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    state = _initial_state(rnn, data.new_empty(1, batch, data.size(-1)), hx)
    plan = _plan(rnn, steps, batch)
    if len(set(plan)) == 1:
        packed_result = plan[0].run_packed(rnn, packed, state)
        if packed_result is not None:
            return packed_result
    padded, lengths = pad_packed_sequence(packed)  # (T, B, I) and (B,), caller's order
    output, final = run_layers(
        rnn, padded, state, _checked_lengths(rnn, lengths, steps, batch, data)
    )
    order = torch.arange(batch) if sorted_indices is None else sorted_indices.cpu()
    repacked = pack_padded_sequence(output[:, order.to(output.device)], lengths[order])
    return PackedSequence(repacked.data, batch_sizes, sorted_indices, unsorted_indices), final


def run_layers(
    rnn: RecurrentLayer, x: Tensor, state: States, lengths: Tensor | None, *,
    final_state: bool = True,
) -> tuple[Tensor, States]:
    """All layers on x (T, B, I) from a state of (L * D, B, H) tensors.

    Returns output (T, B, D * H) and the final state, shaped like the initial one.
    """
    steps, batch = x.shape[:2]
    plan = _plan(rnn, steps, batch)
    if len(set(plan)) == 1:
        stacked = plan[0].run_stack(rnn, x, state, lengths)
        if stacked is not None:
            return stacked
    finals: list[States] = []
    d = rnn.num_directions
    for layer, strategy in enumerate(plan):
        if layer > 0 and rnn.dropout > 0:
            x = F.dropout(x, rnn.dropout, rnn.training)
        layer_state = tuple(s[layer * d : (layer + 1) * d] for s in state)
        x, layer_final = strategy.run_layer(rnn, layer, x, layer_state, lengths, final_state)
        finals.append(layer_final)
    return x, tuple(torch.cat(parts) for parts in zip(*finals, strict=True))


def layer_strategies(
    rnn: RecurrentLayer, batch: int, steps: int, *, training: bool
) -> tuple[Strategy, ...]:
    """The strategy each layer runs with: its own, or ``auto``'s choice for the input."""
    return tuple(
        choose(name, layer_case(rnn, layer, batch, steps, training=training),
               lambda strategy, case: strategy.cost(case))
        for layer, name in enumerate(rnn.strategies)
    )


def layer_case(
    rnn: RecurrentLayer, layer: int, batch: int, steps: int, *, training: bool
) -> RecurrentCase:
    """What a strategy is asked to run for ``layer`` on a (steps, batch) input."""
    param = next(rnn.parameters())
    first = rnn.direction_weights(layer)[0]
    return RecurrentCase(
        param.device.type, param.dtype, rnn.spec.formats, first.weight_ih, first.weight_hh,
        steps, batch, rnn.num_directions, training, rnn.cell.gate_ops, first.rebuild_macs(),
        rnn.cell.name,
    )


def _plan(rnn: RecurrentLayer, steps: int, batch: int) -> tuple[Strategy, ...]:
    plan = layer_strategies(rnn, batch, steps, training=torch.is_grad_enabled())
    rnn.last_plan = (batch, steps, tuple(strategy.name for strategy in plan))
    return plan


def _initial_state(rnn: RecurrentLayer, x: Tensor, hx: States | None) -> States:
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
    rnn: RecurrentLayer, lengths: Tensor | None, steps: int, batch: int, like: Tensor
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


def _name(rnn: RecurrentLayer) -> str:
    return type(rnn).__name__
