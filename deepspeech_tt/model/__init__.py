"""The DeepSpeech2 acoustic model with recurrent layers dense or in compressed tensor formats."""

from deepspeech_tt.model.batchnorm import SequenceBatchNorm
from deepspeech_tt.model.conv import DEEPSPEECH2_CONV, ConvBlock, ConvFrontEnd, ConvLayerSpec
from deepspeech_tt.model.deepspeech2 import DeepSpeech2
from deepspeech_tt.model.lookahead import Lookahead
from deepspeech_tt.model.recurrent import RecurrentLayer, RNNLayerSpec
from deepspeech_tt.model.summary import (
    LayerSummary,
    StackDescription,
    count_parameters,
    describe_stack,
    model_summary,
    rnn_parameters,
    summary_rows,
)

__all__ = [
    "DEEPSPEECH2_CONV",
    "ConvBlock",
    "ConvFrontEnd",
    "ConvLayerSpec",
    "DeepSpeech2",
    "LayerSummary",
    "Lookahead",
    "RNNLayerSpec",
    "RecurrentLayer",
    "SequenceBatchNorm",
    "StackDescription",
    "count_parameters",
    "describe_stack",
    "model_summary",
    "rnn_parameters",
    "summary_rows",
]
