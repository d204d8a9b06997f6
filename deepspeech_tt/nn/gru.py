"""A drop-in ``torch.nn.GRU`` whose weight matrices are held in compressed tensor formats.

Gate layout. Each layer and direction keeps two factorized matrices, each holding all three gates
stacked on its output side in torch's order r|z|n, exactly as ``nn.GRU.weight_ih_l{k}`` and
``weight_hh_l{k}`` do:

    weight_ih: (3H x I) = [W_ir; W_iz; W_in]        weight_hh: (3H x H) = [W_hr; W_hz; W_hn]

This is the TT-GRU form of Tjandra et al. (one tensor for the three gates; their code multiplies
the last output mode by 3), so with factor shapes the output modes of both matrices are
``hidden_shape`` with its last mode times 3. Biases stay dense (6H values per direction).

Strategies (chosen per layer):

* ``reconstruct``: rebuild the dense matrices once per forward call and run torch's fused GRU
  operator on them; gradients reach the factors through the reconstruction.
* ``contract``: never form the matrices; one batched product for the input projection of all
  steps, the hidden-to-hidden product contracted with the factors at every step.
* ``auto``: the cheapest registered strategy (``deepspeech_tt.nn.strategies``) that supports
  the layer, for the batch size, the number of steps and whether gradients are needed; the
  last choice is shown in the repr.

The layer is ``FactorizedRNN`` (arguments, ``forward``, ``from_torch``) bound to the GRU cell
(``deepspeech_tt.nn.cells.gru``: the gate equations and torch's fused operator).

References:
    A. Tjandra, S. Sakti, S. Nakamura, "Compressing recurrent neural network with tensor train",
    IJCNN 2017; "Recurrent neural network compression based on low-rank tensor representation",
    IEICE Trans. Inf. & Syst. E103-D(2), 2020.
"""

from __future__ import annotations

from typing import Any, cast

from torch import nn

from deepspeech_tt.nn.cells.gru import GRU_CELL
from deepspeech_tt.nn.factorized_rnn import FactorizedRNN


class FactorizedGRU(FactorizedRNN):
    """Multi-layer (bi)GRU with factorized weight matrices; the interface of ``nn.GRU``.

    Arguments as :class:`FactorizedRNN`; ``forward(x, hx=None, lengths=None)`` returns
    (output, h_n).

    Example::

        >>> gru = FactorizedGRU(160, 256, num_layers=3, bidirectional=True, format="tt", rank=8)
        >>> y, h_n = gru(torch.randn(200, 4, 160))  # (T, B, I) -> (T, B, 2H), (6, B, H)
    """

    cell = GRU_CELL

    @classmethod
    def from_gru(cls, gru: nn.GRU, **kwargs: Any) -> FactorizedGRU:
        """:meth:`FactorizedRNN.from_torch` under the name ``nn.GRU`` users look for."""
        return cls.from_torch(gru, **kwargs)

    def to_gru(self) -> nn.GRU:
        """:meth:`FactorizedRNN.to_torch`: an ``nn.GRU`` holding the reconstructed weights."""
        return cast(nn.GRU, self.to_torch())
