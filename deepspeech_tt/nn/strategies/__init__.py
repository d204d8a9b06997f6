"""Execution strategies of factorized layers: one :class:`Strategy` per way, one registry.

A new strategy is one module with a :class:`Strategy` subclass (what it supports, its cost
estimate, how it runs a direction and a linear layer) and one entry in ``STRATEGIES``; then
``strategy="<name>"`` (and ``rnn.strategy``) accepts it, ``auto`` considers it, and the suites
parametrised over the registry in ``tests/nn`` run on it.
"""

from deepspeech_tt.nn.strategies.base import Case, LinearCase, RecurrentCase, Strategy
from deepspeech_tt.nn.strategies.contract import ContractStrategy
from deepspeech_tt.nn.strategies.reconstruct import ReconstructStrategy
from deepspeech_tt.nn.strategies.registry import (
    AUTO,
    STRATEGIES,
    check_strategy,
    choose,
    get_strategy,
    parse_strategies,
    strategy_names,
)

__all__ = [
    "AUTO", "STRATEGIES", "Case", "ContractStrategy", "LinearCase", "RecurrentCase",
    "ReconstructStrategy", "Strategy", "check_strategy", "choose", "get_strategy",
    "parse_strategies", "strategy_names",
]
