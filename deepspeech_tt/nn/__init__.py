"""Layers built on the tensor formats: FactorizedGRU and FactorizedLSTM (drop-ins for
torch.nn.GRU and torch.nn.LSTM) and FactorizedLinear."""

from deepspeech_tt.nn.gru import FactorizedGRU
from deepspeech_tt.nn.linear import FactorizedLinear
from deepspeech_tt.nn.lstm import FactorizedLSTM

__all__ = ["FactorizedGRU", "FactorizedLSTM", "FactorizedLinear"]
