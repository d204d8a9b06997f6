"""DeepSpeech2: lengths, padding invariance, per-layer formats, bad specs, and that it learns."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deepspeech_tt.model import RNNLayerSpec
from deepspeech_tt.nn.gru import FactorizedGRU

from .helpers import LENGTHS, MIXED, NUM_FEATURES, VOCAB, padded_batch, small_model

VARIANTS = {
    "bidirectional, summed": dict(),
    "bidirectional, concatenated, 3 conv": dict(sum_directions=False, conv_layers=3),
    "1 conv of time stride 3": dict(conv_layers=1, time_stride=3),
    "unidirectional with lookahead": dict(bidirectional=False, lookahead_context=2),
    "LSTM layers": dict(rnn_type="lstm"),
    "unidirectional LSTM layers": dict(rnn_type="lstm", bidirectional=False, lookahead_context=2),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_out_lengths_are_the_frames_each_utterance_produces_alone(variant: str) -> None:
    model = small_model(**VARIANTS[variant]).eval()
    features, lengths = padded_batch()
    with torch.no_grad():
        log_probs, out_lengths = model(features, lengths)
        alone = [model(features[b : b + 1, :n], lengths[b : b + 1]) for b, n in enumerate(LENGTHS)]
    assert log_probs.shape == (len(LENGTHS), int(out_lengths.max()), VOCAB)
    assert out_lengths.tolist() == [out.shape[1] for out, _ in alone]
    assert out_lengths.tolist() == [int(n) for _, n in alone]
    assert model.output_lengths(lengths).tolist() == out_lengths.tolist()


@pytest.mark.parametrize("variant", VARIANTS)
def test_padded_batch_gives_each_utterance_its_log_probs_alone(variant: str) -> None:
    model = small_model(**VARIANTS[variant]).eval()
    features, lengths = padded_batch()
    with torch.no_grad():
        log_probs, out_lengths = model(features, lengths)
        for b, n in enumerate(LENGTHS):
            alone, _ = model(features[b : b + 1, :n], lengths[b : b + 1])
            torch.testing.assert_close(log_probs[b, : int(out_lengths[b])], alone[0],
                                       atol=1e-5, rtol=1e-5)


def test_extra_padding_changes_nothing_in_training() -> None:
    """BatchNorm statistics come from valid frames: more padding, same outputs and stats."""
    short, long = small_model(), small_model()
    features, lengths = padded_batch()
    more = torch.cat([features, torch.randn(len(LENGTHS), 12, NUM_FEATURES)], dim=1)
    out_short, n_short = short(features, lengths)
    out_long, n_long = long(more, lengths)
    assert n_short.tolist() == n_long.tolist()
    torch.testing.assert_close(out_long[:, : out_short.shape[1]], out_short, atol=1e-5, rtol=1e-5)
    for a, b in zip(short.buffers(), long.buffers(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_log_probs_are_normalised_over_the_tokens() -> None:
    log_probs, _ = small_model()(*padded_batch())
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]))


def test_each_recurrent_layer_has_its_own_format() -> None:
    mixed = small_model(hidden_size=16)
    dense = small_model(hidden_size=16, rnn=RNNLayerSpec())
    grus = [m for m in mixed.modules() if isinstance(m, FactorizedGRU)]
    assert [gru.spec.formats for gru in grus] == [("dense",) * 2, ("tt",) * 2, ("cp",) * 2]
    assert grus[0].compression_ratio() == 1.0 and grus[1].compression_ratio() > 1.0
    n_mixed = sum(p.numel() for p in mixed.parameters())
    assert n_mixed < sum(p.numel() for p in dense.parameters())


def test_one_spec_applies_to_every_layer_and_a_list_needs_one_per_layer() -> None:
    model = small_model(rnn=RNNLayerSpec("lowrank", rank=2))
    grus = [m for m in model.modules() if isinstance(m, FactorizedGRU)]
    assert len(grus) == 3 and all(gru.spec.formats == ("lowrank",) * 2 for gru in grus)
    with pytest.raises(ValueError, match="3 layer specs for rnn_layers=2"):
        small_model(rnn_layers=2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (RNNLayerSpec("ttt"), r"recurrent layer 1 .*unknown tensor format 'ttt'"),
        (RNNLayerSpec("tt", rank=10_000), r"recurrent layer 1 .*input-to-hidden \(24 x 8\)"),
        (RNNLayerSpec("tt", strategy="fast"), r"recurrent layer 1 .*unknown strategy 'fast'"),
    ],
)
def test_bad_spec_fails_at_construction_naming_the_layer(spec: RNNLayerSpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        small_model(rnn=[MIXED[0], spec, MIXED[2]])


def test_lookahead_needs_a_unidirectional_model() -> None:
    with pytest.raises(ValueError, match="unidirectional"):
        small_model(lookahead_context=3)


def test_ctc_training_steps_reduce_the_loss() -> None:
    model = small_model(hidden_size=16)
    features, lengths = padded_batch((30, 26, 22, 18), seed=2)
    targets = torch.randint(1, VOCAB, (4, 5), generator=torch.Generator().manual_seed(3))
    target_lengths = torch.tensor([5, 4, 3, 3])
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        log_probs, out_lengths = model(features, lengths)  # (B, T', V)
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_features_and_lengths_must_agree() -> None:
    model = small_model()
    features, _ = padded_batch()
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 37\]"):
        model(features, torch.tensor([38, 1, 1, 1]))


def test_bidirectional_models_have_no_streaming_horizon() -> None:
    with pytest.raises(ValueError, match="whole input"):
        small_model().last_input_frame(0)


def test_log_probs_stay_fp32_under_bf16_autocast() -> None:
    model = small_model()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        log_probs, _ = model(*padded_batch())
    assert log_probs.dtype == torch.float32
