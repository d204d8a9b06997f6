"""Per-layer formats, shared low rank and layouts from the ``rnn`` config group."""

from __future__ import annotations

import pytest

from deepspeech_tt.builders import build_model
from deepspeech_tt.builders.model import ModelConfigError
from deepspeech_tt.config import compose_config
from deepspeech_tt.model import DeepSpeech2
from deepspeech_tt.nn.joint_layout import JointDirectionWeights
from deepspeech_tt.nn.shared_lowrank import SharedLowRankInput
from deepspeech_tt.tensor import FORMATS

SMALL = ["recipe=tiny_tt", "model.hidden_size=16", "rank=4"]  # 3 BiGRU-16 layers, summed
LAYERS = ("rnn.layers=[{format: toeplitz, rank: 2}, {format: lowrank, rank: 3, shared: true},"
          " {format: lowrank}]")


def _build(*overrides: str) -> DeepSpeech2:
    cfg = compose_config([*SMALL, *overrides])
    return build_model(cfg, 80, 29)


def _classes(model: DeepSpeech2, kind: str) -> list[str]:
    """The class of each recurrent layer's first ``kind`` matrix ("weight_ih", "weight_hh")."""
    return [type(getattr(layer.rnn.direction_weights()[0], kind)).__name__
            for layer in model.rnns]


def test_each_layer_gets_its_own_format_and_rank() -> None:
    model = _build(LAYERS)
    assert _classes(model, "weight_hh") == [FORMATS[name].__name__  # type: ignore[attr-defined]
                                            for name in ("toeplitz", "lowrank", "lowrank")]
    assert isinstance(model.rnns[2].rnn.direction_weights()[0].weight_ih, SharedLowRankInput)
    assert [layer.spec.rank for layer in model.rnns] == [2, 3, 4]  # unset: rnn.rank (${rank})
    assert [layer.spec.shared for layer in model.rnns] == [False, True, False]


def test_uniform_options_and_dense_layers_still_apply() -> None:
    model = _build(LAYERS, "rnn.dense_layers=[0]", "rnn.strategy=contract")
    assert [layer.spec.format for layer in model.rnns] == ["dense", "lowrank", "lowrank"]
    assert model.rnns[1].spec.strategy == "contract"
    uniform = _build("rnn.format=cp", "rank=2")
    assert {(layer.spec.format, layer.spec.rank) for layer in uniform.rnns} == {("cp", 2)}


def test_shared_lowrank_from_makes_the_top_layers_a_shared_chain() -> None:
    model = _build("rnn.format=toeplitz", "rnn.shared_lowrank_from=0", "rnn.shared_rank=3")
    assert [layer.spec.format for layer in model.rnns] == ["lowrank"] * 3
    assert [layer.spec.shared for layer in model.rnns] == [True, True, False]
    assert [isinstance(layer.rnn.direction_weights()[0].weight_ih, SharedLowRankInput)
            for layer in model.rnns] == [False, True, True]


def test_layout_reaches_every_layer() -> None:
    joint = _build("rnn.format=tt", "rnn.layout=joint")
    assert all(isinstance(layer.rnn.direction_weights()[0], JointDirectionWeights)
               for layer in joint.rnns)
    assert {layer.rnn.layout for layer in _build("rnn.format=ht").rnns} == {"joint"}


def test_new_recipes_build_the_hybrid_and_fdht_models() -> None:
    hybrid = build_model(compose_config(["recipe=tiny_hybrid"]), 80, 29)
    assert [layer.spec.format for layer in hybrid.rnns] == ["toeplitz", "lowrank", "lowrank"]
    assert isinstance(hybrid.rnns[2].rnn.direction_weights()[1].weight_ih, SharedLowRankInput)
    fdht = build_model(compose_config(["recipe=tiny_fdht"]), 80, 29)
    assert {(layer.spec.format, layer.rnn.layout) for layer in fdht.rnns} == {("ht", "joint")}


@pytest.mark.parametrize(("overrides", "message"), [
    (["rnn.layers=[{format: tt}]"], r"rnn.layers lists 1 layers for model.rnn_layers=3"),
    (["rnn.shared_lowrank_from=2"], r"shared_lowrank_from=2 .* must lie in 0..1"),
    ([LAYERS, "rnn.shared_lowrank_from=1"], "either rnn.layers or rnn.shared_lowrank_from"),
    (["rnn.layers=[{}, {}, {format: lowrank, shared: true}]"], "layer 2 is the last one"),
    (["rnn.layers=[{format: fancy}, {}, {}]"], r"recurrent layer 0: unknown tensor format"),
    (["rnn.layout=joint", "rnn.hh_rank=2"], "hh_rank 2 differs from rank 4"),
])  # fmt: skip
def test_contradictory_options_fail_with_one_message(overrides: list[str], message: str) -> None:
    with pytest.raises(ModelConfigError, match=message):
        _build(*overrides)
