"""Bridges to tensorly's decompositions, without touching its global backend.

tensorly works on numpy arrays here, in float64, inside ``tl.backend_context("numpy")``
(thread-local), so importing deepspeech-tt never changes the backend of other tensorly users.
Fitted factors come back as parameters in the dtype and on the device of the fitted matrix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import tensorly as tl
import torch
from torch import Tensor, nn


def as_numpy(weight: Tensor) -> np.ndarray:
    """A float64 numpy copy of ``weight``, detached and on the CPU."""
    return weight.detach().to("cpu", torch.float64).numpy()


@contextmanager
def numpy_backend() -> Iterator[None]:
    """tensorly's numpy backend for this thread, restored afterwards."""
    with tl.backend_context("numpy", local_threadsafe=True):
        yield


def as_parameters(arrays: Sequence[np.ndarray], like: Tensor) -> list[nn.Parameter]:
    """Parameters holding ``arrays`` in the dtype and on the device of ``like``."""
    return [
        nn.Parameter(torch.as_tensor(np.ascontiguousarray(a)).to(like.device, like.dtype))
        for a in arrays
    ]
