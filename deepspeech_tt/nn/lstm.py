"""A drop-in ``torch.nn.LSTM`` whose weight matrices are held in compressed tensor formats.

Gate layout. Each layer and direction keeps two factorized matrices, each holding all four gates
stacked on its output side in torch's order i|f|g|o (input, forget, cell candidate, output),
exactly as ``nn.LSTM.weight_ih_l{k}`` and ``weight_hh_l{k}`` do:

    weight_ih: (4H x I) = [W_ii; W_if; W_ig; W_io]
    weight_hh: (4H x H) = [W_hi; W_hf; W_hg; W_ho]

One factorized tensor for the four gates, the form of the TT-RNNs of Yang et al. and Tjandra et
al. (the last output mode times the number of gates, as FactorizedGRU does with 3), so with
factor shapes the output modes of both matrices are ``hidden_shape`` with its last mode x 4.
Biases stay dense (8H values per direction). Weights and biases are initialised with the
variance of ``nn.LSTM``'s U(-1/sqrt(H), 1/sqrt(H)); the forget-gate bias is not raised (torch's
default, kept so that ``from_lstm`` and a fresh layer behave alike).

Strategies, chosen per layer as for ``FactorizedGRU``: ``reconstruct`` (rebuild the dense
matrices once per forward and run torch's fused LSTM), ``contract`` (never form them) and
``auto`` (the cheaper by ``gru_cost``, with the LSTM's step counted). Padded batches with lengths
run without packing; the final cell state then comes from a closed form (``lstm_functional``).
Projections (``proj_size``) are not supported.

References:
    S. Hochreiter, J. Schmidhuber, "Long short-term memory", Neural Computation 9(8), 1997.
    Y. Yang, D. Krompass, V. Tresp, "Tensor-train recurrent neural networks for video
    classification", ICML 2017.
    A. Tjandra, S. Sakti, S. Nakamura, "Compressing recurrent neural network with tensor train",
    IJCNN 2017.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from deepspeech_tt.nn.factorized_rnn import FactorizedRNN
from deepspeech_tt.nn.lstm_functional import LSTM_OPS
from deepspeech_tt.tensor.base import Rank


class FactorizedLSTM(FactorizedRNN):
    """Multi-layer (bi)LSTM with factorized weight matrices; the interface of ``nn.LSTM``.

    Args:
        input_size: features of the input x.
        hidden_size: features of the hidden state h and the cell state c.
        num_layers: stacked LSTM layers.
        bias: whether the layers have the biases b_ih and b_hh.
        batch_first: input and output are (B, T, F) instead of (T, B, F).
        dropout: dropout on the outputs of each layer except the last.
        bidirectional: run a backward direction too and concatenate the outputs.
        format: registered format name of both matrices, or (input-to-hidden, hidden-to-hidden).
        rank: the format's rank (one integer for every bond, or a list), both matrices.
        hh_rank: the rank of the hidden-to-hidden matrices, when it differs from ``rank``.
        input_shape: factorisation of ``input_size`` (layer 0's input modes); optional.
        hidden_shape: factorisation of ``hidden_size``; optional.
        strategy: "reconstruct", "contract" or "auto", or one of these for each layer.
        layout: "separate", "joint" (one [W_ih | W_hh] per layer and direction, FDHT) or None
            (joint for "ht" at one rank, separate otherwise); see ``joint_layout``.

    Example::

        >>> lstm = FactorizedLSTM(160, 256, num_layers=3, bidirectional=True, format="tt", rank=8)
        >>> y, (h_n, c_n) = lstm(torch.randn(200, 4, 160))  # (T, B, 2H), (6, B, H) each
    """

    ops = LSTM_OPS

    @classmethod
    def from_lstm(
        cls,
        lstm: nn.LSTM,
        *,
        format: str | tuple[str, str] = "tt",
        rank: Rank = 8,
        hh_rank: Rank | None = None,
        input_shape: Sequence[int] | None = None,
        hidden_shape: Sequence[int] | None = None,
        strategy: str | Sequence[str] = "auto",
        layout: str | None = None,
    ) -> FactorizedLSTM:
        """Compress a (trained) ``nn.LSTM``: each matrix (joint: [W_ih | W_hh]) by from_dense."""
        if not isinstance(lstm, nn.LSTM) or lstm.proj_size:
            raise TypeError(f"from_lstm needs an nn.LSTM without projections, got {lstm!r}")
        return cls._from_torch(
            lstm, format=format, rank=rank, hh_rank=hh_rank, input_shape=input_shape,
            hidden_shape=hidden_shape, strategy=strategy, layout=layout,
        )

    def to_lstm(self) -> nn.LSTM:
        """An ``nn.LSTM`` holding the reconstructed dense weights."""
        return cast(nn.LSTM, self._to_torch(nn.LSTM))

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: tuple[Tensor, Tensor] | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, tuple[Tensor, Tensor]]:
        """Run the LSTM, with ``nn.LSTM``'s inputs, outputs and conventions.

        Args:
            input: (T, B, I), or (B, T, I) if ``batch_first``, or unbatched (T, I), or a
                PackedSequence.
            hx: (h_0, c_0), each (L * D, B, H), zeros if None; (L * D, H) for unbatched input.
            lengths: (B,) lengths of padded input. Beyond nn.LSTM: each sequence then gets the
                output and final states it gets alone, without packing, and padded steps of the
                output are zero.

        Returns:
            output (T, B, D * H) (or batch-first, or packed like the input) and (h_n, c_n),
            each (L * D, B, H).
        """
        if isinstance(hx, Tensor):
            raise TypeError("FactorizedLSTM: hx must be a tuple (h_0, c_0), not one tensor")
        output, (h_n, c_n) = self._run(input, hx, lengths)
        return output, (h_n, c_n)
