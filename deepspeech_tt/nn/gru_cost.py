"""Cost of running a factorized GRU layer each way, the per-layer choice, and parameter counts.

The estimate is a time, from each format's multiply-add counts and four rates:

* dense matrix products inside the fused GRU run at GEMM speed, except that a per-step product
  at small batch is bound by reading the whole matrix from memory (a matrix-vector product);
* factor contractions (einsum steps on small, permuted tensors) and reconstructions run several
  times slower per multiply-add than a GEMM;
* every tensor operation that Python dispatches in the contract loop costs a fixed time.

The rates were measured on the 2-core development CPU, one thread, fp32 (GEMM ~50 GMAC/s,
matrix-vector ~5 G values/s, TT products 3-40 GMAC/s, ~8 us per operation, ~18 operations per
contract step). They need only be right near the crossover, where either choice is within a few
percent of the other; ``FactorizedGRU(strategy=...)`` overrides the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deepspeech_tt.tensor.base import FactorizedMatrix

Strategy = Literal["reconstruct", "contract"]
STRATEGIES: tuple[str, ...] = ("reconstruct", "contract", "auto")

GEMM_MACS_PER_S = 50e9  # dense products of the fused GRU
READ_VALUES_PER_S = 5e9  # a matrix-vector product streams its matrix from memory
FACTOR_MACS_PER_S = 10e9  # contractions with factors: small einsum steps with permutes
REBUILD_MACS_PER_S = 3e9  # to_dense: its output is large and permuted into place
OP_SECONDS = 8e-6  # one tensor operation dispatched from Python
STEP_OPS = 18  # operations of one contract step: the factor product and the gate arithmetic
# Backward time relative to forward time: the fused operator replays its products twice; the
# Python loop also replays every small operation through autograd.
FUSED_BACKWARD = 2.0
LOOP_BACKWARD = 3.0


@dataclass(frozen=True)
class LayerCost:
    """Estimated seconds of one layer (all its directions) run each way."""

    reconstruct: float
    contract: float

    @property
    def cheaper(self) -> Strategy:
        return "contract" if self.contract < self.reconstruct else "reconstruct"


def reconstruct_seconds(
    weight_ih: FactorizedMatrix, weight_hh: FactorizedMatrix, *, steps: int, batch: int
) -> float:
    """One direction, forward: rebuild W and U, then the fused dense GRU."""
    three_h, inputs = weight_ih.shape
    hidden = weight_hh.in_features
    rebuild = (weight_ih.flops_to_dense() + weight_hh.flops_to_dense()) / REBUILD_MACS_PER_S
    projection = steps * batch * three_h * inputs / GEMM_MACS_PER_S
    step = max(batch * three_h * hidden / GEMM_MACS_PER_S, three_h * hidden / READ_VALUES_PER_S)
    return rebuild + projection + steps * step


def contract_seconds(
    weight_ih: FactorizedMatrix, weight_hh: FactorizedMatrix, *, steps: int, batch: int
) -> float:
    """One direction, forward: batched input projection, then a Python loop over the steps."""
    projection = weight_ih.flops_matmul(steps * batch) / FACTOR_MACS_PER_S
    product = max(
        weight_hh.flops_matmul(batch) / FACTOR_MACS_PER_S,
        weight_hh.num_parameters() / READ_VALUES_PER_S,
    )
    return projection + steps * (product + STEP_OPS * OP_SECONDS)


def layer_cost(
    weight_ih: FactorizedMatrix,
    weight_hh: FactorizedMatrix,
    *,
    steps: int,
    batch: int,
    directions: int,
    training: bool,
) -> LayerCost:
    """Cost of one layer of ``directions`` directions on a (steps, batch) input, each way."""
    sizes = dict(steps=steps, batch=batch)
    fused = 1.0 + FUSED_BACKWARD if training else 1.0
    loop = 1.0 + LOOP_BACKWARD if training else 1.0
    return LayerCost(
        reconstruct=directions * fused * reconstruct_seconds(weight_ih, weight_hh, **sizes),
        contract=directions * loop * contract_seconds(weight_ih, weight_hh, **sizes),
    )


def dense_gru_parameters(
    input_size: int, hidden_size: int, num_layers: int, *, bias: bool, bidirectional: bool
) -> int:
    """The parameter count of ``nn.GRU`` with these sizes."""
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        inputs = input_size if layer == 0 else hidden_size * directions
        per_direction = 3 * hidden_size * (inputs + hidden_size)
        if bias:
            per_direction += 6 * hidden_size
        total += directions * per_direction
    return total
