"""What the runner, the strategies and the torch conversion see of a recurrent layer.

:class:`RecurrentLayer` lists exactly the attributes and methods they use, so that they take
any layer of that shape and never import the layer itself (``factorized_rnn``, which imports
them): :class:`~deepspeech_tt.nn.factorized_rnn.FactorizedRNN` satisfies it structurally.
:data:`Direction` is the weights of one layer and direction that such a layer hands out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from torch import nn

from deepspeech_tt.nn.cells.base import Cell
from deepspeech_tt.nn.gru_layout import DirectionWeights, RecurrentSpec
from deepspeech_tt.nn.joint_layout import JointDirectionWeights

Direction = DirectionWeights | JointDirectionWeights
"""The weights of one layer and direction, in the separate or the joint layout."""


class RecurrentLayer(Protocol):
    """A (bi)directional multi-layer RNN of factorized weights, as it is run and converted.

    Everything is read-only but ``last_plan``, which the runner records at each call.
    """

    last_plan: tuple[int, int, tuple[str, ...]] | None
    """(batch, steps, the strategy each layer ran with) of the last call; None before one."""

    @property
    def cell(self) -> Cell:
        """The recurrent cell (GRU, LSTM): its states, gates and operators."""
        ...

    @property
    def spec(self) -> RecurrentSpec:
        """Sizes, formats and ranks of the weights."""
        ...

    @property
    def strategies(self) -> tuple[str, ...]:
        """The strategy of each layer: a registered name or "auto"."""
        ...

    @property
    def training(self) -> bool: ...

    @property
    def input_size(self) -> int: ...

    @property
    def hidden_size(self) -> int: ...

    @property
    def num_layers(self) -> int: ...

    @property
    def num_directions(self) -> int: ...

    @property
    def bidirectional(self) -> bool: ...

    @property
    def bias(self) -> bool: ...

    @property
    def batch_first(self) -> bool: ...

    @property
    def dropout(self) -> float: ...

    def parameters(self) -> Iterator[nn.Parameter]:
        """The stored values (factors and biases); the first gives the device and dtype."""
        ...

    def direction_weights(self, layer: int | None = None) -> list[Direction]:
        """The weights of each direction of ``layer`` (of all layers if None), torch's order."""
        ...
