"""Layers built on the tensor formats: FactorizedGRU and FactorizedLSTM (drop-ins for
torch.nn.GRU and torch.nn.LSTM), the layer of any registered cell, and FactorizedLinear."""

from deepspeech_tt.nn.cells import get_cell
from deepspeech_tt.nn.factorized_rnn import FactorizedRNN
from deepspeech_tt.nn.gru import FactorizedGRU
from deepspeech_tt.nn.linear import FactorizedLinear
from deepspeech_tt.nn.lstm import FactorizedLSTM


def layer_class(cell: str) -> type[FactorizedRNN]:
    """The layer of the cell registered as ``cell`` in ``cells.CELLS`` ("gru": FactorizedGRU).

    The subclass of :class:`FactorizedRNN` bound to that cell; for a cell registered without
    one, a subclass named ``Factorized{cell.name}`` is made, and found again while it exists.

    Raises:
        ValueError: ``cell`` is not registered (listing the valid names).
    """
    found = get_cell(cell)
    pending: list[type[FactorizedRNN]] = [FactorizedRNN]
    while pending:
        cls = pending.pop()
        if cls.__dict__.get("cell") is found:
            return cls
        pending += cls.__subclasses__()
    doc = f"Multi-layer (bi){found.name} with factorized weight matrices; see FactorizedRNN."
    return type(f"Factorized{found.name}", (FactorizedRNN,), {"cell": found, "__doc__": doc})


__all__ = ["FactorizedGRU", "FactorizedLSTM", "FactorizedLinear", "FactorizedRNN", "layer_class"]
