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
default, kept so that ``from_torch`` and a fresh layer behave alike).

Strategies, chosen per layer as for ``FactorizedGRU``: ``reconstruct`` (rebuild the dense
matrices once per forward and run torch's fused LSTM), ``contract`` (never form them) and
``auto`` (the cheapest registered strategy, with the LSTM's step counted; see ``strategies``).
Padded batches with lengths run without packing; the final cell state then comes from a closed
form (``cells.lstm``). Projections (``proj_size``) are not supported.

References:
    S. Hochreiter, J. Schmidhuber, "Long short-term memory", Neural Computation 9(8), 1997.
    Y. Yang, D. Krompass, V. Tresp, "Tensor-train recurrent neural networks for video
    classification", ICML 2017.
    A. Tjandra, S. Sakti, S. Nakamura, "Compressing recurrent neural network with tensor train",
    IJCNN 2017.
"""

from __future__ import annotations

from typing import Any, cast

from torch import nn

from deepspeech_tt.nn.cells.lstm import LSTM_CELL
from deepspeech_tt.nn.factorized_rnn import FactorizedRNN


class FactorizedLSTM(FactorizedRNN):
    """Multi-layer (bi)LSTM with factorized weight matrices; the interface of ``nn.LSTM``.

    Arguments as :class:`FactorizedRNN`; ``forward(x, hx=None, lengths=None)`` takes and
    returns the state as a tuple (h, c): (output, (h_n, c_n)).

    Example::

        >>> lstm = FactorizedLSTM(160, 256, num_layers=3, bidirectional=True, format="tt", rank=8)
        >>> y, (h_n, c_n) = lstm(torch.randn(200, 4, 160))  # (T, B, 2H), (6, B, H) each
    """

    cell = LSTM_CELL

    @classmethod
    def from_lstm(cls, lstm: nn.LSTM, **kwargs: Any) -> FactorizedLSTM:
        """:meth:`FactorizedRNN.from_torch` under the name ``nn.LSTM`` users look for."""
        return cls.from_torch(lstm, **kwargs)

    def to_lstm(self) -> nn.LSTM:
        """:meth:`FactorizedRNN.to_torch`: an ``nn.LSTM`` holding the reconstructed weights."""
        return cast(nn.LSTM, self.to_torch())
