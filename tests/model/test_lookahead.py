"""The lookahead convolution and the streaming model: causal apart from their context."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.model import Lookahead

from .helpers import padded_batch, small_model


def test_lookahead_output_sees_exactly_context_frames_ahead() -> None:
    torch.manual_seed(0)
    lookahead = Lookahead(4, context=3)
    x, lengths = torch.randn(1, 20, 4), torch.tensor([20])
    reference, _ = lookahead(x, lengths)
    t = 8
    changed = x.clone()
    changed[:, t + 4 :] += 1.0  # beyond t + context
    torch.testing.assert_close(lookahead(changed, lengths)[0][:, : t + 1], reference[:, : t + 1])
    changed[:, t + 3] += 1.0  # the last frame in t's context
    assert not torch.allclose(lookahead(changed, lengths)[0][:, t], reference[:, t])


def test_lookahead_is_a_filter_per_feature() -> None:
    lookahead = Lookahead(3, context=2)
    with torch.no_grad():
        lookahead.conv.weight.copy_(torch.tensor([[[1.0, 0, 0]], [[0, 1.0, 0]], [[0, 0, 1.0]]]))
    x = torch.arange(12.0).view(1, 4, 3)  # (B, T, F)
    y, _ = lookahead(x, torch.tensor([4]))
    # Feature 0 is x itself, feature 1 the next frame's, feature 2 two frames ahead (or zero).
    assert y[0, :, 0].tolist() == x[0, :, 0].tolist()
    assert y[0, :, 1].tolist() == [4.0, 7.0, 10.0, 0.0]
    assert y[0, :, 2].tolist() == [8.0, 11.0, 0.0, 0.0]


def test_padding_never_reaches_the_last_frames_of_an_utterance() -> None:
    torch.manual_seed(0)
    lookahead = Lookahead(4, context=3)
    x = torch.randn(2, 10, 4)  # the second utterance is 6 frames, then garbage
    lengths = torch.tensor([10, 6])
    batch, _ = lookahead(x, lengths)
    alone, _ = lookahead(x[1:, :6], lengths[1:])
    torch.testing.assert_close(batch[1:, :6], alone)


@pytest.mark.parametrize("context", [None, 3])
def test_streaming_model_ignores_input_beyond_its_horizon(context: int | None) -> None:
    model = small_model(bidirectional=False, lookahead_context=context).eval()
    features, lengths = padded_batch((60,))
    with torch.no_grad():
        reference, _ = model(features, lengths)
        for t in (0, 5, 12):
            last = model.last_input_frame(t)
            assert last < 59
            changed = features.clone()
            changed[:, last + 1 :] = torch.randn_like(changed[:, last + 1 :])
            output, _ = model(changed, lengths)
            torch.testing.assert_close(output[:, : t + 1], reference[:, : t + 1])
    horizon = model.last_input_frame(0)
    assert horizon == model.conv.last_input_frame(context or 0)


def test_bad_context_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 1 frame"):
        Lookahead(4, context=0)
