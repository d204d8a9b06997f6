"""DeepSpeech2 with LSTM layers: built from the argument and the config, counted, and refused
when the type is unknown."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepspeech_tt.builders import build_model
from deepspeech_tt.builders.model import ModelConfigError
from deepspeech_tt.config import compose_config
from deepspeech_tt.model import RNNLayerSpec, model_summary, rnn_parameters, summary_rows
from deepspeech_tt.nn import FactorizedGRU, FactorizedLSTM

from .helpers import MIXED, padded_batch, small_model

SHORT = (12, 7, 3, 1)  # utterance lengths of a batch that runs fast


def test_lstm_model_has_an_lstm_in_every_layer_with_its_format() -> None:
    model = small_model(rnn_type="lstm", hidden_size=16)
    lstms = [m for m in model.modules() if isinstance(m, FactorizedLSTM)]
    assert [lstm.spec.formats for lstm in lstms] == [("dense",) * 2, ("tt",) * 2, ("cp",) * 2]
    assert not any(isinstance(m, FactorizedGRU) for m in model.modules())
    assert [layer.rnn for layer in model.rnns] == lstms
    assert lstms[0].compression_ratio() == 1.0 and lstms[1].compression_ratio() > 1.0


def test_lstm_model_runs_with_the_lengths_of_the_gru_model() -> None:
    lstm, gru = small_model(rnn_type="lstm"), small_model()
    features, lengths = padded_batch(SHORT)
    log_probs, out_lengths = lstm(features, lengths)
    assert out_lengths.tolist() == gru(features, lengths)[1].tolist() == [6, 4, 2, 1]
    assert log_probs.shape == (len(SHORT), 6, 5)
    log_probs.sum().backward()
    assert all(p.grad is not None for p in lstm.parameters())


def test_state_dict_keys_name_the_type_and_gru_keys_are_unchanged() -> None:
    gru_keys = small_model().state_dict().keys()
    lstm_keys = small_model(rnn_type="lstm").state_dict().keys()
    assert "rnns.0.gru.directions.0.weight_ih.weight" in gru_keys
    assert "rnns.0.lstm.directions.0.weight_ih.weight" in lstm_keys
    assert not any(".gru." in key for key in lstm_keys)


def test_summary_shows_the_type_and_compares_with_nn_lstm() -> None:
    model = small_model(rnn_type="lstm", hidden_size=16)
    rows = {row.name: row for row in summary_rows(model)}
    assert rows["rnn.1"].description == "BiLSTM 16 -> 16, sum"
    dense = sum(p.numel() for p in nn.LSTM(16, 16, bidirectional=True).parameters())
    stored = [m for m in model.modules() if isinstance(m, FactorizedLSTM)]
    lstm = stored[1]
    assert rows["rnn.1"].dense_rnn_params == dense
    assert rows["rnn.1"].compression == dense / lstm.num_parameters() > 1.0
    assert rows["rnn.0"].compression == 1.0
    total = model_summary(model).splitlines()[-1]
    assert f"{rnn_parameters(model):,}" in total
    assert rnn_parameters(model) == sum(p.numel() for m in stored for p in m.parameters())


def test_unknown_rnn_type_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown rnn_type 'rnn'.*\['gru', 'lstm'\]"):
        small_model(rnn_type="rnn")


def test_bad_lstm_spec_names_the_layer() -> None:
    with pytest.raises(ValueError, match=r"recurrent layer 1 .*input-to-hidden \(32 x 8\)"):
        small_model(rnn_type="lstm", rnn=[MIXED[0], RNNLayerSpec("tt", rank=10_000), MIXED[2]])


def test_config_composes_and_builds_an_lstm_model() -> None:
    cfg = compose_config(["recipe=tiny_tt", "rnn.rnn_type=lstm", "rank=2"])
    assert cfg.rnn.rnn_type == "lstm"
    model = build_model(cfg, 161, 29)
    lstms = [m for m in model.modules() if isinstance(m, FactorizedLSTM)]
    assert len(lstms) == len(model.rnns) == cfg.model.rnn_layers
    assert {lstm.spec.formats for lstm in lstms} == {("tt", "tt")}
    assert compose_config().rnn.rnn_type == "gru"  # the default keeps DeepSpeech2's GRUs


def test_config_with_an_unknown_rnn_type_fails_listing_the_valid_ones() -> None:
    cfg = compose_config(["rnn.rnn_type=transformer"])
    with pytest.raises(ModelConfigError, match=r"rnn.rnn_type 'transformer'.*\['gru', 'lstm'\]"):
        build_model(cfg, 161, 29)


def test_lstm_model_in_eval_gives_each_utterance_its_log_probs_alone() -> None:
    model = small_model(rnn_type="lstm", rnn=RNNLayerSpec("tt", rank=2, strategy="contract"))
    model.eval()
    features, lengths = padded_batch(SHORT)
    with torch.no_grad():
        log_probs, out_lengths = model(features, lengths)
        for b, n in enumerate(SHORT):
            alone, _ = model(features[b : b + 1, :n], lengths[b : b + 1])
            torch.testing.assert_close(log_probs[b, : int(out_lengths[b])], alone[0],
                                       atol=1e-5, rtol=1e-5)
