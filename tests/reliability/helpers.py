"""Running the entry points as a user does, and what a one-line error must look like."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(
    *arguments: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python ARGUMENTS`` in the repository, its output captured."""
    return subprocess.run([sys.executable, *arguments], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def train_py(*overrides: str) -> subprocess.CompletedProcess[str]:
    """``python train.py OVERRIDES`` in the repository, its output captured."""
    return run_python("train.py", *overrides)


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], *words: str, program: str = "train.py"
) -> str:
    """Exit status 2, no traceback, and a last stderr line ``<program>: error: ...`` holding
    ``words``; returns that line."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"{program}: error: "), result.stderr[-3000:]
    for word in words:
        assert word in line, line
    return line
