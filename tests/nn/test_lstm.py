"""FactorizedLSTM against torch.nn.LSTM, across strategies, lengths, packing and every format."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepspeech_tt.nn import FactorizedLSTM
from deepspeech_tt.nn.gru_cost import dense_lstm_parameters
from deepspeech_tt.tensor.registry import FORMATS

STRATEGIES = ["reconstruct", "contract"]
FACTORIZED = sorted(set(FORMATS) - {"dense"})
# Small sizes with explicit factor shapes, so that every format has two modes per matrix:
# input 8 = (2, 4); hidden 4 = (2, 2); gates 16 = (2, 8); layer-1 input 8 = (2, 4).
SIZES = dict(input_size=8, hidden_size=4, input_shape=(2, 4), hidden_shape=(2, 2))
# Ranks at which each format holds any such matrix exactly (input-to-hidden, hidden-to-hidden):
# each is a 4 x 32 or 4 x 16 matrix of modes, of rank 4 (TT and ring bonds, CP terms, Tucker
# core, HT leaves, the first block term); low rank min(16, in); Toeplitz-like one 16 x 16 block
# of displacement rank 16. The same as tests/nn/test_gru.py's except where a size is 4H.
FULL_RANK: dict[str, tuple[object, object]] = {
    "dense": (1, 1),
    "tt": (4, 4),
    "cp": (4, 4),
    "tucker": (4, 4),
    "lowrank": (8, 4),
    "toeplitz": (16, 16),
    "ht": (4, 4),
    "tr": (4, 4),
    "bt": (4, 4),
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _lstm(**kwargs: object) -> nn.LSTM:
    return nn.LSTM(**kwargs).double()


def _factorized(fmt: str, rank: object = 2, **kwargs: object) -> FactorizedLSTM:
    lstm = FactorizedLSTM(**SIZES, format=fmt, rank=rank, **kwargs)  # type: ignore[arg-type]
    return lstm.double()


def _assert_same(
    got: tuple, want: tuple, atol: float | None = None, rtol: float | None = None
) -> None:
    """(output, (h_n, c_n)) of ours against nn.LSTM's."""
    (output, (h_n, c_n)), (expected, (expected_h, expected_c)) = got, want
    for ours, theirs in ((output, expected), (h_n, expected_h), (c_n, expected_c)):
        torch.testing.assert_close(ours, theirs, atol=atol, rtol=rtol)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (1, True), (3, True)])
@pytest.mark.parametrize("with_state", [False, True])
def test_dense_weights_equal_nn_lstm(
    strategy: str, batch_first: bool, num_layers: int, bidirectional: bool, with_state: bool
) -> None:
    lstm = _lstm(input_size=5, hidden_size=6, num_layers=num_layers, batch_first=batch_first,
                 bidirectional=bidirectional)
    ours = FactorizedLSTM.from_lstm(lstm, format="dense", strategy=strategy)
    x = torch.randn(3, 7, 5, dtype=torch.double)  # (B, T, I) or (T, B, I)
    batch = x.size(0) if batch_first else x.size(1)
    shape = (num_layers * (1 + bidirectional), batch, 6)
    state = (torch.randn(shape, dtype=torch.double), torch.randn(shape, dtype=torch.double))
    hx = state if with_state else None
    _assert_same(ours(x, hx), lstm(x, hx))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_unbatched_input_equals_nn_lstm(strategy: str) -> None:
    lstm = _lstm(input_size=5, hidden_size=6, bidirectional=True)
    ours = FactorizedLSTM.from_lstm(lstm, format="dense", strategy=strategy)
    x = torch.randn(7, 5, dtype=torch.double)
    hx = (torch.randn(2, 6, dtype=torch.double), torch.randn(2, 6, dtype=torch.double))
    _assert_same(ours(x, hx), lstm(x, hx))


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_packed_sequences_equal_nn_lstm(
    strategy: str, enforce_sorted: bool, with_state: bool
) -> None:
    lstm = _lstm(input_size=5, hidden_size=6, num_layers=2, bidirectional=True)
    ours = FactorizedLSTM.from_lstm(lstm, format="dense", strategy=strategy)
    lengths = torch.tensor([9, 7, 7, 2]) if enforce_sorted else torch.tensor([4, 9, 1, 7])
    x = torch.randn(9, 4, 5, dtype=torch.double)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    state = (torch.randn(4, 4, 6, dtype=torch.double), torch.randn(4, 4, 6, dtype=torch.double))
    hx = state if with_state else None
    (output, final), (expected, expected_final) = ours(packed, hx), lstm(packed, hx)
    assert torch.equal(output.batch_sizes, expected.batch_sizes)
    _assert_same((output.data, final), (expected.data, expected_final))


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_padded_batch_equals_each_utterance_alone(strategy: str, batch_first: bool) -> None:
    lstm = FactorizedLSTM(5, 6, num_layers=2, bidirectional=True, batch_first=batch_first,
                          format="dense", strategy=strategy).double()
    lengths = torch.tensor([3, 8, 5])
    utterances = [torch.randn(int(n), 5, dtype=torch.double) for n in lengths]
    padded = nn.utils.rnn.pad_sequence(utterances, batch_first=batch_first, padding_value=7.0)
    output, (h_n, c_n) = lstm(padded, lengths=lengths)
    if not batch_first:
        output = output.transpose(0, 1)  # (B, T, 2H)
    for b, utterance in enumerate(utterances):
        alone, (alone_h, alone_c) = lstm(utterance)  # unbatched: (T_b, 2H), (L * D, H)
        torch.testing.assert_close(output[b, : lengths[b]], alone)
        torch.testing.assert_close(h_n[:, b], alone_h)
        torch.testing.assert_close(c_n[:, b], alone_c)
        assert not output[b, lengths[b] :].any()  # padding comes out zero


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_lengths_equal_packed_nn_lstm_including_gradients(strategy: str) -> None:
    """The final cell state with lengths (a closed form under reconstruct) and its gradients."""
    lstm = _lstm(input_size=5, hidden_size=6, num_layers=2, bidirectional=True)
    ours = FactorizedLSTM.from_lstm(lstm, format="dense", strategy=strategy)
    lengths = torch.tensor([2, 6, 4])
    x = torch.randn(6, 3, 5, dtype=torch.double, requires_grad=True)
    packed_output, (expected_h, expected_c) = lstm(
        pack_padded_sequence(x, lengths, enforce_sorted=False)
    )
    expected, _ = pad_packed_sequence(packed_output)
    output, (h_n, c_n) = ours(x, lengths=lengths)
    _assert_same((output, (h_n, c_n)), (expected, (expected_h, expected_c)))
    weights = [torch.randn_like(t) for t in (output, h_n, c_n)]
    # Dense format: the dense weights are the parameters themselves, in nn.LSTM's order.
    ours_params = [w for d in ours.direction_weights() for w in d.dense_weights()]
    results = []
    for outputs, params in (((expected, expected_h, expected_c), list(lstm.parameters())),
                            ((output, h_n, c_n), ours_params)):
        loss = sum((t * w).sum() for t, w in zip(outputs, weights, strict=True))
        results.append(torch.autograd.grad(loss, [x, *params]))
    for got, want in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_any_format_equals_nn_lstm_holding_its_dense_weights(fmt: str, strategy: str) -> None:
    ours = _factorized(fmt, num_layers=2, bidirectional=True, strategy=strategy)
    lstm = ours.to_lstm()
    x = torch.randn(5, 3, 8, dtype=torch.double)
    lengths = torch.tensor([5, 2, 4])
    _assert_same(ours(x), lstm(x))
    expected, expected_final = lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))
    output, final = ours(x, lengths=lengths)
    _assert_same((output, final), (pad_packed_sequence(expected)[0], expected_final))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("use_lengths", [False, True])
def test_strategies_agree_on_outputs_and_gradients(fmt: str, use_lengths: bool) -> None:
    reconstruct = _factorized(fmt, num_layers=2, bidirectional=True, strategy="reconstruct")
    contract = copy.deepcopy(reconstruct)
    contract.set_strategy("contract")
    lengths = torch.tensor([5, 3]) if use_lengths else None
    x = torch.randn(5, 2, 8, dtype=torch.double)
    hx = (torch.randn(4, 2, 4, dtype=torch.double), torch.randn(4, 2, 4, dtype=torch.double))
    results = []
    for lstm in (reconstruct, contract):
        xi = x.clone().requires_grad_()
        output, (h_n, c_n) = lstm(xi, hx, lengths=lengths)
        ramp = torch.linspace(-1, 1, output.numel(), dtype=torch.double).view_as(output)
        loss = (output * ramp).sum() + h_n.sum() + 2 * c_n.sum()
        params = [p for _, p in sorted(lstm.named_parameters())]
        results.append((output, h_n, c_n, *torch.autograd.grad(loss, [xi, *params])))
    for got, want in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_output_without_final_state_equals_forwards_with_its_gradients(strategy: str) -> None:
    lstm = _factorized("tt", num_layers=2, bidirectional=True, batch_first=True,
                       strategy=strategy)
    x = torch.randn(3, 5, 8, dtype=torch.double, requires_grad=True)  # (B, T, I)
    lengths = torch.tensor([5, 2, 4])
    expected, _ = lstm(x, lengths=lengths)
    output = lstm.output(x, lengths)
    torch.testing.assert_close(output, expected)
    ramp = torch.linspace(-1, 1, output.numel(), dtype=torch.double).view_as(output)
    grads = [torch.autograd.grad((y * ramp).sum(), [x, *lstm.parameters()])
             for y in (expected, output)]
    for got, want in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(got, want)


def test_contract_never_forms_the_dense_matrices(monkeypatch: pytest.MonkeyPatch) -> None:
    lstm = _factorized(FACTORIZED[0] if FACTORIZED else "dense", bidirectional=True,
                       strategy="contract")

    def forbidden(*_: object) -> None:
        raise AssertionError("contract called to_dense")

    for direction in lstm.direction_weights():
        monkeypatch.setattr(direction.weight_ih, "to_dense", forbidden)
        monkeypatch.setattr(direction.weight_hh, "to_dense", forbidden)
    output, (h_n, c_n) = lstm(torch.randn(4, 2, 8, dtype=torch.double),
                              lengths=torch.tensor([4, 2]))
    (output.sum() + c_n.sum()).backward()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_gradcheck_with_lengths(strategy: str) -> None:
    lstm = _factorized("tt", bidirectional=True, strategy=strategy)
    names = [name for name, _ in lstm.named_parameters()]
    lengths = torch.tensor([3, 1])

    def run(x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        output, (h_n, c_n) = functional_call(
            lstm, dict(zip(names, params, strict=True)), (x,), {"lengths": lengths}
        )
        return torch.cat([output.flatten(), h_n.flatten(), c_n.flatten()])

    x = torch.randn(3, 2, 8, dtype=torch.double, requires_grad=True)
    params = tuple(p.detach().clone().requires_grad_() for p in lstm.parameters())
    assert torch.autograd.gradcheck(run, (x, *params), fast_mode=True)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_from_lstm_at_full_rank_reproduces_nn_lstm(fmt: str) -> None:
    if fmt not in FULL_RANK:
        pytest.fail(f"format {fmt!r} is registered: add its full rank to FULL_RANK")
    lstm = _lstm(input_size=8, hidden_size=4, num_layers=2, bidirectional=True)
    rank, hh_rank = FULL_RANK[fmt]
    ours = FactorizedLSTM.from_lstm(lstm, format=fmt, rank=rank, hh_rank=hh_rank,  # type: ignore[arg-type]
                                    input_shape=(2, 4), hidden_shape=(2, 2), layout="separate")
    x = torch.randn(6, 3, 8, dtype=torch.double)
    _assert_same(ours(x), lstm(x), atol=1e-6, rtol=1e-6)
    for name, value in ours.to_lstm().state_dict().items():
        torch.testing.assert_close(value, lstm.state_dict()[name], atol=1e-6, rtol=1e-6)


def test_initialisation_is_nn_lstms_for_every_matrix_and_bias() -> None:
    lstm = FactorizedLSTM(400, 10, bidirectional=True, format="dense")  # input 40x the hidden
    bound = 10**-0.5  # nn.LSTM: U(-1/sqrt(H), 1/sqrt(H)) everywhere, whatever the input size
    for name, value in lstm.named_parameters():
        assert value.numel() % 40 == 0, name  # 4H rows
        assert value.abs().max() <= bound, name
        assert value.abs().max() > 0.9 * bound, name
        assert abs(value.std().item() - bound / 3**0.5) < 0.25 * bound, name


def test_parameter_counts_are_exact() -> None:
    lstm = _lstm(input_size=5, hidden_size=6, num_layers=3, bidirectional=True)
    ours = FactorizedLSTM.from_lstm(lstm, format="dense")
    dense = sum(p.numel() for p in lstm.parameters())
    assert ours.num_parameters() == ours.dense_num_parameters() == dense
    assert ours.compression_ratio() == 1.0
    no_bias = nn.LSTM(5, 6, num_layers=2, bias=False)
    assert dense_lstm_parameters(5, 6, 2, bias=False, bidirectional=False) == sum(
        p.numel() for p in no_bias.parameters()
    )


@pytest.mark.parametrize("fmt", FACTORIZED)
def test_factorized_parameters_are_factors_plus_biases(fmt: str) -> None:
    lstm = _factorized(fmt, num_layers=2, bidirectional=True, layout="separate")
    factors = sum(
        d.weight_ih.num_parameters() + d.weight_hh.num_parameters()
        for d in lstm.direction_weights()
    )
    assert lstm.num_parameters() == factors + 4 * 2 * 4 * 4  # 4 directions, b_ih + b_hh, 4H
    assert lstm.compression_ratio() == lstm.dense_num_parameters() / lstm.num_parameters()
    for direction in lstm.direction_weights():
        assert direction.weight_ih.shape == (16, 8) and direction.weight_hh.shape == (16, 4)


def test_auto_reconstructs_dense_weights_and_shows_its_choice() -> None:
    lstm = FactorizedLSTM(5, 6, num_layers=2, format="dense", strategy="auto")
    assert "strategy=auto" in repr(lstm)
    lstm(torch.randn(7, 3, 5))
    assert lstm.last_plan == (3, 7, ("reconstruct", "reconstruct"))
    assert "auto -> reconstruct (last call: batch 3, 7 steps)" in repr(lstm)
    assert "nn.LSTM: " in repr(lstm) and "compression 1.0x" in repr(lstm)


@pytest.mark.parametrize("fmt", FACTORIZED)
def test_auto_contracts_a_small_rank_at_batch_one(fmt: str) -> None:
    lstm = FactorizedLSTM(1024, 1024, bidirectional=True, format=fmt, rank=4)
    assert lstm.plan(1, 200, training=False) == ("contract",)


def test_dropout_applies_between_layers_in_training_only() -> None:
    lstm = _lstm(input_size=5, hidden_size=6, num_layers=2, dropout=0.5)
    ours = FactorizedLSTM.from_lstm(lstm, format="dense", strategy="contract")
    x = torch.randn(4, 2, 5, dtype=torch.double)
    ours.eval()
    lstm.eval()
    torch.testing.assert_close(ours(x)[0], lstm(x)[0])
    ours.train()
    assert not torch.allclose(ours(x)[0], lstm(x)[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_packed_and_padded_equal_nn_lstm() -> None:
    lstm = nn.LSTM(16, 32, num_layers=2, bidirectional=True).cuda()
    ours = FactorizedLSTM.from_lstm(lstm, format="dense", strategy="reconstruct")
    x, lengths = torch.randn(5, 3, 16, device="cuda"), torch.tensor([5, 2, 4])
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    (output, final), (expected, expected_final) = ours(packed), lstm(packed)
    _assert_same((output.data, final), (expected.data, expected_final), atol=1e-5, rtol=1e-4)
    output, final = ours(x, lengths=lengths)
    _assert_same((output, final), (pad_packed_sequence(expected)[0], expected_final),
                 atol=1e-5, rtol=1e-4)


# Bad input: one clear error that names the matrix (or argument) and the sizes.


@pytest.mark.parametrize("fmt", FACTORIZED)
def test_rank_too_large_names_the_layer_and_matrix(fmt: str) -> None:
    where = "layer 0, forward direction"
    with pytest.raises(ValueError, match=where + r", input-to-hidden \(16 x 8\)"):
        _factorized(fmt, rank=10_000, bidirectional=True, layout="separate")
    with pytest.raises(ValueError, match=where + r", hidden-to-hidden \(16 x 4\)"):
        _factorized(fmt, rank=2, hh_rank=10_000, bidirectional=True, layout="separate")


def test_shape_whose_product_is_wrong_names_the_layer_and_sizes() -> None:
    message = r"FactorizedLSTM: hidden_shape \(2, 3\) multiplies to 6, but hidden_size is 4"
    with pytest.raises(ValueError, match=message):
        FactorizedLSTM(8, 4, format="dense", hidden_shape=(2, 3))


def test_bad_state_and_conversions_are_rejected() -> None:
    lstm = FactorizedLSTM(5, 6, format="dense")
    x, h = torch.randn(4, 2, 5), torch.zeros(1, 2, 6)
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        lstm(x, h)
    with pytest.raises(RuntimeError, match=r"hidden\[1\] size \(1, 2, 6\), got \(1, 3, 6\)"):
        lstm(x, (h, torch.zeros(1, 3, 6)))
    with pytest.raises(TypeError, match="from_torch needs an nn.LSTM without projections"):
        FactorizedLSTM.from_lstm(nn.LSTM(5, 6, proj_size=3))
    with pytest.raises(TypeError, match="from_torch needs an nn.LSTM"):
        FactorizedLSTM.from_lstm(nn.GRU(5, 6))  # type: ignore[arg-type]
