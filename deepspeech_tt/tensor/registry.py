"""The one registry of weight-matrix formats: config name -> class."""

from __future__ import annotations

from deepspeech_tt.tensor.base import DenseMatrix, MatrixFormat
from deepspeech_tt.tensor.btt import BlockTermMatrix
from deepspeech_tt.tensor.cp import CPMatrix
from deepspeech_tt.tensor.ht import HierarchicalTuckerMatrix
from deepspeech_tt.tensor.lowrank import LowRankMatrix
from deepspeech_tt.tensor.toeplitz import ToeplitzLikeMatrix
from deepspeech_tt.tensor.tr import TensorRingMatrix
from deepspeech_tt.tensor.tt import TensorTrainMatrix
from deepspeech_tt.tensor.tucker import TuckerMatrix

FORMATS: dict[str, MatrixFormat] = {
    "dense": DenseMatrix,
    "tt": TensorTrainMatrix,
    "cp": CPMatrix,
    "tucker": TuckerMatrix,
    "lowrank": LowRankMatrix,
    "tr": TensorRingMatrix,
    "bt": BlockTermMatrix,
    "toeplitz": ToeplitzLikeMatrix,
    "ht": HierarchicalTuckerMatrix,
}


def get_format(name: str) -> MatrixFormat:
    """The class registered under ``name``; a ValueError listing the valid names otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown tensor format {name!r}; choose one of {sorted(FORMATS)}"
        ) from None
