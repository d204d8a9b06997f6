"""Weight-matrix formats, one module each: dense, tensor train, CP, Tucker, low rank,
hierarchical Tucker, tensor ring, block-term Tucker and Toeplitz-like.

Every format holds one matrix W (out_features x in_features) behind the interface of
:class:`~deepspeech_tt.tensor.base.FactorizedMatrix`; :data:`FORMATS` maps config names to them.
"""

from deepspeech_tt.tensor.base import DenseMatrix, FactorizedMatrix, FormatError
from deepspeech_tt.tensor.btt import BlockTermMatrix
from deepspeech_tt.tensor.cp import CPMatrix
from deepspeech_tt.tensor.ht import HierarchicalTuckerMatrix
from deepspeech_tt.tensor.lowrank import LowRankMatrix
from deepspeech_tt.tensor.registry import FORMATS, get_format
from deepspeech_tt.tensor.toeplitz import ToeplitzLikeMatrix
from deepspeech_tt.tensor.tr import TensorRingMatrix
from deepspeech_tt.tensor.tt import TensorTrainMatrix
from deepspeech_tt.tensor.tucker import TuckerMatrix

__all__ = [
    "FORMATS",
    "BlockTermMatrix",
    "CPMatrix",
    "DenseMatrix",
    "FactorizedMatrix",
    "FormatError",
    "HierarchicalTuckerMatrix",
    "LowRankMatrix",
    "TensorRingMatrix",
    "TensorTrainMatrix",
    "ToeplitzLikeMatrix",
    "TuckerMatrix",
    "get_format",
]
