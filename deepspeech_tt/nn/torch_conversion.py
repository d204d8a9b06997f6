"""Between a factorized layer and its torch counterpart (``nn.GRU``, ``nn.LSTM``): the checks,
the weights of one layer and direction as torch names them, and the dense torch layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn

from deepspeech_tt.nn.cells import Cell
from deepspeech_tt.nn.layer import RecurrentLayer

WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # torch's order per direction


def check_convertible(layer_name: str, cell: Cell, rnn: nn.Module) -> None:
    """A TypeError unless ``rnn`` is the cell's torch layer without projections."""
    wanted = torch_class(layer_name, cell)
    if not isinstance(rnn, wanted) or rnn.proj_size:
        raise TypeError(f"{layer_name}.from_torch needs an nn.{wanted.__name__} without "
                        f"projections, got {rnn!r}")


def torch_class(layer_name: str, cell: Cell) -> type[nn.RNNBase]:
    """The cell's torch layer class; a TypeError for a cell that has none."""
    if cell.torch_rnn is None:
        raise TypeError(f"{layer_name}: the {cell.name} cell has no torch layer")
    return cell.torch_rnn


def torch_direction_weights(rnn: nn.RNNBase, layer: int, direction: int) -> list[Tensor]:
    """[W_ih, W_hh] (+ [b_ih, b_hh]) of one layer and direction of a torch RNN, detached."""
    names = WEIGHT_NAMES if rnn.bias else WEIGHT_NAMES[:2]
    return [getattr(rnn, name + _suffix(layer, direction)).detach() for name in names]


def torch_layer(module: RecurrentLayer) -> nn.RNNBase:
    """The cell's torch layer of ``module``'s sizes, holding its reconstructed weights."""
    param = next(module.parameters())
    make = cast(Callable[..., nn.RNNBase], torch_class(type(module).__name__, module.cell))
    rnn = make(
        input_size=module.input_size, hidden_size=module.hidden_size,
        num_layers=module.num_layers, bias=module.bias, batch_first=module.batch_first,
        dropout=module.dropout, bidirectional=module.bidirectional, device=param.device,
        dtype=param.dtype,
    )
    with torch.no_grad():
        for index, direction in enumerate(module.direction_weights()):
            suffix = _suffix(*divmod(index, module.num_directions))
            for name, value in zip(WEIGHT_NAMES, direction.dense_weights(), strict=False):
                getattr(rnn, name + suffix).copy_(value)
    return rnn


def _suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")
