"""The convolutional front-end: its sizes, lengths and receptive field come from its layers."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.model.conv import ConvFrontEnd

from .helpers import LENGTHS, NUM_FEATURES, padded_batch


def _front_end(num_layers: int) -> ConvFrontEnd:
    torch.manual_seed(0)
    return ConvFrontEnd(NUM_FEATURES, num_layers).eval()


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_output_lengths_and_size_are_what_each_utterance_produces_alone(num_layers: int) -> None:
    front_end = _front_end(num_layers)
    features, lengths = padded_batch()
    with torch.no_grad():
        batch_out, out_lengths = front_end(features, lengths)
        for b, n in enumerate(LENGTHS):
            alone, alone_length = front_end(features[b : b + 1, :n], lengths[b : b + 1])
            assert alone.shape[1] == int(out_lengths[b]) == int(alone_length[0])
            assert front_end.output_lengths(n) == alone.shape[1]
            assert alone.shape[2] == front_end.output_size
            torch.testing.assert_close(batch_out[b : b + 1, : alone.shape[1]], alone)
    assert batch_out.shape[1] == int(out_lengths.max())


def test_deepspeech2_kernels_halve_time_once_and_frequency_at_each_layer() -> None:
    front_end = ConvFrontEnd(161, 3)
    assert front_end.output_size == 96 * 21  # 161 -> 81 -> 41 -> 21 bins, 96 channels
    assert front_end.output_lengths(torch.tensor([1, 100, 101])).tolist() == [1, 50, 51]


def test_last_input_frame_bounds_the_receptive_field_tightly() -> None:
    front_end = _front_end(2)
    features, lengths = padded_batch((40,))
    t = 7
    last = front_end.last_input_frame(t)  # the last input frame output t reads
    with torch.no_grad():
        reference, _ = front_end(features, lengths)
        beyond = features.clone()
        beyond[:, last + 1 :] = torch.randn_like(beyond[:, last + 1 :])
        torch.testing.assert_close(front_end(beyond, lengths)[0][:, : t + 1],
                                   reference[:, : t + 1])
        at_last = features.clone()
        at_last[:, last] += 10.0
        assert not torch.allclose(front_end(at_last, lengths)[0][:, t], reference[:, t])


def test_more_layers_than_deepspeech2_has_are_rejected() -> None:
    with pytest.raises(ValueError, match="1 to 3 conv layers, got 4"):
        ConvFrontEnd(NUM_FEATURES, 4)
