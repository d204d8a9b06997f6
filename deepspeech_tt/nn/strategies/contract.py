"""``contract``: never build a dense matrix; contract the factors with the inputs.

A recurrent direction projects the inputs of all steps with the factorized W_ih in one batched
product, then contracts h with W_hh's factors at every step of a Python loop. Fewer
multiply-adds when ranks are small and matrices large, and the only option when the dense
matrix must never exist; worth it for inference at batch size 1, rarely for training. A linear
layer is the format's ``matmul``.
"""

from __future__ import annotations

from torch import Tensor

from deepspeech_tt.nn.layer import Direction, RecurrentLayer
from deepspeech_tt.nn.sequences import States
from deepspeech_tt.nn.strategies import rates
from deepspeech_tt.nn.strategies.base import LinearCase, RecurrentCase, Strategy
from deepspeech_tt.tensor.base import FactorizedMatrix


class ContractStrategy(Strategy):
    """Contract inputs and states with the factors, never forming W; every case."""

    name = "contract"

    def cost(self, case: RecurrentCase) -> float:
        loop = 1.0 + rates.current().loop_backward if case.training else 1.0
        return case.directions * loop * contract_seconds(
            case.weight_ih, case.weight_hh, steps=case.steps, batch=case.batch,
            gate_ops=case.gate_ops, formats=case.formats,
        )

    def linear_cost(self, case: LinearCase) -> float:
        macs = rates.CONTRACTION_SLOWDOWN * case.weight.flops_matmul(case.batch)
        return macs / rates.current().gemm_macs_per_s

    def linear(self, x: Tensor, weight: FactorizedMatrix, bias: Tensor | None) -> Tensor:
        y = weight.matmul(x)  # (..., out_features)
        return y if bias is None else y + bias

    def run_direction(
        self, rnn: RecurrentLayer, direction: Direction, x: Tensor, state: States,
        lengths: Tensor | None, *, reverse: bool, final_state: bool,
    ) -> tuple[Tensor, States]:
        return rnn.cell.contracted_direction(
            x, state, direction.weight_ih, direction.weight_hh, direction.bias_ih,
            direction.bias_hh, lengths, reverse=reverse,
        )


def contract_seconds(
    weight_ih: FactorizedMatrix, weight_hh: FactorizedMatrix, *, steps: int, batch: int,
    gate_ops: int = rates.GATE_OPS, formats: tuple[str, ...] = (),
) -> float:
    """One direction, forward: batched input projection, then a Python loop over the steps.

    ``gate_ops`` is the number of operations of one step besides the product (cell-dependent);
    ``formats`` the matrices' format names, whose slowdowns (``rates.Slowdown``) apply.
    """
    rate = rates.current()
    ih, hh = (rate.slowdown(name) for name in formats) if formats else (rates.AS_MODELLED,) * 2
    projection = ih.projection * weight_ih.flops_matmul(steps * batch) / rate.factor_macs_per_s
    product = step_product_seconds(weight_hh, batch, rate, hh.step_overhead)
    return projection + steps * (product + gate_ops * rate.op_seconds)


def step_product_seconds(
    weight: FactorizedMatrix, batch: int, rate: rates.Rates | None = None,
    overhead: float | None = None,
) -> float:
    """One step's product of ``batch`` rows with cache-resident factors at ``rate`` (default
    ``rates.current()``): its multiply-adds (or reading its factors), plus ``overhead``
    seconds (default: ``OPS_PER_FACTOR`` dispatched operations per factor tensor)."""
    rate = rates.current() if rate is None else rate
    if overhead is None:
        overhead = rates.OPS_PER_FACTOR * len(list(weight.parameters())) * rate.op_seconds
    return overhead + max(weight.flops_matmul(batch) / rate.step_macs_per_s,
                          weight.num_parameters() / rate.read_values_per_s)  # fmt: skip
