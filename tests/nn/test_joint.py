"""The fully decomposed (joint) layout: one [W_ih | W_hh] per layer and direction (FDHT)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepspeech_tt.nn import FactorizedGRU, FactorizedLSTM
from deepspeech_tt.nn.factorized_rnn import FactorizedRNN
from deepspeech_tt.nn.joint_layout import JointDirectionWeights
from deepspeech_tt.nn.strategies import STRATEGIES, RecurrentCase
from deepspeech_tt.tensor.registry import FORMATS

CELLS = {"gru": (FactorizedGRU, nn.GRU), "lstm": (FactorizedLSTM, nn.LSTM)}
LENGTHS = torch.tensor([6, 4, 1])


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _joint(cell: str, fmt: str, **kwargs: object) -> FactorizedRNN:
    cls = CELLS[cell][0]
    return cls(8, 4, format=fmt, rank=2, layout="joint", **kwargs).double()  # type: ignore[arg-type]


def _split_dense(rnn: FactorizedRNN) -> dict[str, Tensor]:
    """torch's parameters of ``rnn``: each joint W = to_dense() split into its column blocks."""
    params: dict[str, Tensor] = {}
    for index, direction in enumerate(rnn.direction_weights()):
        assert isinstance(direction, JointDirectionWeights)
        layer, d = divmod(index, rnn.num_directions)
        suffix = f"_l{layer}" + ("_reverse" if d else "")
        weight = direction.weight.to_dense()  # (G H, I + H), differentiable
        params["weight_ih" + suffix] = weight[:, : direction.input_size]
        params["weight_hh" + suffix] = weight[:, direction.input_size :]
        params["bias_ih" + suffix] = direction.bias_ih  # type: ignore[assignment]
        params["bias_hh" + suffix] = direction.bias_hh  # type: ignore[assignment]
    return params


def _reference(rnn: FactorizedRNN, cell: str, x: Tensor) -> tuple[Tensor, Tensor]:
    """Output (T, B, D H), zero at padding, and h_n of the torch RNN on the split weights."""
    torch_rnn = CELLS[cell][1](8, 4, rnn.num_layers, bidirectional=rnn.bidirectional).double()
    packed = pack_padded_sequence(x, LENGTHS)
    output, state = functional_call(torch_rnn, _split_dense(rnn), (packed,))
    h_n = state[0] if cell == "lstm" else state
    return pad_packed_sequence(output, total_length=x.size(0))[0], h_n


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("strategy", ["reconstruct", "contract"])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (2, True)])
@pytest.mark.parametrize("fmt", ["ht", "tt", "lowrank"])
def test_joint_equals_torch_on_the_split_weights_forward_and_gradients(
    cell: str, strategy: str, num_layers: int, bidirectional: bool, fmt: str
) -> None:
    rnn = _joint(cell, fmt, num_layers=num_layers, bidirectional=bidirectional,
                 strategy=strategy)
    x = torch.randn(6, 3, 8, dtype=torch.double)  # (T, B, I), padded past LENGTHS
    output, state = rnn(x, lengths=LENGTHS)
    h_n = state[0] if cell == "lstm" else state
    expected, expected_h = _reference(rnn, cell, x)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(h_n, expected_h)
    probe = torch.randn_like(expected)
    params = list(rnn.parameters())
    ours = torch.autograd.grad((output * probe).sum() + h_n.sum(), params)
    theirs = torch.autograd.grad((expected * probe).sum() + expected_h.sum(), params)
    for got, want in zip(ours, theirs, strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("fmt", ["ht", "lowrank", "toeplitz", "dense"])
def test_joint_from_torch_at_full_rank_reproduces_it(cell: str, fmt: str) -> None:
    # I = H = 4 without shapes: every joint matrix is G H x 8, split (G H -> 3 modes, 8 -> 2,2,2)
    torch_rnn = CELLS[cell][1](4, 4, num_layers=2).double()
    gates = 3 if cell == "gru" else 4
    out_shape = (3, 2, 2) if cell == "gru" else (4, 2, 2)
    rank = FORMATS[fmt].max_rank(gates * 4, 8, out_shape=out_shape, in_shape=(2, 2, 2))
    ours = CELLS[cell][0].from_torch(torch_rnn, format=fmt, rank=rank, layout="joint")  # type: ignore[arg-type]
    assert ours.layout == "joint"
    x = torch.randn(5, 2, 4, dtype=torch.double)
    torch.testing.assert_close(ours(x)[0], torch_rnn(x)[0], atol=1e-6, rtol=1e-6)


def test_contract_never_forms_the_joint_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    rnn = _joint("gru", "ht", num_layers=2, bidirectional=True, strategy="contract")
    expected = rnn(torch.randn(6, 3, 8, dtype=torch.double), lengths=LENGTHS)
    for direction in rnn.direction_weights():
        monkeypatch.setattr(direction.weight, "to_dense", _forbidden)  # type: ignore[union-attr]
    x = torch.randn(6, 3, 8, dtype=torch.double, requires_grad=True)
    output, _ = rnn(x, lengths=LENGTHS)
    output.sum().backward()
    assert output.shape == expected[0].shape and x.grad is not None


def _forbidden() -> Tensor:
    raise AssertionError("the contract strategy formed W")


def test_layout_default_is_joint_for_ht_at_one_rank_and_separate_otherwise() -> None:
    assert FactorizedGRU(8, 8, format="ht", rank=2).layout == "joint"
    assert FactorizedGRU(8, 8, format="ht", rank=2, hh_rank=2).layout == "joint"
    assert FactorizedGRU(8, 8, format="ht", rank=2, hh_rank=3).layout == "separate"
    assert FactorizedGRU(8, 8, format="tt", rank=2).layout == "separate"
    assert FactorizedGRU(8, 8, format="ht", rank=2, layout="separate").layout == "separate"
    assert FactorizedLSTM(8, 8, format="tt", rank=2, layout="joint").layout == "joint"


def test_state_dict_keys_of_each_layout() -> None:
    separate = FactorizedGRU(8, 8, format="tt", rank=2).state_dict()
    assert {"directions.0.weight_ih.cores.0", "directions.0.weight_hh.cores.0"} <= set(separate)
    joint = FactorizedGRU(8, 8, format="tt", rank=2, layout="joint")
    assert "directions.0.weight.cores.0" in joint.state_dict()
    assert not [key for key in joint.state_dict() if "weight_ih" in key or "weight_hh" in key]
    assert joint.direction_weights()[0].weight.shape == (24, 16)  # type: ignore[union-attr]


def test_joint_parameters_are_one_matrix_plus_biases_and_shapes_follow_hidden_shape() -> None:
    rnn = FactorizedGRU(8, 4, num_layers=2, bidirectional=True, format="tt", rank=2,
                        layout="joint", input_shape=(2, 4), hidden_shape=(2, 2))
    weights = [d.weight for d in rnn.direction_weights()]  # type: ignore[union-attr]
    biases = 4 * 2 * 12  # 4 directions, b_ih + b_hh of 3H
    assert rnn.num_parameters() == sum(w.num_parameters() for w in weights) + biases
    assert weights[2].in_shape == (2, 6)  # layer 1: I + H = 3 H, hidden_shape's last mode x 3
    assert weights[2].out_shape == (2, 6)  # gates on the last output mode, as separate


def test_contradictory_or_impossible_joint_options_fail_with_one_message() -> None:
    with pytest.raises(ValueError, match=r"layout='joint' .* two \('tt', 'cp'\)"):
        FactorizedGRU(8, 4, format=("tt", "cp"), layout="joint")
    with pytest.raises(ValueError, match="hh_rank 3 differs from rank 2"):
        FactorizedGRU(8, 4, format="tt", rank=2, hh_rank=3, layout="joint")
    with pytest.raises(ValueError, match="unknown layout 'fused'"):
        FactorizedGRU(8, 4, format="tt", layout="fused")
    # 8 + 5 = 13 is prime: a TT matrix cannot split it into modes
    with pytest.raises(ValueError, match=r"layer 0, joint \[input-to-hidden \| hidden-to-hidden\]"
                                         r" \(15 x 13\)"):
        FactorizedGRU(8, 5, format="tt", rank=2, layout="joint")


def test_the_cost_model_counts_one_rebuild_of_the_joint_matrix() -> None:
    joint = FactorizedGRU(64, 64, format="ht", rank=4).direction_weights()[0]
    assert isinstance(joint, JointDirectionWeights)
    assert joint.rebuild_macs() == joint.weight.flops_to_dense()
    columns = (joint.weight_ih, joint.weight_hh)  # each column block would count all of W
    both_rebuilds = sum(matrix.flops_to_dense() for matrix in columns)
    both, once = (
        RecurrentCase("cpu", torch.float32, ("ht", "ht"), *columns, steps=100, batch=4,
                      directions=1, training=True, gate_ops=10, rebuild_macs=macs)
        for macs in (both_rebuilds, joint.rebuild_macs())
    )
    reconstruct, contract = STRATEGIES["reconstruct"], STRATEGIES["contract"]
    assert reconstruct.cost(once) < reconstruct.cost(both)
    assert contract.cost(once) == contract.cost(both)
