"""Taking a model's weights into another of the same sizes and other recurrent formats."""

from __future__ import annotations

import pytest
import torch

from deepspeech_tt.model import DeepSpeech2, RNNLayerSpec
from deepspeech_tt.model.transfer import relative_error, transfer_weights
from deepspeech_tt.tensor import get_format

SIZES = dict(conv_layers=1, rnn_layers=2, hidden_size=32)


def model(spec: RNNLayerSpec | list[RNNLayerSpec], rnn_type: str = "gru", **sizes: int
          ) -> DeepSpeech2:
    return DeepSpeech2(40, 29, rnn=spec, rnn_type=rnn_type, **{**SIZES, **sizes}).eval()


def outputs(net: DeepSpeech2) -> torch.Tensor:
    torch.manual_seed(1)
    x, lengths = torch.randn(2, 60, 40), torch.tensor([60, 45])
    with torch.no_grad():
        return net(x, lengths)[0]


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_a_factorized_model_made_dense_computes_the_same_function(rnn_type: str) -> None:
    torch.manual_seed(0)
    source = model(RNNLayerSpec("tt", rank=4), rnn_type)
    dense = model(RNNLayerSpec(), rnn_type)
    fits = transfer_weights(source, dense)
    assert [(f.layer, f.direction) for f in fits] == [
        (0, "forward"), (0, "backward"), (1, "forward"), (1, "backward")
    ]
    assert all(f.error_ih < 1e-6 and f.error_hh < 1e-6 and not f.copied for f in fits)
    assert fits[0].params_after == sum(
        p.numel() for name, p in dense.rnns[0].rnn.named_parameters()
        if name.startswith("directions.0.") and "bias" not in name
    )
    torch.testing.assert_close(outputs(dense), outputs(source), atol=1e-5, rtol=1e-5)


def test_the_same_storage_is_copied_exactly_and_the_source_is_untouched() -> None:
    torch.manual_seed(0)
    source = model(RNNLayerSpec("tt", rank=4))
    before = {k: v.clone() for k, v in source.state_dict().items()}
    torch.manual_seed(5)
    target = model(RNNLayerSpec("tt", rank=4))
    fits = transfer_weights(source, target)
    assert all(f.copied and f.error_ih == f.error_hh == 0.0 for f in fits)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
        assert torch.equal(before[key], value), key


def test_a_full_rank_fit_of_a_dense_model_is_exact_and_a_small_rank_reports_its_error() -> None:
    torch.manual_seed(0)
    dense = model(RNNLayerSpec())
    weight = dense.rnns[1].rnn.direction_weights()[0].dense_weights()[1]  # (96, 32)
    full = get_format("lowrank").max_rank(*weight.shape)
    fitted = model(RNNLayerSpec("lowrank", rank=full))
    fits = transfer_weights(dense, fitted)
    layer_1 = [f for f in fits if f.layer == 1]
    assert all(f.error_ih < 1e-5 and f.error_hh < 1e-5 for f in layer_1)
    small = model(RNNLayerSpec("lowrank", rank=2))
    fits = transfer_weights(dense, small)
    for fit, direction in zip(fits, [d for layer in small.rnns
                                     for d in layer.rnn.direction_weights()], strict=True):
        source = dense.rnns[fit.layer].rnn.direction_weights()[0 if fit.direction == "forward"
                                                               else 1]
        expected = relative_error(source.dense_weights()[1], direction.dense_weights()[1])
        assert fit.error_hh == pytest.approx(expected)
        assert 0.3 < fit.error_hh < 1.0  # a random matrix at rank 2 of 32


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (dict(rnn_layers=3), "the source has 2 recurrent layers, the new model 3"),
        (dict(hidden_size=48), "the source's hidden_size is 32, the new model's 48"),
        (dict(conv_layers=2), "the source.s input_size is 640, the new model.s 320"),
    ],
)
def test_a_model_of_other_sizes_is_refused_naming_both_values(
    target: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        transfer_weights(model(RNNLayerSpec()), model(RNNLayerSpec("tt", rank=2), **target))


def test_another_cell_type_is_refused() -> None:
    with pytest.raises(ValueError, match="recurrent cell is 'gru', the new model's 'lstm'"):
        transfer_weights(model(RNNLayerSpec()), model(RNNLayerSpec(), "lstm"))


def test_a_target_sharing_factors_between_layers_is_refused() -> None:
    shared = [RNNLayerSpec("lowrank", rank=4, layout="separate", shared=True),
              RNNLayerSpec("lowrank", rank=4, layout="separate")]  # fmt: skip
    with pytest.raises(ValueError, match="shares its low-rank factor"):
        transfer_weights(model(RNNLayerSpec()), model(shared))
