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
* ``auto``: the cheaper of the two by ``deepspeech_tt.nn.gru_cost`` for the batch size, the
  number of steps and whether gradients are needed; the last choice is shown in the repr.

What it shares with ``FactorizedLSTM`` (weights, strategies, counts, repr) is in
``factorized_rnn``; the GRU's own operations are in ``gru_functional``.

References:
    A. Tjandra, S. Sakti, S. Nakamura, "Compressing recurrent neural network with tensor train",
    IJCNN 2017; "Recurrent neural network compression based on low-rank tensor representation",
    IEICE Trans. Inf. & Syst. E103-D(2), 2020.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from deepspeech_tt.nn.factorized_rnn import FactorizedRNN
from deepspeech_tt.nn.gru_functional import GRU_OPS
from deepspeech_tt.tensor.base import Rank


class FactorizedGRU(FactorizedRNN):
    """Multi-layer (bi)GRU with factorized weight matrices; the interface of ``nn.GRU``.

    Args:
        input_size: features of the input x.
        hidden_size: features of the hidden state h.
        num_layers: stacked GRU layers.
        bias: whether the layers have the biases b_ih and b_hh.
        batch_first: input and output are (B, T, F) instead of (T, B, F).
        dropout: dropout on the outputs of each layer except the last.
        bidirectional: run a backward direction too and concatenate the outputs.
        format: registered format name of both matrices, or (input-to-hidden, hidden-to-hidden).
        rank: the format's rank (one integer for every bond, or a list), both matrices.
        hh_rank: the rank of the hidden-to-hidden matrices, when it differs from ``rank``.
        input_shape: factorisation of ``input_size`` (layer 0's input modes); optional.
        hidden_shape: factorisation of ``hidden_size``; optional, the formats factorise the sizes
            themselves without it.
        strategy: "reconstruct", "contract" or "auto", or one of these for each layer.
        layout: "separate", "joint" (one [W_ih | W_hh] per layer and direction, FDHT) or None
            (joint for "ht" at one rank, separate otherwise); see ``joint_layout``.

    Example::

        >>> gru = FactorizedGRU(160, 256, num_layers=3, bidirectional=True, format="tt", rank=8)
        >>> y, h_n = gru(torch.randn(200, 4, 160))  # (T, B, I) -> (T, B, 2H), (6, B, H)
    """

    ops = GRU_OPS

    @classmethod
    def from_gru(
        cls,
        gru: nn.GRU,
        *,
        format: str | tuple[str, str] = "tt",
        rank: Rank = 8,
        hh_rank: Rank | None = None,
        input_shape: Sequence[int] | None = None,
        hidden_shape: Sequence[int] | None = None,
        strategy: str | Sequence[str] = "auto",
        layout: str | None = None,
    ) -> FactorizedGRU:
        """Compress a (trained) ``nn.GRU``: each matrix (joint: [W_ih | W_hh]) by from_dense."""
        if not isinstance(gru, nn.GRU) or gru.proj_size:
            raise TypeError(f"from_gru needs an nn.GRU without projections, got {gru!r}")
        return cls._from_torch(
            gru, format=format, rank=rank, hh_rank=hh_rank, input_shape=input_shape,
            hidden_shape=hidden_shape, strategy=strategy, layout=layout,
        )

    def to_gru(self) -> nn.GRU:
        """An ``nn.GRU`` holding the reconstructed dense weights."""
        return cast(nn.GRU, self._to_torch(nn.GRU))

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the GRU, with ``nn.GRU``'s inputs, outputs and conventions.

        Args:
            input: (T, B, I), or (B, T, I) if ``batch_first``, or unbatched (T, I), or a
                PackedSequence.
            hx: (L * D, B, H) initial states, zeros if None; (L * D, H) for unbatched input.
            lengths: (B,) lengths of padded input. Beyond nn.GRU: each sequence then gets the
                output and final state it gets alone, without packing, and padded steps of the
                output are zero.

        Returns:
            output (T, B, D * H) (or batch-first, or packed like the input) and h_n (L * D, B, H).
        """
        output, (h_n,) = self._run(input, None if hx is None else (hx,), lengths)
        return output, h_n
