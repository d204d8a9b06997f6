"""The one registry of weight-matrix formats: config name -> class."""

from __future__ import annotations

from deepspeech_tt.tensor.base import DenseMatrix, FactorizedMatrix

FORMATS: dict[str, type[FactorizedMatrix]] = {
    "dense": DenseMatrix,
}


def get_format(name: str) -> type[FactorizedMatrix]:
    """The class registered under ``name``; a ValueError listing the valid names otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown tensor format {name!r}; choose one of {sorted(FORMATS)}"
        ) from None
