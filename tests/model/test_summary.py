"""The parameter summary: its counts are the model's, per layer and in total."""

from __future__ import annotations

from torch import nn

from deepspeech_tt.model import (
    RNNLayerSpec,
    StackDescription,
    count_parameters,
    model_summary,
    rnn_parameters,
    summary_rows,
)
from deepspeech_tt.nn.gru import FactorizedGRU

from .helpers import small_model


def test_rows_add_up_to_every_parameter_of_the_model() -> None:
    for model in (small_model(), small_model(bidirectional=False, lookahead_context=2)):
        total = sum(p.numel() for p in model.parameters())
        assert count_parameters(model) == total
        assert sum(row.parameters for row in summary_rows(model)) == total
        assert f"{total:,}" in model_summary(model).splitlines()[-1]


def test_rnn_parameters_are_the_grus_and_their_compression_is_against_nn_gru() -> None:
    model = small_model(hidden_size=16)
    grus = [m for m in model.modules() if isinstance(m, FactorizedGRU)]
    assert rnn_parameters(model) == sum(p.numel() for gru in grus for p in gru.parameters())
    rows = {row.name: row for row in summary_rows(model)}
    assert [rows[f"rnn.{i}"].format for i in range(3)] == ["dense", "tt", "cp"]
    assert [rows[f"rnn.{i}"].rank for i in range(3)] == ["-", "2", "3"]
    assert rows["rnn.0"].compression == 1.0
    dense_equivalent = nn.GRU(16, 16, bidirectional=True)  # layer 1: summed directions, 16 in
    expected = sum(p.numel() for p in dense_equivalent.parameters()) / grus[1].num_parameters()
    assert rows["rnn.1"].compression == expected > 1.0


def test_table_shows_each_layer_with_its_format_and_rank() -> None:
    model = small_model(rnn=[RNNLayerSpec(), RNNLayerSpec("tt", rank=2, hh_rank=3),
                             RNNLayerSpec(("tt", "dense"), rank=2)])
    lines = model_summary(model).splitlines()
    names = [line.split()[0] for line in lines if not line.startswith("-")]
    assert names == ["layer", "conv.0", "conv.1", "rnn.0", "rnn.1", "rnn.2", "fc", "total"]
    assert " tt " in lines[5] and " 2/3 " in lines[5]
    assert " tt/dense " in lines[6]


def test_the_stack_label_names_cell_formats_ranks_and_shared_factors() -> None:
    uniform = StackDescription("gru", (("tt", "16", "separate"),) * 3)
    assert (uniform.label, uniform.format) == ("GRU tt r16 x3", "tt")
    hybrid = StackDescription("gru", (("toeplitz", "4", "separate"),
                                      ("lowrank", "32", "V -> rnn.2"),
                                      ("lowrank", "32", "ih = U V(rnn.1)")))  # fmt: skip
    assert hybrid.label == "GRU toeplitz r4 + lowrank r32 x2, shared V"
    assert hybrid.format == "toeplitz+lowrank"
    fdht = StackDescription("lstm", (("dense", "-", "separate"), ("ht", "4", "joint")))
    assert (fdht.label, fdht.format) == ("LSTM dense + ht r4 joint", "dense+ht")
