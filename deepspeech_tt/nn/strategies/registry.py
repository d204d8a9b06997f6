"""The one registry of execution strategies, and ``auto``: the cheapest that supports a case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from deepspeech_tt.nn.strategies.base import Case, Strategy
from deepspeech_tt.nn.strategies.contract import ContractStrategy
from deepspeech_tt.nn.strategies.reconstruct import ReconstructStrategy

AUTO = "auto"
"""Not a strategy: the cheapest registered one that supports the case (ties: registry order)."""

STRATEGIES: dict[str, Strategy] = {
    "reconstruct": ReconstructStrategy(),
    "contract": ContractStrategy(),
}

CaseType = TypeVar("CaseType", bound=Case)


def strategy_names() -> list[str]:
    """Every name a ``strategy=`` argument accepts: "auto", then the registry's, in order."""
    return [AUTO, *STRATEGIES]


def get_strategy(name: str) -> Strategy:
    """The strategy registered under ``name``; a ValueError listing the valid names otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; choose one of {strategy_names()}") from None


def check_strategy(name: str) -> str:
    """``name`` if "auto" or registered; the ValueError of :func:`get_strategy` otherwise."""
    if name != AUTO:
        get_strategy(name)
    return name


def parse_strategies(strategy: str | Sequence[str], num_layers: int) -> tuple[str, ...]:
    """One name for every layer, or one per layer, each checked."""
    strategies = (strategy,) * num_layers if isinstance(strategy, str) else tuple(strategy)
    if len(strategies) != num_layers:
        raise ValueError(
            f"strategy lists {len(strategies)} entries for {num_layers} layers; give one each"
        )
    return tuple(check_strategy(name) for name in strategies)


def choose(
    name: str, case: CaseType, cost: Callable[[Strategy, CaseType], float]
) -> Strategy:
    """The strategy ``name`` stands for on ``case``: itself, or for "auto" the cheapest.

    Args:
        name: "auto" or a registered name.
        case: what is to run.
        cost: a strategy's estimate on ``case`` (``Strategy.cost`` or ``Strategy.linear_cost``).

    Raises:
        ValueError: ``name`` is unknown, or names a strategy that does not support ``case``,
            or no registered strategy supports it.
    """
    if name != AUTO:
        chosen = get_strategy(name)
        if not chosen.supports(case):
            raise ValueError(f"strategy {name!r} does not support {_describe(case)}")
        return chosen
    candidates = [s for s in STRATEGIES.values() if s.supports(case)]
    if not candidates:
        raise ValueError(f"no registered strategy supports {_describe(case)}")
    return min(candidates, key=lambda strategy: cost(strategy, case))  # first of equals


def _describe(case: Case) -> str:
    return f"{case.dtype} on {case.device} with formats {'/'.join(case.formats)}"
