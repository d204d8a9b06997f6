"""Layers built on the tensor formats: FactorizedGRU (a drop-in for torch.nn.GRU) and
FactorizedLinear."""

from deepspeech_tt.nn.gru import FactorizedGRU
from deepspeech_tt.nn.linear import FactorizedLinear

__all__ = ["FactorizedGRU", "FactorizedLinear"]
