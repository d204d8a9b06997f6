"""Cost of running a factorized GRU (or LSTM) layer each way, the per-layer choice, and parameter
counts.

The estimate is a time, from each format's multiply-add counts and a few rates:

* dense matrix products inside the fused GRU run at GEMM speed, except that a per-step product
  at small batch is bound by reading the whole matrix from memory (a matrix-vector product);
* factor contractions (einsum steps on small, permuted tensors) and reconstructions run several
  times slower per multiply-add than a GEMM;
* every tensor operation that Python dispatches in the contract loop costs a fixed time.

The rates were measured on the 2-core development CPU, fp32, at T = 200 (two threads unless
said otherwise): a dense matrix-vector product of torch's GRU streams ~7 G values/s; its backward
step at small batch costs about four such reads of the matrix (the weight gradient is an outer
product written and accumulated at every step); batched factor contractions reach ~8 GMAC/s
(one thread 3-8), rebuilding W ~10 GMAC/s; a contract step's product on cache-resident factors
~40 GMAC/s plus ~5 us for each Python-dispatched operation (~10 for the gates, ~3 per factor);
the contract loop's backward costs ~5 times its forward. They need only be right near the
crossover, where either choice is within a few percent of the other;
``FactorizedGRU(strategy=...)`` overrides the choice.

The LSTM uses the same rates (its products are the GRU's with 4 gate blocks instead of 3, which
the formats' counts include) with two more operations per contract step (``lstm_functional``).
With lengths, its reconstruct strategy also recomputes the gates once for the final cell state;
that forward-only GEMM is left out of the estimate.

In the joint layout (``joint_layout``) the two matrices are column blocks of one: a rebuild
counts that matrix once, and each contract product (the input projection with the hidden part
zero, the step product with the input part zero) costs a product with the whole matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deepspeech_tt.tensor.base import FactorizedMatrix

Strategy = Literal["reconstruct", "contract"]
STRATEGIES: tuple[str, ...] = ("reconstruct", "contract", "auto")

GEMM_MACS_PER_S = 50e9  # dense products of the fused GRU
READ_VALUES_PER_S = 7e9  # a matrix-vector product streams its matrix from memory
FUSED_BACKWARD_READS = 4.0  # a backward step at small batch: matrix reads of the same cost
FACTOR_MACS_PER_S = 8e9  # batched contractions with factors: small-K GEMMs and permutes
STEP_MACS_PER_S = 40e9  # one step's product with cache-resident factors
REBUILD_MACS_PER_S = 10e9  # to_dense: memory-bound, its output is as large as W
OP_SECONDS = 5e-6  # one tensor operation dispatched from Python
GATE_OPS = 10  # operations of one contract step besides the product
OPS_PER_FACTOR = 3  # operations of the product per factor tensor (GEMM, reshapes, permutes)
# Backward time relative to forward time: the fused operator's projections and the rebuild
# replay their products twice; the Python loop replays every small operation through autograd.
FUSED_BACKWARD = 2.0
LOOP_BACKWARD = 5.0


@dataclass(frozen=True)
class LayerCost:
    """Estimated seconds of one layer (all its directions) run each way."""

    reconstruct: float
    contract: float

    @property
    def cheaper(self) -> Strategy:
        return "contract" if self.contract < self.reconstruct else "reconstruct"


def reconstruct_seconds(
    weight_ih: FactorizedMatrix, weight_hh: FactorizedMatrix, *, steps: int, batch: int,
    training: bool = False, rebuild_macs: int | None = None,
) -> float:
    """One direction: rebuild W and U, then the fused dense RNN (forward, or forward+backward).

    ``rebuild_macs``: multiply-adds of the rebuild when it is not that of the two matrices
    (the joint layout rebuilds one [W_ih | W_hh]).
    """
    gate_rows, inputs = weight_ih.shape
    hidden = weight_hh.in_features
    if rebuild_macs is None:
        rebuild_macs = weight_ih.flops_to_dense() + weight_hh.flops_to_dense()
    rebuild = rebuild_macs / REBUILD_MACS_PER_S
    projection = steps * batch * gate_rows * inputs / GEMM_MACS_PER_S
    product = batch * gate_rows * hidden / GEMM_MACS_PER_S
    read = gate_rows * hidden / READ_VALUES_PER_S
    forward = rebuild + projection + steps * max(product, read)
    if not training:
        return forward
    backward_step = max(FUSED_BACKWARD * product, FUSED_BACKWARD_READS * read)
    return forward + FUSED_BACKWARD * (rebuild + projection) + steps * backward_step


def contract_seconds(
    weight_ih: FactorizedMatrix, weight_hh: FactorizedMatrix, *, steps: int, batch: int,
    gate_ops: int = GATE_OPS,
) -> float:
    """One direction, forward: batched input projection, then a Python loop over the steps.

    ``gate_ops`` is the number of operations of one step besides the product (cell-dependent).
    """
    projection = weight_ih.flops_matmul(steps * batch) / FACTOR_MACS_PER_S
    product = max(
        weight_hh.flops_matmul(batch) / STEP_MACS_PER_S,
        weight_hh.num_parameters() / READ_VALUES_PER_S,
    )
    ops = gate_ops + OPS_PER_FACTOR * len(list(weight_hh.parameters()))
    return projection + steps * (product + ops * OP_SECONDS)


def layer_cost(
    weight_ih: FactorizedMatrix,
    weight_hh: FactorizedMatrix,
    *,
    steps: int,
    batch: int,
    directions: int,
    training: bool,
    gate_ops: int = GATE_OPS,
    rebuild_macs: int | None = None,
) -> LayerCost:
    """Cost of one layer of ``directions`` directions on a (steps, batch) input, each way.

    ``rebuild_macs``: one direction's rebuild, when not that of the two matrices (joint layout).
    """
    loop = 1.0 + LOOP_BACKWARD if training else 1.0
    return LayerCost(
        reconstruct=directions * reconstruct_seconds(
            weight_ih, weight_hh, steps=steps, batch=batch, training=training,
            rebuild_macs=rebuild_macs),
        contract=directions * loop * contract_seconds(weight_ih, weight_hh, steps=steps,
                                                      batch=batch, gate_ops=gate_ops),
    )


def dense_gru_parameters(
    input_size: int, hidden_size: int, num_layers: int, *, bias: bool, bidirectional: bool
) -> int:
    """The parameter count of ``nn.GRU`` with these sizes."""
    return dense_rnn_parameters(
        input_size, hidden_size, num_layers, gates=3, bias=bias, bidirectional=bidirectional
    )


def dense_lstm_parameters(
    input_size: int, hidden_size: int, num_layers: int, *, bias: bool, bidirectional: bool
) -> int:
    """The parameter count of ``nn.LSTM`` (without projections) with these sizes."""
    return dense_rnn_parameters(
        input_size, hidden_size, num_layers, gates=4, bias=bias, bidirectional=bidirectional
    )


def dense_rnn_parameters(
    input_size: int, hidden_size: int, num_layers: int, *, gates: int, bias: bool,
    bidirectional: bool,
) -> int:
    """The parameter count of a torch RNN of ``gates`` gate blocks (GRU 3, LSTM 4)."""
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        inputs = input_size if layer == 0 else hidden_size * directions
        per_direction = gates * hidden_size * (inputs + hidden_size)
        if bias:
            per_direction += 2 * gates * hidden_size
        total += directions * per_direction
    return total
