"""Bad input: each case gives one clear error naming the sizes and what would work."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.tensor import FORMATS, FormatError, TensorTrainMatrix, get_format
from deepspeech_tt.tensor.base import Rank
from tests.tensor.helpers import IN_SHAPE, OUT_SHAPE, M, N, full_rank


@pytest.mark.formats("modes")
def test_prime_size_cannot_be_split(name: str) -> None:
    with pytest.raises(FormatError) as caught:
        FORMATS[name](768, 257, 2)
    message = str(caught.value)
    assert "768 x 257" in message and "in_features 257" in message
    assert "(257, 1, 1)" in message  # what would work


@pytest.mark.formats("factorized")
def test_shape_product_mismatch(name: str) -> None:
    with pytest.raises(FormatError, match=r"24 x 30 .*in_shape \(3, 2, 4\) multiplies to 24, "
                                          r"not 30.*e\.g\. \(5, 3, 2\)"):
        FORMATS[name](M, N, 1, out_shape=OUT_SHAPE, in_shape=(3, 2, 4))


@pytest.mark.formats("modes")
def test_shapes_with_different_numbers_of_modes(name: str) -> None:
    with pytest.raises(FormatError, match=r"24 x 30 .*as many modes"):
        FORMATS[name](M, N, 1, out_shape=(4, 6), in_shape=IN_SHAPE)


@pytest.mark.formats("factorized")
def test_one_above_the_largest_rank_is_refused(name: str) -> None:
    largest = full_rank(name, OUT_SHAPE, IN_SHAPE)
    above = largest + 1 if isinstance(largest, int) else [largest[0] + 1, *largest[1:]]
    FORMATS[name](M, N, largest, out_shape=OUT_SHAPE, in_shape=IN_SHAPE)  # the largest is taken
    with pytest.raises(FormatError, match=r"24 x 30 .*rank"):
        FORMATS[name](M, N, above, out_shape=OUT_SHAPE, in_shape=IN_SHAPE)


@pytest.mark.parametrize(
    ("name", "rank", "expected"),
    [
        ("tt", 7, r"TT bond rank 1 is 7, but these shapes allow at most 6; use ranks <= \[6, 20\]"),
        ("tt", [6, 21], r"TT bond rank 2 is 21, .* at most 20"),
        ("cp", 37, r"CP rank 1 is 37, .* at most 36"),
        ("tucker", [6, 7, 20], r"Tucker rank 2 is 7, .* use ranks <= \[6, 6, 20\]"),
        ("lowrank", 25, r"low rank 1 is 25, .* at most 24"),
        ("toeplitz", 31, r"displacement rank 31 is too large; .* ranks 1 to 30"),
        ("ht", [6, 6, 21, 20], r"HT rank 3 is 21, .* at most 20; use ranks <= \[6, 6, 20, 20\]"),
        ("tr", [2, 21, 3], r"TR rank 2 is 21, .* at most 20; use ranks <= \[20, 20, 20\]"),
        ("bt", [2, 6, 7, 20], r"BT Tucker rank 2 is 7, .* use ranks <= \[6, 6, 20\]"),
    ],
)
def test_rank_beyond_what_the_shapes_allow(name: str, rank: Rank, expected: str) -> None:
    with pytest.raises(FormatError, match=expected) as caught:
        FORMATS[name](M, N, rank, out_shape=OUT_SHAPE, in_shape=IN_SHAPE)
    assert "24 x 30" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "rank", "expected"),
    [("tt", [2, 2, 2], r"one integer or 2 ranks, got 3"), ("tt", [2, 2, 2, 2], r"end with 1"),
     ("tucker", [2, 2], r"one integer or 3 ranks"), ("cp", 0, r"ranks must be positive"),
     ("toeplitz", [2, 2], r"one integer or 1 ranks, got 2"),
     ("ht", [2, 2], r"one integer or 4 ranks, got 2"),
     ("tr", [2, 2], r"one integer or 3 ranks, got 2"), ("tr", [2, 3, 4, 5], r"same rank"),
     ("bt", [2, 2], r"one integer, 3 Tucker ranks or 4 \(the number of blocks first\)"),
     ("bt", [0, 2, 2, 2], r"at least one block")],
)
def test_malformed_rank(name: str, rank: Rank, expected: str) -> None:
    with pytest.raises(FormatError, match=expected):
        FORMATS[name](M, N, rank, out_shape=OUT_SHAPE, in_shape=IN_SHAPE)


def test_tensorly_style_tt_ranks_are_accepted() -> None:
    matrix = TensorTrainMatrix(M, N, [1, 3, 4, 1], out_shape=OUT_SHAPE, in_shape=IN_SHAPE)
    assert matrix.ranks == (1, 3, 4, 1)


@pytest.mark.formats("factorized")
def test_input_of_the_wrong_size(name: str) -> None:
    matrix = FORMATS[name](M, N, 1, out_shape=OUT_SHAPE, in_shape=IN_SHAPE)
    with pytest.raises(FormatError, match=r"\(4, 29\) does not fit a 24 x 30 matrix"):
        matrix.matmul(torch.randn(4, 29))


def test_format_error_is_a_value_error_that_callers_can_rename() -> None:
    with pytest.raises(ValueError) as caught:
        FORMATS["tt"](M, N, 7, out_shape=OUT_SHAPE, in_shape=IN_SHAPE)
    renamed = type(caught.value)(f"layer 0, input-to-hidden: {caught.value}")
    assert isinstance(renamed, FormatError) and str(renamed).startswith("layer 0")


def test_registry_rejects_an_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"'ttm'") as caught:
        get_format("ttm")
    assert str(sorted(FORMATS)) in str(caught.value)  # every registered name, sorted
