"""The one registry of recurrent cells: config name -> :class:`Cell` (see ``cells.base``).

A new cell is one module with a :class:`Cell` subclass (its gates, states and step), one entry
here, and nothing else: ``deepspeech_tt.nn.factorized_rnn.layer_class`` gives its layer, and the
parametrised suite in ``tests/nn/test_rnn.py`` runs on every entry.
"""

from __future__ import annotations

from deepspeech_tt.nn.cells.base import Cell, flat_weight_views
from deepspeech_tt.nn.cells.gru import GRU_CELL
from deepspeech_tt.nn.cells.lstm import LSTM_CELL

CELLS: dict[str, Cell] = {"gru": GRU_CELL, "lstm": LSTM_CELL}


def get_cell(name: str) -> Cell:
    """The cell registered under ``name``; a ValueError listing the valid names otherwise."""
    try:
        return CELLS[name]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; choose one of {sorted(CELLS)}") from None


__all__ = ["CELLS", "Cell", "flat_weight_views", "get_cell"]
