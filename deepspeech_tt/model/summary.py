"""Parameter counts of a DeepSpeech2 model: per layer, per recurrent format, in total.

The table is what a user reads to see what a decomposition and a rank bought: for each
recurrent layer its type (GRU or LSTM, bidirectional or not), format, rank, layout, stored
recurrent parameters and the parameters the torch layer of the same type and sizes (``nn.GRU``,
``nn.LSTM``) would store.

The layout column says "separate" (W_ih and W_hh) or "joint" ([W_ih | W_hh] in one matrix,
FDHT), and names shared low-rank ties (Lu et al. 2016): "V -> rnn.2" on the layer whose V is
shared, "ih = U V(rnn.1)" on the layer above. A shared V is a parameter of the lower layer only,
so it is counted once, in that layer's row; the upper row counts its own U, and its compression
is its nn.GRU's parameters over those. The totals are the model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from torch import nn

from deepspeech_tt.model.conv import ConvBlock
from deepspeech_tt.model.deepspeech2 import DeepSpeech2
from deepspeech_tt.model.recurrent import RecurrentLayer, shares_input
from deepspeech_tt.nn.factorized_rnn import FactorizedRNN


@dataclass(frozen=True)
class LayerSummary:
    """One row of the summary; the RNN fields are set for recurrent layers only."""

    name: str
    description: str
    parameters: int
    format: str = ""
    rank: str = ""
    layout: str = ""  # separate or joint, and shared low-rank ties
    rnn_params: int | None = None  # stored by the GRU or LSTM (factors and biases)
    dense_rnn_params: int | None = None  # stored by nn.GRU or nn.LSTM of the same sizes

    @property
    def compression(self) -> float | None:
        """Dense over stored recurrent parameters (> 1: smaller than ``nn.GRU``/``nn.LSTM``)."""
        if self.rnn_params is None or self.dense_rnn_params is None:
            return None
        return self.dense_rnn_params / self.rnn_params


def count_parameters(model: nn.Module) -> int:
    """Every stored parameter value of ``model``."""
    return sum(p.numel() for p in model.parameters())


def rnn_parameters(model: nn.Module) -> int:
    """Parameter values of the GRUs and LSTMs of ``model`` (factors and biases; no BatchNorm)."""
    rnns = [m for m in model.modules() if isinstance(m, FactorizedRNN | nn.RNNBase)]
    return sum(count_parameters(rnn) for rnn in rnns)


def summary_rows(model: DeepSpeech2) -> list[LayerSummary]:
    """One row per layer of ``model``, in the order the input runs through them."""
    rows = [_conv_row(f"conv.{i}", block) for i, block in enumerate(model.conv.blocks)
            if isinstance(block, ConvBlock)]
    rows += [_rnn_row(i, layer) for i, layer in enumerate(model.rnns)
             if isinstance(layer, RecurrentLayer)]
    if model.lookahead is not None:
        context = model.lookahead.context
        rows.append(LayerSummary("lookahead", f"row conv, {context} future frames",
                                 count_parameters(model.lookahead)))
    fc = model.fc
    rows.append(LayerSummary("fc", f"BatchNorm + Linear {fc.in_features} -> {fc.out_features}",
                             count_parameters(model.norm) + count_parameters(fc)))
    return rows


@dataclass(frozen=True)
class StackDescription:
    """The recurrent stack in words: what ``summary.json``, the run table and TensorBoard show.

    ``label`` reads "GRU tt r16 x3" for a uniform stack, "GRU toeplitz r4 + lowrank r32 x2,
    shared V" for Lu et al.'s hybrid, "LSTM ht r4 joint x3" for FDHT with LSTMs; ``format`` is
    the one format of every layer, or the formats joined by "+" in layer order.
    """

    cell: str  # "gru" or "lstm"
    layers: tuple[tuple[str, str, str], ...]  # (format, rank, layout) of each recurrent layer

    @property
    def format(self) -> str:
        return "+".join(dict.fromkeys(fmt for fmt, _, _ in self.layers))

    @property
    def label(self) -> str:
        groups = []
        for (fmt, rank, joint), run in groupby(self._kinds()):
            count = len(list(run))
            groups.append(fmt + (f" r{rank}" if rank != "-" else "") + (" joint" if joint else "")
                          + (f" x{count}" if count > 1 else ""))  # fmt: skip
        shared = any("V ->" in layout for _, _, layout in self.layers)
        return f"{self.cell.upper()} {' + '.join(groups)}" + (", shared V" if shared else "")

    def as_dicts(self) -> list[dict[str, str]]:
        return [{"format": f, "rank": r, "layout": layout} for f, r, layout in self.layers]

    def _kinds(self) -> list[tuple[str, str, bool]]:
        return [(fmt, rank, layout == "joint") for fmt, rank, layout in self.layers]


def describe_stack(model: DeepSpeech2, cell: str) -> StackDescription:
    """The recurrent layers of ``model`` (of cell type ``cell``) as a ``StackDescription``."""
    rows = [row for row in summary_rows(model) if row.rnn_params is not None]
    return StackDescription(cell, tuple((row.format, row.rank, row.layout) for row in rows))


def model_summary(model: DeepSpeech2) -> str:
    """A table of parameters per layer, each recurrent layer's compression, and the totals."""
    rows = summary_rows(model)
    header = ("layer", "type", "params", "format", "rank", "layout", "RNN params", "dense RNN",
              "compr.")
    table = [header] + [_cells(row) for row in rows]
    stored, dense = rnn_parameters(model), _dense_rnn_parameters(rows)
    table.append(("total", "", f"{count_parameters(model):,}", "", "", "", f"{stored:,}",
                  f"{dense:,}", f"{dense / stored:.1f}x" if stored else ""))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(_align(cell, width, i) for i, (cell, width) in
                       enumerate(zip(line, widths, strict=True))).rstrip() for line in table]
    rule = "-" * len(max(lines, key=len))
    return "\n".join([lines[0], rule, *lines[1:-1], rule, lines[-1]])


def _conv_row(name: str, block: ConvBlock) -> LayerSummary:
    conv = block.conv
    description = (f"Conv2d {conv.in_channels} -> {conv.out_channels}, kernel "
                   f"{_pair(block.kernel)}, stride {_pair(block.stride)} (time x freq)")
    return LayerSummary(name, description, count_parameters(block))


def _rnn_row(index: int, layer: RecurrentLayer) -> LayerSummary:
    rnn, name = layer.rnn, f"rnn.{index}"
    layout = []  # shared ties imply the separate layout
    if shares_input(layer):
        layout.append(f"ih = U V(rnn.{index - 1})")
    if layer.spec.shared:
        layout.append(f"V -> rnn.{index + 1}")
    layout = layout or [rnn.layout]
    kind = ("Bi" if rnn.bidirectional else "") + rnn.cell.name  # BiGRU, LSTM, ...
    merge = ", sum" if layer.sum_directions else ""
    fmt, rank = layer.spec.describe()
    return LayerSummary(
        name, f"{kind} {rnn.input_size} -> {rnn.hidden_size}{merge}", count_parameters(layer),
        format=fmt, rank=rank, layout=", ".join(layout), rnn_params=rnn.num_parameters(),
        dense_rnn_params=rnn.dense_num_parameters(),
    )


def _dense_rnn_parameters(rows: list[LayerSummary]) -> int:
    return sum(row.dense_rnn_params or 0 for row in rows)


def _cells(row: LayerSummary) -> tuple[str, ...]:
    def number(value: int | None) -> str:
        return "" if value is None else f"{value:,}"

    compression = row.compression
    return (row.name, row.description, number(row.parameters), row.format, row.rank, row.layout,
            number(row.rnn_params), number(row.dense_rnn_params),
            "" if compression is None else f"{compression:.1f}x")


def _align(cell: str, width: int, column: int) -> str:
    return cell.ljust(width) if column in (0, 1, 3, 4, 5) else cell.rjust(width)


def _pair(values: tuple[int, int]) -> str:
    return f"{values[0]}x{values[1]}"
