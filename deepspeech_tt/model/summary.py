"""Parameter counts of a DeepSpeech2 model: per layer, per recurrent format, in total.

The table is what a user reads to see what a decomposition and a rank bought: for each
recurrent layer its format, rank, stored GRU parameters and the parameters an ``nn.GRU`` of the
same sizes would store.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from deepspeech_tt.model.conv import ConvBlock
from deepspeech_tt.model.deepspeech2 import DeepSpeech2
from deepspeech_tt.model.recurrent import RecurrentLayer
from deepspeech_tt.nn.gru import FactorizedGRU


@dataclass(frozen=True)
class LayerSummary:
    """One row of the summary; the GRU fields are set for recurrent layers only."""

    name: str
    description: str
    parameters: int
    format: str = ""
    rank: str = ""
    gru_parameters: int | None = None
    dense_gru_parameters: int | None = None

    @property
    def compression(self) -> float | None:
        """Dense GRU parameters over stored GRU parameters (> 1: smaller than ``nn.GRU``)."""
        if self.gru_parameters is None or self.dense_gru_parameters is None:
            return None
        return self.dense_gru_parameters / self.gru_parameters


def count_parameters(model: nn.Module) -> int:
    """Every stored parameter value of ``model``."""
    return sum(p.numel() for p in model.parameters())


def rnn_parameters(model: nn.Module) -> int:
    """Parameter values of the GRUs of ``model`` (factors and biases; no BatchNorm)."""
    grus = [m for m in model.modules() if isinstance(m, FactorizedGRU | nn.RNNBase)]
    return sum(count_parameters(gru) for gru in grus)


def summary_rows(model: DeepSpeech2) -> list[LayerSummary]:
    """One row per layer of ``model``, in the order the input runs through them."""
    rows = [_conv_row(f"conv.{i}", block) for i, block in enumerate(model.conv.blocks)
            if isinstance(block, ConvBlock)]
    rows += [_rnn_row(f"rnn.{i}", layer) for i, layer in enumerate(model.rnns)
             if isinstance(layer, RecurrentLayer)]
    if model.lookahead is not None:
        context = model.lookahead.context
        rows.append(LayerSummary("lookahead", f"row conv, {context} future frames",
                                 count_parameters(model.lookahead)))
    fc = model.fc
    rows.append(LayerSummary("fc", f"BatchNorm + Linear {fc.in_features} -> {fc.out_features}",
                             count_parameters(model.norm) + count_parameters(fc)))
    return rows


def model_summary(model: DeepSpeech2) -> str:
    """A table of parameters per layer, each recurrent layer's compression, and the totals."""
    rows = summary_rows(model)
    header = ("layer", "type", "params", "format", "rank", "GRU params", "dense GRU", "compr.")
    table = [header] + [_cells(row) for row in rows]
    gru, dense = rnn_parameters(model), _dense_gru_parameters(rows)
    table.append(("total", "", f"{count_parameters(model):,}", "", "", f"{gru:,}", f"{dense:,}",
                  f"{dense / gru:.1f}x" if gru else ""))
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


def _rnn_row(name: str, layer: RecurrentLayer) -> LayerSummary:
    gru = layer.gru
    kind = "BiGRU" if gru.bidirectional else "GRU"
    merge = ", sum" if layer.sum_directions else ""
    fmt, rank = layer.spec.describe()
    return LayerSummary(
        name, f"{kind} {gru.input_size} -> {gru.hidden_size}{merge}", count_parameters(layer),
        format=fmt, rank=rank, gru_parameters=gru.num_parameters(),
        dense_gru_parameters=gru.dense_num_parameters(),
    )


def _dense_gru_parameters(rows: list[LayerSummary]) -> int:
    return sum(row.dense_gru_parameters or 0 for row in rows)


def _cells(row: LayerSummary) -> tuple[str, ...]:
    def number(value: int | None) -> str:
        return "" if value is None else f"{value:,}"

    compression = row.compression
    return (row.name, row.description, number(row.parameters), row.format, row.rank,
            number(row.gru_parameters), number(row.dense_gru_parameters),
            "" if compression is None else f"{compression:.1f}x")


def _align(cell: str, width: int, column: int) -> str:
    return cell.ljust(width) if column in (0, 1, 3, 4) else cell.rjust(width)


def _pair(values: tuple[int, int]) -> str:
    return f"{values[0]}x{values[1]}"
