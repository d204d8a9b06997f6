"""Format-level tests take their formats from the registry when they are collected.

A test marked ``@pytest.mark.formats(kind)`` is parametrised over the argument ``name`` with the
names :func:`tests.tensor.helpers.registered` gives for ``kind`` at collection time, so a format
registered before collection -- a new module, or the toy of ``test_registry.py`` -- gets every
such test without editing a list.
"""

from __future__ import annotations

import pytest

from tests.tensor.helpers import registered


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "formats(kind): parametrise `name` over the registered formats of a kind "
        "(all, factorized or modes)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("formats")
    if marker is not None:
        metafunc.parametrize("name", registered(*marker.args))
