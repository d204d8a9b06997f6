"""DeepSpeech2: conv front-end, recurrent layers (dense or factorized each), CTC output.

D. Amodei et al., "Deep Speech 2: End-to-end speech recognition in English and Mandarin",
ICML 2016. The layer layout follows the paper and deepspeech.pytorch (S. Naren):

    features (B, T, F)
      -> ConvFrontEnd: 2 or 3 x [Conv2d -> BatchNorm -> clipped ReLU], time stride 2
      -> N x RecurrentLayer: [sequence-wise BatchNorm (not the first) ->] (bi)GRU or (bi)LSTM,
         directions summed or concatenated; each layer dense or in a tensor format (TT-GRU:
         Tjandra et al., IEICE Trans. Inf. & Syst. E103-D(2), 2020)
      -> unidirectional models: Lookahead (row convolution) -> clipped ReLU
      -> sequence-wise BatchNorm -> Linear over the tokens -> log-softmax
      log_probs (B, T', V), out_lengths (B,)

Every module masks by the lengths, so in eval mode a padded batch gives each utterance the
log-probs it gets alone, and BatchNorm statistics in training never see padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepspeech_tt.model.batchnorm import SequenceBatchNorm
from deepspeech_tt.model.conv import RELU_CLIP, ConvFrontEnd
from deepspeech_tt.model.lookahead import Lookahead
from deepspeech_tt.model.masking import check_lengths
from deepspeech_tt.model.recurrent import (
    RecurrentLayer,
    RNNLayerSpec,
    rnn_class,
    tie_shared_layers,
)


class DeepSpeech2(nn.Module):
    """DeepSpeech2 acoustic model with per-layer dense or factorized GRUs (or LSTMs).

    Args:
        num_features: F, features per input frame (spectrogram or mel bins).
        vocab_size: V, output tokens including the CTC blank.
        conv_layers: 1 to 3 of DeepSpeech2's convolutions (see ``conv.DEEPSPEECH2_CONV``).
        time_stride: the first convolution's stride in time, the frames the front-end merges
            (DeepSpeech2: 2; 3 makes every later layer a third cheaper).
        rnn_layers: recurrent layers.
        hidden_size: H, the state size of each recurrent direction.
        bidirectional: bidirectional layers; False for the streaming variant.
        sum_directions: sum the two directions (H features) rather than concatenate them (2H).
        rnn: the weight format of every recurrent layer (one spec), or one spec per layer, e.g.
            ``[RNNLayerSpec()] + [RNNLayerSpec("tt", rank=4)] * 4``; all dense if None. A spec
            with ``shared=True`` ties its layer's low-rank V to the next layer's input-to-hidden
            matrix (``recurrent.tie_shared_layers``; Lu, Sindhwani, Sainath, ICASSP 2016).
        lookahead_context: future frames of the lookahead convolution; unidirectional only.
        dropout: dropout on the output of every recurrent layer but the last.
        rnn_type: "gru" (DeepSpeech2's) or "lstm", the cell of every recurrent layer.

    Raises:
        ValueError: on an unknown ``rnn_type``, listing the valid ones; on a spec that cannot
            be built, naming the recurrent layer.

    Example::

        >>> model = DeepSpeech2(161, 29, rnn_layers=3, hidden_size=256,
        ...                     rnn=[RNNLayerSpec(), RNNLayerSpec("tt", rank=4),
        ...                          RNNLayerSpec("tt", rank=4)])
        >>> log_probs, out_lengths = model(features, lengths)  # (B, T, 161) -> (B, T', 29)
    """

    def __init__(
        self,
        num_features: int,
        vocab_size: int,
        *,
        conv_layers: int = 2,
        time_stride: int = 2,
        rnn_layers: int = 5,
        hidden_size: int = 1024,
        bidirectional: bool = True,
        sum_directions: bool = True,
        rnn: RNNLayerSpec | Sequence[RNNLayerSpec] | None = None,
        lookahead_context: int | None = None,
        dropout: float = 0.0,
        rnn_type: str = "gru",
    ) -> None:
        super().__init__()
        rnn_class(rnn_type)  # an unknown name fails here, listing the valid ones
        if lookahead_context is not None and bidirectional:
            raise ValueError("lookahead_context is for unidirectional models (bidirectional=False)")
        self.bidirectional = bidirectional
        self.rnn_type = rnn_type
        self.conv = ConvFrontEnd(num_features, conv_layers, time_stride=time_stride)
        self.rnns = nn.ModuleList()
        size = self.conv.output_size
        for index, spec in enumerate(_layer_specs(rnn, rnn_layers)):
            layer = _recurrent_layer(
                index, size, hidden_size, spec, bidirectional=bidirectional,
                sum_directions=sum_directions, rnn_type=rnn_type,
            )
            self.rnns.append(layer)
            size = layer.output_size
        tie_shared_layers([cast(RecurrentLayer, layer) for layer in self.rnns])
        self.dropout = nn.Dropout(dropout)
        self.lookahead = None if lookahead_context is None else Lookahead(size, lookahead_context)
        self.norm = SequenceBatchNorm(size)
        self.fc = nn.Linear(size, vocab_size)

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Output frames of utterances of ``lengths`` input frames."""
        return self.conv.output_lengths(lengths)

    def last_input_frame(self, output_frame: int) -> int:
        """The last input frame that output ``output_frame`` depends on (unidirectional only).

        A streaming decoder needs the input up to here to emit this output frame.
        """
        if self.bidirectional:
            raise ValueError("a bidirectional model's outputs depend on the whole input")
        context = 0 if self.lookahead is None else self.lookahead.context
        return self.conv.last_input_frame(output_frame + context)

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Log-probabilities over the tokens for each output frame.

        Args:
            features: (B, T, F) padded features.
            lengths: (B,) valid frames of each utterance, in [1, T].

        Returns:
            log_probs (B, T', V), meaningful up to each out_length (fp32 or wider, also under
            autocast), and out_lengths (B,).
        """
        lengths = check_lengths(lengths, features.size(0), features.size(1), features.device)
        x, lengths = self.conv(features, lengths)  # (B, T', C * F')
        for index, layer in enumerate(self.rnns):
            if index > 0:
                x = self.dropout(x)
            x, lengths = layer(x, lengths)  # (B, T', H) or (B, T', 2H)
        if self.lookahead is not None:
            x, lengths = self.lookahead(x, lengths)
            x = F.hardtanh(x, 0.0, RELU_CLIP)
        logits = self.fc(self.norm(x, lengths))  # (B, T', V)
        # At least fp32 under bf16/fp16 autocast: CTC sums many small log-probabilities.
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        return logits.log_softmax(dim=-1), lengths


def _layer_specs(
    rnn: RNNLayerSpec | Sequence[RNNLayerSpec] | None, rnn_layers: int
) -> list[RNNLayerSpec]:
    if rnn_layers < 1:
        raise ValueError(f"DeepSpeech2 needs at least one recurrent layer, got {rnn_layers}")
    if rnn is None or isinstance(rnn, RNNLayerSpec):
        return [rnn or RNNLayerSpec()] * rnn_layers
    specs = list(rnn)
    if len(specs) != rnn_layers:
        raise ValueError(
            f"rnn lists {len(specs)} layer specs for rnn_layers={rnn_layers}; give one per layer"
        )
    return specs


def _recurrent_layer(
    index: int, input_size: int, hidden_size: int, spec: RNNLayerSpec, *,
    bidirectional: bool, sum_directions: bool, rnn_type: str,
) -> RecurrentLayer:
    """Recurrent layer ``index``; a ValueError that names it when its spec cannot be built."""
    try:
        return RecurrentLayer(
            input_size, hidden_size, spec, bidirectional=bidirectional,
            sum_directions=sum_directions, batch_norm=index > 0, rnn_type=rnn_type,
        )
    except ValueError as err:
        raise ValueError(
            f"recurrent layer {index} of DeepSpeech2 ({input_size} -> {hidden_size}, "
            f"format={spec.format!r}, rank={spec.rank!r}): {err}"
        ) from err
