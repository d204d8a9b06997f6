"""Bridges to tensorly's decompositions, without touching its global backend.

tensorly works on numpy arrays here, in float64, inside ``tl.backend_context("numpy")``
(thread-local), so importing deepspeech-tt never changes the backend of other tensorly users.
Fitted factors come back as float64 torch tensors; the formats move them to the dtype and
device of the fitted matrix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import tensorly as tl
import torch
from torch import Tensor


def as_numpy(weight: Tensor) -> np.ndarray:
    """A float64 numpy copy of ``weight``, detached and on the CPU."""
    return weight.detach().to("cpu", torch.float64).numpy()


@contextmanager
def numpy_backend() -> Iterator[None]:
    """tensorly's numpy backend for this thread, restored afterwards."""
    with tl.backend_context("numpy", local_threadsafe=True):
        yield


def as_tensors(arrays: Sequence[np.ndarray]) -> list[Tensor]:
    """torch tensors holding (contiguous copies of) ``arrays``."""
    return [torch.as_tensor(np.ascontiguousarray(a)) for a in arrays]
