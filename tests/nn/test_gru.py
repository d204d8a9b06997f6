"""FactorizedGRU against torch.nn.GRU, across strategies, lengths, packing and every format."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepspeech_tt.nn.cells import flat_weight_views
from deepspeech_tt.nn.gru import FactorizedGRU
from deepspeech_tt.nn.gru_cost import dense_gru_parameters
from deepspeech_tt.nn.sequences import reverse_within_lengths
from deepspeech_tt.tensor.registry import FORMATS

STRATEGIES = ["reconstruct", "contract"]
FACTORIZED = sorted(set(FORMATS) - {"dense"})
# Small sizes with explicit factor shapes, so that every format has two modes per matrix:
# input 8 = (2, 4); hidden 4 = (2, 2); gates 12 = (2, 6); layer-1 input 8 = (2, 4).
SIZES = dict(input_size=8, hidden_size=4, input_shape=(2, 4), hidden_shape=(2, 2))
# Ranks at which each format holds any such matrix exactly (input-to-hidden, hidden-to-hidden):
# each is a 4 x 24 or 4 x 12 matrix of modes, of rank 4 (TT bond, CP terms, Tucker core);
# low rank min(12, in).
FULL_RANK: dict[str, tuple[object, object]] = {
    "dense": (1, 1),
    "tt": (4, 4),
    "cp": (4, 4),
    "tucker": (4, 4),
    "lowrank": (8, 4),
    "toeplitz": (12, 12),  # one 12 x 12 block each: 12 x 8 and 12 x 4
    "ht": (4, 4),  # two leaves, each of at most rank 4 (the 4-sized mode)
    "tr": (4, 4),  # every bond at the one TT bond, 4: the TT cores padded into a ring
    "bt": (4, 4),  # the first Tucker block holds the rank-4 matrix, the second fits zero
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _gru(**kwargs: object) -> nn.GRU:
    return nn.GRU(**kwargs).double()


def _with_strategy(gru: FactorizedGRU, strategy: str) -> FactorizedGRU:
    other = copy.deepcopy(gru)
    other.set_strategy(strategy)
    return other


def _factorized(fmt: str, rank: int = 2, **kwargs: object) -> FactorizedGRU:
    gru = FactorizedGRU(**SIZES, format=fmt, rank=rank, **kwargs)  # type: ignore[arg-type]
    return gru.double()


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (1, True), (3, True)])
@pytest.mark.parametrize("with_h0", [False, True])
def test_dense_weights_equal_nn_gru(
    strategy: str, batch_first: bool, num_layers: int, bidirectional: bool, with_h0: bool
) -> None:
    gru = _gru(input_size=5, hidden_size=6, num_layers=num_layers, batch_first=batch_first,
               bidirectional=bidirectional)
    ours = FactorizedGRU.from_gru(gru, format="dense", strategy=strategy)
    x = torch.randn(3, 7, 5, dtype=torch.double)  # (B, T, I) or (T, B, I)
    batch = x.size(0) if batch_first else x.size(1)
    h0 = torch.randn(num_layers * (1 + bidirectional), batch, 6, dtype=torch.double)
    expected, expected_h = gru(x, h0 if with_h0 else None)
    output, h_n = ours(x, h0 if with_h0 else None)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(h_n, expected_h)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_unbatched_input_equals_nn_gru(strategy: str) -> None:
    gru = _gru(input_size=5, hidden_size=6, bidirectional=True)
    ours = FactorizedGRU.from_gru(gru, format="dense", strategy=strategy)
    x, h0 = torch.randn(7, 5, dtype=torch.double), torch.randn(2, 6, dtype=torch.double)
    for got, want in zip(ours(x, h0), gru(x, h0), strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_packed_sequences_equal_nn_gru(strategy: str, enforce_sorted: bool, with_h0: bool) -> None:
    gru = _gru(input_size=5, hidden_size=6, num_layers=2, bidirectional=True)
    ours = FactorizedGRU.from_gru(gru, format="dense", strategy=strategy)
    lengths = torch.tensor([9, 7, 7, 2]) if enforce_sorted else torch.tensor([4, 9, 1, 7])
    x = torch.randn(9, 4, 5, dtype=torch.double)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    h0 = torch.randn(4, 4, 6, dtype=torch.double) if with_h0 else None
    expected, expected_h = gru(packed, h0)
    output, h_n = ours(packed, h0)
    torch.testing.assert_close(output.data, expected.data)
    assert torch.equal(output.batch_sizes, expected.batch_sizes)
    torch.testing.assert_close(h_n, expected_h)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_padded_batch_equals_each_utterance_alone(strategy: str, batch_first: bool) -> None:
    gru = FactorizedGRU(5, 6, num_layers=2, bidirectional=True, batch_first=batch_first,
                        format="dense", strategy=strategy).double()
    lengths = torch.tensor([3, 8, 5])
    utterances = [torch.randn(int(n), 5, dtype=torch.double) for n in lengths]
    padded = nn.utils.rnn.pad_sequence(utterances, batch_first=batch_first, padding_value=7.0)
    output, h_n = gru(padded, lengths=lengths)
    if not batch_first:
        output = output.transpose(0, 1)  # (B, T, 2H)
    for b, utterance in enumerate(utterances):
        alone, alone_h = gru(utterance)  # unbatched: (T_b, 2H), (L * D, H)
        torch.testing.assert_close(output[b, : lengths[b]], alone)
        torch.testing.assert_close(h_n[:, b], alone_h)
        assert not output[b, lengths[b] :].any()  # padding comes out zero


def test_lengths_equal_packed_nn_gru_including_gradients() -> None:
    gru = _gru(input_size=5, hidden_size=6, num_layers=2, bidirectional=True)
    ours = FactorizedGRU.from_gru(gru, format="dense", strategy="reconstruct")
    lengths = torch.tensor([2, 6, 4])
    x = torch.randn(6, 3, 5, dtype=torch.double, requires_grad=True)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    expected, _ = pad_packed_sequence(gru(packed)[0])
    output, _ = ours(x, lengths=lengths)
    torch.testing.assert_close(output, expected)
    weights = torch.randn_like(output)
    (grad_expected,) = torch.autograd.grad((expected * weights).sum(), x)
    (grad_ours,) = torch.autograd.grad((output * weights).sum(), x)
    torch.testing.assert_close(grad_ours, grad_expected)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("use_lengths", [False, True])
def test_strategies_agree_on_outputs_and_gradients(fmt: str, use_lengths: bool) -> None:
    reconstruct = _factorized(fmt, num_layers=2, bidirectional=True, strategy="reconstruct")
    contract = _with_strategy(reconstruct, "contract")
    lengths = torch.tensor([5, 3]) if use_lengths else None
    x = torch.randn(5, 2, 8, dtype=torch.double)
    h0 = torch.randn(4, 2, 4, dtype=torch.double)
    results = []
    for gru in (reconstruct, contract):
        xi = x.clone().requires_grad_()
        output, h_n = gru(xi, h0, lengths=lengths)
        loss = (output * torch.linspace(-1, 1, output.numel()).view_as(output)).sum() + h_n.sum()
        params = [p for _, p in sorted(gru.named_parameters())]
        results.append((output, h_n, *torch.autograd.grad(loss, [xi, *params])))
    for got, want in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, want)


def test_contract_never_forms_the_dense_matrices(monkeypatch: pytest.MonkeyPatch) -> None:
    fmt = FACTORIZED[0] if FACTORIZED else "dense"
    gru = _factorized(fmt, bidirectional=True, strategy="contract")

    def forbidden(*_: object) -> None:
        raise AssertionError("contract called to_dense")

    for direction in gru.direction_weights():
        monkeypatch.setattr(direction.weight_ih, "to_dense", forbidden)
        monkeypatch.setattr(direction.weight_hh, "to_dense", forbidden)
    output, _ = gru(torch.randn(4, 2, 8, dtype=torch.double), lengths=torch.tensor([4, 2]))
    output.sum().backward()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_gradcheck(fmt: str, strategy: str) -> None:
    gru = _factorized(fmt, bidirectional=True, strategy=strategy)
    names = [name for name, _ in gru.named_parameters()]
    lengths = torch.tensor([3, 2])

    def run(x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        output, h_n = functional_call(gru, dict(zip(names, params, strict=True)), (x,),
                                      {"lengths": lengths})
        return torch.cat([output.flatten(), h_n.flatten()])

    x = torch.randn(3, 2, 8, dtype=torch.double, requires_grad=True)
    params = tuple(p.detach().clone().requires_grad_() for p in gru.parameters())
    assert torch.autograd.gradcheck(run, (x, *params), fast_mode=True)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_from_gru_at_full_rank_reproduces_nn_gru(fmt: str) -> None:
    if fmt not in FULL_RANK:
        pytest.fail(f"format {fmt!r} is registered: add its full rank to FULL_RANK")
    gru = _gru(input_size=8, hidden_size=4, num_layers=2, bidirectional=True)
    rank, hh_rank = FULL_RANK[fmt]
    ours = FactorizedGRU.from_gru(gru, format=fmt, rank=rank, hh_rank=hh_rank,  # type: ignore[arg-type]
                                  input_shape=(2, 4), hidden_shape=(2, 2), layout="separate")
    x = torch.randn(6, 3, 8, dtype=torch.double)
    for got, want in zip(ours(x), gru(x), strict=True):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    for name, value in ours.to_gru().state_dict().items():
        torch.testing.assert_close(value, gru.state_dict()[name], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("fmt", FACTORIZED)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_equals_nn_gru_on_its_reconstructed_weights(fmt: str, strategy: str) -> None:
    ours = _factorized(fmt, num_layers=2, bidirectional=True, strategy=strategy)
    gru = ours.to_gru()  # each matrix's to_dense()
    x = torch.randn(6, 3, 8, dtype=torch.double)
    for got, want in zip(ours(x), gru(x), strict=True):
        torch.testing.assert_close(got, want)


def test_initialisation_is_nn_grus_for_every_matrix_and_bias() -> None:
    gru = FactorizedGRU(400, 10, bidirectional=True, format="dense")  # input 40x the hidden size
    bound = 10**-0.5  # nn.GRU: U(-1/sqrt(H), 1/sqrt(H)) everywhere, whatever the input size
    for name, value in gru.named_parameters():
        assert value.abs().max() <= bound, name
        assert value.abs().max() > 0.9 * bound, name
        assert abs(value.std().item() - bound / 3**0.5) < 0.25 * bound, name


def test_parameter_counts_are_exact() -> None:
    gru = _gru(input_size=5, hidden_size=6, num_layers=3, bidirectional=True)
    ours = FactorizedGRU.from_gru(gru, format="dense")
    dense = sum(p.numel() for p in gru.parameters())
    assert ours.num_parameters() == ours.dense_num_parameters() == dense
    assert ours.compression_ratio() == 1.0
    no_bias = nn.GRU(5, 6, num_layers=2, bias=False)
    assert dense_gru_parameters(5, 6, 2, bias=False, bidirectional=False) == sum(
        p.numel() for p in no_bias.parameters()
    )


@pytest.mark.parametrize("fmt", FACTORIZED)
def test_factorized_parameters_are_factors_plus_biases(fmt: str) -> None:
    gru = _factorized(fmt, num_layers=2, bidirectional=True, layout="separate")
    factors = sum(
        d.weight_ih.num_parameters() + d.weight_hh.num_parameters()
        for d in gru.direction_weights()
    )
    assert gru.num_parameters() == factors + 4 * 2 * 3 * 4  # 4 directions, b_ih + b_hh, 3H
    assert gru.compression_ratio() == gru.dense_num_parameters() / gru.num_parameters()


def test_auto_reconstructs_dense_weights_and_shows_its_choice() -> None:
    gru = FactorizedGRU(5, 6, num_layers=2, format="dense", strategy="auto")
    assert "strategy=auto" in repr(gru)
    gru(torch.randn(7, 3, 5))
    assert gru.last_plan == (3, 7, ("reconstruct", "reconstruct"))
    assert "auto -> reconstruct (last call: batch 3, 7 steps)" in repr(gru)
    assert "compression 1.0x" in repr(gru)


@pytest.mark.parametrize("fmt", FACTORIZED)
def test_auto_contracts_a_small_rank_at_batch_one(fmt: str) -> None:
    gru = FactorizedGRU(1024, 1024, bidirectional=True, format=fmt, rank=4)
    assert gru.plan(1, 200, training=False) == ("contract",)


def test_dropout_applies_between_layers_in_training_only() -> None:
    gru = _gru(input_size=5, hidden_size=6, num_layers=2, dropout=0.5)
    ours = FactorizedGRU.from_gru(gru, format="dense", strategy="contract")
    x = torch.randn(4, 2, 5, dtype=torch.double)
    ours.eval()
    gru.eval()
    torch.testing.assert_close(ours(x)[0], gru(x)[0])
    ours.train()
    assert not torch.allclose(ours(x)[0], gru(x)[0])


def test_flat_weight_views_share_one_buffer_and_pass_gradients() -> None:
    weights = [torch.randn(6, 3, requires_grad=True), torch.randn(6, requires_grad=True)]
    views = flat_weight_views(weights)
    assert views[0].untyped_storage().data_ptr() == views[1].untyped_storage().data_ptr()
    assert views[0].storage_offset() == 0 and views[1].storage_offset() == 18
    (views[0].sum() + 2 * views[1].sum()).backward()
    assert torch.equal(weights[1].grad, torch.full((6,), 2.0))  # type: ignore[arg-type]


def test_flat_weight_views_run_the_fused_operator_unchanged() -> None:
    gru = _gru(input_size=5, hidden_size=6, num_layers=2, bidirectional=True)
    weights = [p.detach().clone().requires_grad_() for p in gru.parameters()]  # nn.GRU order
    x, h0 = torch.randn(4, 3, 5, dtype=torch.double), torch.zeros(4, 3, 6, dtype=torch.double)
    results = []
    for layout in (list, flat_weight_views):
        output, h_n = torch.gru(x, h0, layout(weights), True, 2, 0.0, True, True, False)
        results.append((output, *torch.autograd.grad(output.sum() + h_n.sum(), weights)))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_reverse_within_lengths_keeps_padding_in_place() -> None:
    x = torch.arange(8.0).view(4, 2, 1)  # (T, B, 1): column b holds 2t + b
    reversed_ = reverse_within_lengths(x, torch.tensor([4, 2]))
    assert reversed_[:, 0, 0].tolist() == [6.0, 4.0, 2.0, 0.0]
    assert reversed_[:, 1, 0].tolist() == [3.0, 1.0, 5.0, 7.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cudnn_takes_reconstructed_weights_without_a_copy() -> None:
    gru = FactorizedGRU(16, 32, num_layers=2, bidirectional=True, format="dense",
                        strategy="reconstruct").cuda()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gru(torch.randn(5, 3, 16, device="cuda"))[0].sum().backward()
    assert not [w for w in caught if "contiguous chunk of memory" in str(w.message)]


# Bad input: one clear error that names the matrix (or argument) and the sizes.


def test_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown tensor format 'ttt'.*'dense'"):
        FactorizedGRU(8, 4, format="ttt")


def test_shape_whose_product_is_wrong_names_the_sizes() -> None:
    message = r"hidden_shape \(2, 3\) multiplies to 6, but hidden_size is 4"
    with pytest.raises(ValueError, match=message):
        FactorizedGRU(8, 4, format="dense", hidden_shape=(2, 3))


@pytest.mark.parametrize("fmt", FACTORIZED)
def test_rank_too_large_names_the_layer_and_sizes(fmt: str) -> None:
    with pytest.raises(ValueError, match=r"layer 0, forward direction, input-to-hidden \(12 x 8\)"):
        _factorized(fmt, rank=10_000, bidirectional=True, layout="separate")


def test_bad_strategy_lengths_and_state_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'fast'"):
        FactorizedGRU(5, 6, format="dense", strategy="fast")
    with pytest.raises(ValueError, match="unknown strategy 'fast'"):
        FactorizedGRU(5, 6, format="dense").set_strategy("fast")
    with pytest.raises(ValueError, match="2 entries for 3 layers"):
        FactorizedGRU(5, 6, num_layers=3, format="dense", strategy=["contract", "auto"])
    gru = FactorizedGRU(5, 6, format="dense")
    x = torch.randn(4, 2, 5)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 4\], got 0..4"):
        gru(x, lengths=torch.tensor([4, 0]))
    with pytest.raises(RuntimeError, match=r"expected hidden size \(1, 2, 6\)"):
        gru(x, torch.zeros(2, 2, 6))
    with pytest.raises(RuntimeError, match="Expected 5, got 3"):
        gru(torch.randn(4, 2, 3))
