"""Shared low-rank factors between DeepSpeech2's recurrent layers, and joint layers in a model."""

from __future__ import annotations

import copy

import pytest
import torch

from deepspeech_tt.model import DeepSpeech2, RNNLayerSpec, count_parameters, summary_rows
from deepspeech_tt.model.summary import model_summary
from deepspeech_tt.nn import FactorizedGRU
from deepspeech_tt.nn.shared_lowrank import SharedLowRankInput

from .helpers import padded_batch, small_model

H, G = 8, 3  # hidden size of small_model, GRU gates
HYBRID = [RNNLayerSpec("toeplitz", rank=2), RNNLayerSpec("lowrank", rank=3, shared=True),
          RNNLayerSpec("lowrank", rank=3)]
"""Lu et al.'s hybrid in small: a Toeplitz-like layer under a shared low-rank pair."""


def _pair(model: DeepSpeech2, direction: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_hh of layer 1, W_ih of layer 2) of one direction, dense."""
    lower = model.rnns[1].rnn.direction_weights()[direction]
    upper = model.rnns[2].rnn.direction_weights()[direction]
    return lower.weight_hh.to_dense().detach().clone(), upper.weight_ih.to_dense().detach().clone()


def test_the_pair_shares_one_v_tensor_and_a_step_on_it_changes_both_matrices() -> None:
    model = small_model(rnn=HYBRID)
    lower = model.rnns[1].rnn.direction_weights()
    upper = model.rnns[2].rnn.direction_weights()
    v = lower[0].weight_hh.v
    assert isinstance(upper[0].weight_ih, SharedLowRankInput)
    for direction in upper:  # both directions above use V_f and V_b of the layer below
        forward, backward = direction.weight_ih.sources
        assert forward.v is v and backward.v is lower[1].weight_hh.v
    assert sum(p is v for p in model.parameters()) == 1
    before = _pair(model, 0)
    features, lengths = padded_batch()
    log_probs, _ = model(features, lengths)
    log_probs.sum().backward()
    torch.optim.SGD([v], lr=0.1).step()  # only V moves
    for old, new in zip(before, _pair(model, 0), strict=True):
        assert not torch.allclose(old, new)


def test_parameter_count_is_the_closed_form_with_v_counted_once() -> None:
    model = small_model(rnn=HYBRID)
    r, directions, biases = 3, 2, 2 * G * H
    lowrank = r * (G * H + H)  # U (G H x r) and V (r x H)
    assert model.rnns[1].rnn.num_parameters() == directions * (2 * lowrank + biases)
    shared_u = G * H * directions * r  # U_ih of layer 2 on [V_f; V_b] (summed directions)
    assert model.rnns[2].rnn.num_parameters() == directions * (shared_u + lowrank + biases)
    total = sum(p.numel() for p in model.parameters())
    assert count_parameters(model) == total == sum(row.parameters for row in summary_rows(model))


def _dense_copy(model: DeepSpeech2) -> DeepSpeech2:
    """The model with each recurrent layer replaced by a dense GRU of its reconstructed weights."""
    dense = copy.deepcopy(model)
    for layer, original in zip(dense.rnns, model.rnns, strict=True):
        layer._modules[layer.rnn_type] = FactorizedGRU.from_gru(original.rnn.to_gru(),
                                                                format="dense")
    return dense


@pytest.mark.parametrize(("bidirectional", "sum_directions"),
                         [(True, True), (True, False), (False, True)])
def test_model_equals_its_dense_reconstruction(bidirectional: bool, sum_directions: bool) -> None:
    model = small_model(rnn=HYBRID, bidirectional=bidirectional, sum_directions=sum_directions)
    model.eval()
    features, lengths = padded_batch()
    expected, _ = _dense_copy(model)(features, lengths)
    got, _ = model(features, lengths)
    torch.testing.assert_close(got, expected)


def test_state_dict_holds_v_once_and_reloads_the_tie() -> None:
    model = small_model(rnn=HYBRID).eval()
    state = model.state_dict()
    assert not [key for key in state if key.startswith("rnns.2.gru.directions.0.weight_ih.v")]
    torch.manual_seed(7)
    other = DeepSpeech2(16, 5, rnn_layers=3, hidden_size=H, rnn=HYBRID).eval()
    other.load_state_dict(state)
    features, lengths = padded_batch()
    torch.testing.assert_close(other(features, lengths)[0], model(features, lengths)[0])
    upper = other.rnns[2].rnn.direction_weights()[0].weight_ih
    assert upper.sources[0].v is other.rnns[1].rnn.direction_weights()[0].weight_hh.v


def test_summary_shows_layouts_and_ties() -> None:
    model = small_model(rnn=[RNNLayerSpec("ht", rank=2), *HYBRID[1:]])
    rows = {row.name: row for row in summary_rows(model)}
    assert rows["rnn.0"].layout == "joint"
    assert rows["rnn.1"].layout == "V -> rnn.2"
    assert rows["rnn.2"].layout == "ih = U V(rnn.1)"
    assert rows["rnn.2"].rnn_params == model.rnns[2].rnn.num_parameters()
    assert "ih = U V(rnn.1)" in model_summary(model)


@pytest.mark.parametrize(("specs", "message"), [
    ([RNNLayerSpec(), RNNLayerSpec(), RNNLayerSpec("lowrank", rank=2, shared=True)],
     r"recurrent layer 2 is the last one"),
    ([RNNLayerSpec("toeplitz", rank=2, shared=True), RNNLayerSpec("lowrank", rank=2),
      RNNLayerSpec()], r"layers 0 and 1: layer 0 must hold .* 'lowrank'.*got 'toeplitz'"),
    ([RNNLayerSpec("lowrank", rank=2, shared=True), RNNLayerSpec("ht", rank=2),
      RNNLayerSpec()], r"layers 0 and 1: layer 1 is dense or joint"),
    ([RNNLayerSpec("lowrank", rank=2, shared=True, layout="joint"),
      RNNLayerSpec("lowrank", rank=2), RNNLayerSpec()], r"with layout 'separate', got .*joint"),
])  # fmt: skip
def test_contradictory_sharing_fails_at_construction(
    specs: list[RNNLayerSpec], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        small_model(rnn=specs)
