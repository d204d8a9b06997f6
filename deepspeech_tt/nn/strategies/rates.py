"""The rates of the cost model that ``auto`` uses to pick a strategy, shared by the strategies.

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
``FactorizedGRU(strategy=...)`` overrides the choice. ``python -m deepspeech_tt.nn.calibrate``
times the rates (:class:`Rates`) on the machine at hand and caches them (:func:`cache_path`);
:func:`current` gives the cached ones, or these built-in ones where none are cached.

The rates are TT's. Other formats depart from them (:class:`Slowdown`): Toeplitz-like matrices
rebuild and multiply through complex FFTs, CP and HT contract through many thin products, and at
batch 1 a step's product costs mostly its dispatched operations, which differ by format. The
calibration times each registered format's rebuild, projection and step product and stores how
far each is from the estimate; without a calibration every format is taken as modelled. The
contract loop's backward-to-forward ratio (``loop_backward``, built in ``LOOP_BACKWARD``) is
calibrated too.

The LSTM uses the same rates (its products are the GRU's with 4 gate blocks instead of 3, which
the formats' counts include) with two more operations per contract step (``cells.lstm``). The
cells' fused operators do not run at the same rate, though: on the development CPU torch's
LSTM ran a dense layer in 0.35-0.7 of the GRU's time for a third more multiply-adds (oneDNN
has an LSTM kernel, the GRU runs torch's own loop). The calibration times each cell's fused
operator on a dense layer (:class:`FusedSpeed`) and scales reconstruct's estimate by it;
without a calibration every cell is taken as modelled.
With lengths, its reconstruct strategy also recomputes the gates once for the final cell state;
that forward-only GEMM is left out of the estimate.

In the joint layout (``joint_layout``) the two matrices are column blocks of one: a rebuild
counts that matrix once, and each contract product (the input projection with the hidden part
zero, the step product with the input part zero) costs a product with the whole matrix.

``FactorizedLinear`` counts a chain of small tensor contractions (``matmul``, ``to_dense``) as
``CONTRACTION_SLOWDOWN`` = 4 times a GEMM's time per multiply-add: they reach about a quarter
of a large GEMM's rate on the same CPU (measured on 768 x 256 and 3072 x 1024 layers, batch
1-2048).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from deepspeech_tt.atomic import write_text

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
SLOWDOWNS: dict[str, Slowdown] = {}  # built-in per-format slowdowns, filled below
FUSED_BATCH = 16  # the larger batch the fused operators are calibrated at (and 1)
CONTRACTION_SLOWDOWN = 4  # FactorizedLinear: GEMM multiply-adds per contraction multiply-add


@dataclass(frozen=True)
class Slowdown:
    """How one format's operations depart from the rates above (1 and None: as modelled).

    The rates are per multiply-add; a format whose operations are not plain products
    (Toeplitz-like: FFTs on complex values; CP and HT: many thin products) runs them slower
    than its counts say, and a step's product at small batch costs mostly its dispatched
    operations. ``calibrate`` times each registered format at H = 1024 to measure these.

    Attributes:
        rebuild: ``to_dense`` takes this many times its estimate.
        projection: ``matmul`` of the T input rows of a direction (contract), the same.
        step_overhead: seconds of one step's product beyond its multiply-adds at
            ``step_macs_per_s`` (its dispatched operations); None: ``OPS_PER_FACTOR``
            operations per factor tensor.
    """

    rebuild: float = 1.0
    projection: float = 1.0
    step_overhead: float | None = None


AS_MODELLED = Slowdown()


@dataclass(frozen=True)
class FusedSpeed:
    """How one cell's fused dense operator departs from the rates: its measured time over the
    estimate, at batch 1 and at ``FUSED_BATCH``, forward and forward + backward.

    Between the two batches the factor is interpolated geometrically in log(batch); outside
    them it is the nearer one's.
    """

    forward: tuple[float, float] = (1.0, 1.0)
    training: tuple[float, float] = (1.0, 1.0)

    def factor(self, batch: int, training: bool) -> float:
        """The time factor at ``batch``, for a forward (or, ``training``, a training) pass."""
        small, large = self.training if training else self.forward
        share = min(max(math.log(max(batch, 1)) / math.log(FUSED_BATCH), 0.0), 1.0)
        return small ** (1.0 - share) * large**share


FUSED_AS_MODELLED = FusedSpeed()


@dataclass(frozen=True)
class Rates:
    """The machine-dependent rates of the cost model (the constants above by default)."""

    gemm_macs_per_s: float = GEMM_MACS_PER_S
    read_values_per_s: float = READ_VALUES_PER_S
    factor_macs_per_s: float = FACTOR_MACS_PER_S
    step_macs_per_s: float = STEP_MACS_PER_S
    rebuild_macs_per_s: float = REBUILD_MACS_PER_S
    op_seconds: float = OP_SECONDS
    loop_backward: float = LOOP_BACKWARD
    slowdowns: dict[str, Slowdown] = field(default_factory=lambda: dict(SLOWDOWNS))
    fused: dict[str, FusedSpeed] = field(default_factory=dict)

    def slowdown(self, format_name: str) -> Slowdown:
        """The format's :class:`Slowdown` (as modelled where none is known)."""
        return self.slowdowns.get(format_name, AS_MODELLED)

    def fused_speed(self, cell_name: str) -> FusedSpeed:
        """The :class:`FusedSpeed` of the cell named ``cell_name`` ("GRU"; as modelled where
        none is known)."""
        return self.fused.get(cell_name, FUSED_AS_MODELLED)


def cache_path() -> Path:
    """``$XDG_CACHE_HOME/deepspeech-tt/rates.json``, or under ``~/.cache`` without it."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "deepspeech-tt" / "rates.json"


def save(rates: Rates, path: Path | None = None) -> Path:
    """Write ``rates`` as JSON to ``path`` (default :func:`cache_path`); returns the path."""
    path = cache_path() if path is None else path
    stored = dataclasses.asdict(rates)
    stored["slowdowns"] = {name: {key: value for key, value in s.items() if value is not None}
                           for name, s in stored["slowdowns"].items()}  # fmt: skip
    write_text(path, json.dumps(stored, indent=2) + "\n")  # never half a file
    current.cache_clear()
    return path


def load(path: Path) -> Rates:
    """The rates stored at ``path``; a rate or format the file lacks keeps its built-in value.

    Raises:
        ValueError: the file is not a JSON object of positive numbers named as in :class:`Rates`
            (``slowdowns``: an object of formats, each an object of :class:`Slowdown`'s;
            ``fused``: an object of cells, each of :class:`FusedSpeed`'s pairs).
    """
    stored = json.loads(path.read_text())
    names = {f.name for f in dataclasses.fields(Rates)}
    if not isinstance(stored, dict) or not set(stored) <= names:
        raise ValueError(f"{path}: expected positive rates named {sorted(names)}, got {stored}")
    slowdowns, fused = stored.pop("slowdowns", {}), stored.pop("fused", {})
    if not _positive_numbers(stored, names) or not isinstance(slowdowns, dict) or not all(
        _positive_numbers(s, {f.name for f in dataclasses.fields(Slowdown)})
        for s in slowdowns.values()
    ) or not (isinstance(fused, dict) and all(map(_fused_pairs, fused.values()))):
        raise ValueError(f"{path}: expected positive rates named {sorted(names)}, got {stored}")
    known = dict(SLOWDOWNS)
    known.update({name: Slowdown(**_floats(s)) for name, s in slowdowns.items()})
    speeds = {name: FusedSpeed(**{key: (float(small), float(large))
                                  for key, (small, large) in pairs.items()})
              for name, pairs in fused.items()}  # fmt: skip
    return Rates(**_floats(stored), slowdowns=known, fused=speeds)


def _fused_pairs(values: object) -> bool:
    """Whether ``values`` is a :class:`FusedSpeed` as JSON: named pairs of positive numbers."""
    names = {f.name for f in dataclasses.fields(FusedSpeed)}
    return isinstance(values, dict) and set(values) <= names and all(
        isinstance(pair, list) and len(pair) == 2 and all(map(_positive, pair))
        for pair in values.values()
    )


def _positive_numbers(values: object, names: set[str]) -> bool:
    return isinstance(values, dict) and set(values) <= names and all(
        map(_positive, values.values())
    )


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _floats(values: dict[str, float]) -> dict[str, float]:
    return {name: float(value) for name, value in values.items()}


@lru_cache(maxsize=1)
def current() -> Rates:
    """The cached rates of this machine (:func:`cache_path`), or the built-in ones."""
    path = cache_path()
    return load(path) if path.is_file() else Rates()
