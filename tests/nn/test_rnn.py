"""Every registered cell's layer against its torch layer, across strategies, lengths, packing and
every format: one suite, parametrised by ``case`` over ``cells.CELLS`` plus a toy cell, and by
``strategy`` over ``strategies.STRATEGIES`` plus a toy strategy.

The toy cell, a minimal gated unit (``MGU_CELL`` below), is registered from this file by a
fixture and removed after: it shows that a new cell gets every test by being registered. It has
no torch layer, so the tests that compare with one skip it, saying so. The toy strategy
(``float64``, from ``conftest``) shows the same for a strategy.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepspeech_tt.nn import FactorizedRNN, layer_class
from deepspeech_tt.nn.cells import CELLS, Cell
from deepspeech_tt.nn.cells.base import HiddenProduct
from deepspeech_tt.nn.sequences import States
from deepspeech_tt.nn.strategies import STRATEGIES
from deepspeech_tt.nn.strategies.rates import GATE_OPS
from deepspeech_tt.tensor.registry import FORMATS

STRATEGY_NAMES = [*STRATEGIES, "float64"]  # "float64" is registered by its fixture
assert STRATEGY_NAMES[0] == "reconstruct"  # the reference of the agreement test
FACTORIZED = sorted(set(FORMATS) - {"dense"})
# Small sizes with explicit factor shapes, so that every format has two modes per matrix:
# input 8 = (2, 4); hidden 4 = (2, 2); G gates: G H = (2, 2 G); layer-1 input 8 = (2, 4).
SIZES = dict(input_size=8, hidden_size=4, input_shape=(2, 4), hidden_shape=(2, 2))


def full_rank(fmt: str, gates: int) -> tuple[object, object]:
    """Ranks (input-to-hidden, hidden-to-hidden) at which ``fmt`` holds any matrix of SIZES:
    each format's ``max_rank`` of the G H x 8 and G H x 4 matrices, of shapes (2, 2 G) x (2, 4)
    and (2, 2 G) x (2, 2).
    """
    rows = 4 * gates
    ih = FORMATS[fmt].max_rank(rows, 8, out_shape=(2, 2 * gates), in_shape=(2, 4))
    return ih, FORMATS[fmt].max_rank(rows, 4, out_shape=(2, 2 * gates), in_shape=(2, 2))


class MGUCell(Cell):
    """A minimal gated unit (Zhou et al. 2016) with the GRU's reset-after candidate:
    f = sigmoid(W_f x + U_f h + b), n = tanh(W_n x + f * (U_n h + b_hn)), h' = (1 - f) h + f n.
    """

    name = "MGU"
    gates = ("f", "n")
    states = ("h",)
    gate_ops = GATE_OPS - 2

    def fold_biases(
        self, gates_x: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        gates_x, _ = super().fold_biases(gates_x, bias_ih, None)
        if bias_hh is None:
            return gates_x, None
        hidden = bias_hh.size(0) // 2
        return gates_x + torch.cat([bias_hh[:hidden], bias_hh.new_zeros(hidden)]), bias_hh[hidden:]

    def step(
        self, gates_x: Tensor, state: States, hidden_product: HiddenProduct,
        step_bias: Tensor | None,
    ) -> States:
        h = state[0]
        gates_h = hidden_product(h)  # (B, 2H)
        hidden = h.size(-1)
        f = torch.sigmoid(gates_x[:, :hidden] + gates_h[:, :hidden])
        h_n = gates_h[:, hidden:] if step_bias is None else gates_h[:, hidden:] + step_bias
        n = torch.tanh(gates_x[:, hidden:] + f * h_n)
        return (torch.lerp(h, n, f),)


MGU_CELL = MGUCell()
CELL_NAMES = [*sorted(CELLS), "mgu"]  # "mgu" is registered by the fixture below


@dataclass(frozen=True)
class Case:
    """One registered cell: its layer class and, if it has one, its torch layer."""

    cell: Cell
    layer: type[FactorizedRNN]

    def factorized(self, fmt: str, rank: object = 2, **kwargs: object) -> FactorizedRNN:
        return self.layer(**SIZES, format=fmt, rank=rank, **kwargs).double()  # type: ignore[arg-type]

    def torch(self, **kwargs: object) -> nn.RNNBase:
        if self.cell.torch_rnn is None:
            pytest.skip(f"torch has no counterpart of the {self.cell.name} cell")
        return self.cell.torch_rnn(**kwargs).double()

    def state(self, *shape: int) -> Tensor | tuple[Tensor, ...]:
        """A random initial state as ``forward`` takes it: h_0, or a tuple (h_0, c_0...)."""
        states = tuple(torch.randn(shape, dtype=torch.double) for _ in self.cell.states)
        return states[0] if len(states) == 1 else states


@pytest.fixture
def registered_mgu() -> Iterator[Cell]:
    CELLS["mgu"] = MGU_CELL
    yield MGU_CELL
    del CELLS["mgu"]


@pytest.fixture(params=CELL_NAMES)
def case(request: pytest.FixtureRequest) -> Case:
    if request.param == "mgu":
        request.getfixturevalue("registered_mgu")
    return Case(CELLS[request.param], layer_class(request.param))


@pytest.fixture(params=STRATEGY_NAMES)
def strategy(request: pytest.FixtureRequest) -> str:
    if request.param == "float64":
        request.getfixturevalue("float64_strategy")
    return request.param


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _flat(result: tuple) -> list[Tensor]:
    """(output, state) of forward as [output, h_n(, c_n)]."""
    output, state = result
    return [output, *(state if isinstance(state, tuple) else (state,))]


def _assert_same(got: tuple, want: tuple, **tolerances: float) -> None:
    for ours, theirs in zip(_flat(got), _flat(want), strict=True):
        torch.testing.assert_close(ours, theirs, **tolerances)  # type: ignore[arg-type]


def _packed_result(result: tuple) -> tuple:
    """A packed (output, state) of forward as (padded output, state)."""
    return pad_packed_sequence(result[0])[0], result[1]


def test_the_toy_cell_gets_a_layer_and_leaves_the_registry_as_it_was(
    registered_mgu: Cell,
) -> None:
    layer = layer_class("mgu")
    assert layer.__name__ == "FactorizedMGU" and layer.cell is registered_mgu
    assert layer_class("mgu") is layer  # found again, not made twice
    assert set(CELLS) == {"gru", "lstm", "mgu"}


def test_an_unknown_cell_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown cell 'rnn'; choose one of \['gru', 'lstm'\]"):
        layer_class("rnn")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (1, True), (3, True)])
@pytest.mark.parametrize("with_state", [False, True])
def test_dense_weights_equal_torch(
    case: Case, strategy: str, batch_first: bool, num_layers: int, bidirectional: bool,
    with_state: bool,
) -> None:
    rnn = case.torch(input_size=5, hidden_size=6, num_layers=num_layers, batch_first=batch_first,
                     bidirectional=bidirectional)
    ours = case.layer.from_torch(rnn, format="dense", strategy=strategy)
    x = torch.randn(3, 7, 5, dtype=torch.double)  # (B, T, I) or (T, B, I)
    batch = x.size(0) if batch_first else x.size(1)
    hx = case.state(num_layers * (1 + bidirectional), batch, 6) if with_state else None
    _assert_same(ours(x, hx), rnn(x, hx))


def test_unbatched_input_equals_torch(case: Case, strategy: str) -> None:
    rnn = case.torch(input_size=5, hidden_size=6, bidirectional=True)
    ours = case.layer.from_torch(rnn, format="dense", strategy=strategy)
    x, hx = torch.randn(7, 5, dtype=torch.double), case.state(2, 6)
    _assert_same(ours(x, hx), rnn(x, hx))


@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_packed_sequences_equal_torch(
    case: Case, strategy: str, enforce_sorted: bool, with_state: bool
) -> None:
    rnn = case.torch(input_size=5, hidden_size=6, num_layers=2, bidirectional=True)
    ours = case.layer.from_torch(rnn, format="dense", strategy=strategy)
    lengths = torch.tensor([9, 7, 7, 2]) if enforce_sorted else torch.tensor([4, 9, 1, 7])
    x = torch.randn(9, 4, 5, dtype=torch.double)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    hx = case.state(4, 4, 6) if with_state else None
    got, want = ours(packed, hx), rnn(packed, hx)
    assert torch.equal(got[0].batch_sizes, want[0].batch_sizes)
    _assert_same((got[0].data, got[1]), (want[0].data, want[1]))


@pytest.mark.parametrize("batch_first", [False, True])
def test_padded_batch_equals_each_utterance_alone(
    case: Case, strategy: str, batch_first: bool
) -> None:
    rnn = case.layer(5, 6, num_layers=2, bidirectional=True, batch_first=batch_first,
                     format="dense", strategy=strategy).double()
    lengths = torch.tensor([3, 8, 5])
    utterances = [torch.randn(int(n), 5, dtype=torch.double) for n in lengths]
    padded = nn.utils.rnn.pad_sequence(utterances, batch_first=batch_first, padding_value=7.0)
    output, *finals = _flat(rnn(padded, lengths=lengths))
    if not batch_first:
        output = output.transpose(0, 1)  # (B, T, 2H)
    for b, utterance in enumerate(utterances):
        alone, *alone_finals = _flat(rnn(utterance))  # unbatched: (T_b, 2H), (L * D, H) each
        torch.testing.assert_close(output[b, : lengths[b]], alone)
        for final, alone_final in zip(finals, alone_finals, strict=True):
            torch.testing.assert_close(final[:, b], alone_final)
        assert not output[b, lengths[b] :].any()  # padding comes out zero


def test_lengths_equal_packed_torch_including_gradients(case: Case, strategy: str) -> None:
    """Every final state with lengths (the LSTM's c_n: a closed form) and its gradients."""
    rnn = case.torch(input_size=5, hidden_size=6, num_layers=2, bidirectional=True)
    ours = case.layer.from_torch(rnn, format="dense", strategy=strategy)
    lengths = torch.tensor([2, 6, 4])
    x = torch.randn(6, 3, 5, dtype=torch.double, requires_grad=True)
    expected = _flat(_packed_result(rnn(pack_padded_sequence(x, lengths, enforce_sorted=False))))
    got = _flat(ours(x, lengths=lengths))
    probes = [torch.randn_like(t) for t in got]
    # Dense format: the dense weights are the parameters themselves, in torch's order.
    ours_params = [w for d in ours.direction_weights() for w in d.dense_weights()]
    results = []
    for outputs, params in ((expected, list(rnn.parameters())), (got, ours_params)):
        loss = sum((t * w).sum() for t, w in zip(outputs, probes, strict=True))
        results.append((*outputs, *torch.autograd.grad(loss, [x, *params])))
    for ours_value, theirs in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(ours_value, theirs)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_any_format_equals_torch_holding_its_dense_weights(
    case: Case, fmt: str, strategy: str
) -> None:
    ours = case.factorized(fmt, num_layers=2, bidirectional=True, strategy=strategy)
    if case.cell.torch_rnn is None:
        pytest.skip(f"torch has no counterpart of the {case.cell.name} cell")
    rnn = ours.to_torch()  # each matrix's to_dense()
    x = torch.randn(5, 3, 8, dtype=torch.double)
    lengths = torch.tensor([5, 2, 4])
    _assert_same(ours(x), rnn(x))
    expected = _packed_result(rnn(pack_padded_sequence(x, lengths, enforce_sorted=False)))
    _assert_same(ours(x, lengths=lengths), expected)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("strategy", STRATEGY_NAMES[1:], indirect=True)  # against the first
def test_strategies_agree_on_outputs_and_gradients(
    case: Case, strategy: str, fmt: str, use_lengths: bool
) -> None:
    reconstruct = case.factorized(fmt, num_layers=2, bidirectional=True, strategy="reconstruct")
    other = copy.deepcopy(reconstruct)
    other.set_strategy(strategy)
    lengths = torch.tensor([5, 3]) if use_lengths else None
    x, hx = torch.randn(5, 2, 8, dtype=torch.double), case.state(4, 2, 4)
    results = []
    for rnn in (reconstruct, other):
        xi = x.clone().requires_grad_()
        output, *finals = _flat(rnn(xi, hx, lengths=lengths))
        ramp = torch.linspace(-1, 1, output.numel(), dtype=torch.double).view_as(output)
        loss = (output * ramp).sum() + sum((k + 1) * f.sum() for k, f in enumerate(finals))
        params = [p for _, p in sorted(rnn.named_parameters())]
        results.append((output, *finals, *torch.autograd.grad(loss, [xi, *params])))
    for got, want in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, want)


def test_output_without_final_state_equals_forwards_with_its_gradients(
    case: Case, strategy: str
) -> None:
    rnn = case.factorized("tt", num_layers=2, bidirectional=True, batch_first=True,
                          strategy=strategy)
    x = torch.randn(3, 5, 8, dtype=torch.double, requires_grad=True)  # (B, T, I)
    lengths = torch.tensor([5, 2, 4])
    expected, _ = rnn(x, lengths=lengths)
    output = rnn.output(x, lengths)
    torch.testing.assert_close(output, expected)
    ramp = torch.linspace(-1, 1, output.numel(), dtype=torch.double).view_as(output)
    grads = [torch.autograd.grad((y * ramp).sum(), [x, *rnn.parameters()])
             for y in (expected, output)]
    for got, want in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(got, want)


def test_contract_never_forms_the_dense_matrices(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    rnn = case.factorized(FACTORIZED[0] if FACTORIZED else "dense", bidirectional=True,
                          strategy="contract")

    def forbidden(*_: object) -> None:
        raise AssertionError("contract called to_dense")

    for direction in rnn.direction_weights():
        monkeypatch.setattr(direction.weight_ih, "to_dense", forbidden)
        monkeypatch.setattr(direction.weight_hh, "to_dense", forbidden)
    got = _flat(rnn(torch.randn(4, 2, 8, dtype=torch.double), lengths=torch.tensor([4, 2])))
    sum(t.sum() for t in got).backward()  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_gradcheck_with_lengths(case: Case, fmt: str, strategy: str) -> None:
    rnn = case.factorized(fmt, bidirectional=True, strategy=strategy)
    names = [name for name, _ in rnn.named_parameters()]
    lengths = torch.tensor([3, 1])

    def run(x: Tensor, *params: Tensor) -> Tensor:
        result = functional_call(rnn, dict(zip(names, params, strict=True)), (x,),
                                 {"lengths": lengths})
        return torch.cat([t.flatten() for t in _flat(result)])

    x = torch.randn(3, 2, 8, dtype=torch.double, requires_grad=True)
    params = tuple(p.detach().clone().requires_grad_() for p in rnn.parameters())
    assert torch.autograd.gradcheck(run, (x, *params), fast_mode=True)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_from_torch_at_full_rank_reproduces_it(case: Case, fmt: str) -> None:
    rank, hh_rank = full_rank(fmt, case.cell.num_gates)
    rnn = case.torch(input_size=8, hidden_size=4, num_layers=2, bidirectional=True)
    ours = case.layer.from_torch(rnn, format=fmt, rank=rank, hh_rank=hh_rank,  # type: ignore[arg-type]
                                 input_shape=(2, 4), hidden_shape=(2, 2), layout="separate")
    x = torch.randn(6, 3, 8, dtype=torch.double)
    _assert_same(ours(x), rnn(x), atol=1e-6, rtol=1e-6)
    for name, value in ours.to_torch().state_dict().items():
        torch.testing.assert_close(value, rnn.state_dict()[name], atol=1e-6, rtol=1e-6)


def test_initialisation_is_torchs_for_every_matrix_and_bias(case: Case) -> None:
    rnn = case.layer(400, 10, bidirectional=True, format="dense")  # input 40x the hidden size
    bound = 10**-0.5  # torch: U(-1/sqrt(H), 1/sqrt(H)) everywhere, whatever the input size
    for name, value in rnn.named_parameters():
        assert value.numel() % (10 * case.cell.num_gates) == 0, name  # G H rows
        assert value.abs().max() <= bound, name
        assert value.abs().max() > 0.9 * bound, name
        assert abs(value.std().item() - bound / 3**0.5) < 0.25 * bound, name


def test_parameter_counts_are_exact(case: Case) -> None:
    for bias, layers, bidirectional in ((True, 3, True), (False, 2, False)):
        rnn = case.torch(input_size=5, hidden_size=6, num_layers=layers, bias=bias,
                         bidirectional=bidirectional)
        ours = case.layer.from_torch(rnn, format="dense")
        dense = sum(p.numel() for p in rnn.parameters())
        assert ours.num_parameters() == ours.dense_num_parameters() == dense
        assert ours.compression_ratio() == 1.0


@pytest.mark.parametrize("fmt", FACTORIZED)
def test_factorized_parameters_are_factors_plus_biases(case: Case, fmt: str) -> None:
    rnn = case.factorized(fmt, num_layers=2, bidirectional=True, layout="separate")
    gates = case.cell.num_gates
    factors = sum(
        d.weight_ih.num_parameters() + d.weight_hh.num_parameters()
        for d in rnn.direction_weights()
    )
    assert rnn.num_parameters() == factors + 4 * 2 * gates * 4  # 4 directions, b_ih + b_hh, G H
    assert rnn.compression_ratio() == rnn.dense_num_parameters() / rnn.num_parameters()
    stored_dense = case.factorized("dense", num_layers=2, bidirectional=True).num_parameters()
    assert rnn.dense_num_parameters() == stored_dense
    for direction in rnn.direction_weights():
        assert direction.weight_ih.shape == (4 * gates, 8)
        assert direction.weight_hh.shape == (4 * gates, 4)


def test_auto_reconstructs_dense_weights_and_shows_its_choice(case: Case) -> None:
    rnn = case.layer(5, 6, num_layers=2, format="dense", strategy="auto")
    assert "strategy=auto" in repr(rnn)
    rnn(torch.randn(7, 3, 5))
    assert rnn.last_plan == (3, 7, ("reconstruct", "reconstruct"))
    assert "auto -> reconstruct (last call: batch 3, 7 steps)" in repr(rnn)
    assert f"nn.{case.cell.name}: " in repr(rnn) and "compression 1.0x" in repr(rnn)


@pytest.mark.parametrize("fmt", FACTORIZED)
def test_auto_contracts_a_small_rank_at_batch_one(case: Case, fmt: str) -> None:
    rnn = case.layer(1024, 1024, bidirectional=True, format=fmt, rank=4)
    assert rnn.plan(1, 200, training=False) == ("contract",)


def test_dropout_applies_between_layers_in_training_only(case: Case) -> None:
    rnn = case.torch(input_size=5, hidden_size=6, num_layers=2, dropout=0.5)
    ours = case.layer.from_torch(rnn, format="dense", strategy="contract")
    x = torch.randn(4, 2, 5, dtype=torch.double)
    ours.eval()
    rnn.eval()
    torch.testing.assert_close(ours(x)[0], rnn(x)[0])
    ours.train()
    assert not torch.allclose(ours(x)[0], rnn(x)[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_packed_and_padded_equal_torch(case: Case) -> None:
    rnn = case.torch(input_size=16, hidden_size=32, num_layers=2, bidirectional=True).float()
    rnn = rnn.cuda()
    ours = case.layer.from_torch(rnn, format="dense", strategy="reconstruct")
    x, lengths = torch.randn(5, 3, 16, device="cuda"), torch.tensor([5, 2, 4])
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    got, want = ours(packed), rnn(packed)
    _assert_same((got[0].data, got[1]), (want[0].data, want[1]), atol=1e-5, rtol=1e-4)
    _assert_same(ours(x, lengths=lengths), _packed_result(want), atol=1e-5, rtol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cudnn_takes_reconstructed_weights_without_a_copy(case: Case) -> None:
    rnn = case.layer(16, 32, num_layers=2, bidirectional=True, format="dense",
                     strategy="reconstruct").cuda()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rnn(torch.randn(5, 3, 16, device="cuda"))[0].sum().backward()
    assert not [w for w in caught if "contiguous chunk of memory" in str(w.message)]


# Bad input: one clear error that names the matrix (or argument) and the sizes.


def test_unknown_format_lists_the_known_ones(case: Case) -> None:
    with pytest.raises(ValueError, match=r"unknown tensor format 'ttt'.*'dense'"):
        case.layer(8, 4, format="ttt")


def test_shape_whose_product_is_wrong_names_the_layer_and_sizes(case: Case) -> None:
    message = rf"{case.layer.__name__}: hidden_shape \(2, 3\) multiplies to 6, but hidden_size is 4"
    with pytest.raises(ValueError, match=message):
        case.layer(8, 4, format="dense", hidden_shape=(2, 3))


@pytest.mark.parametrize("fmt", FACTORIZED)
def test_rank_too_large_names_the_layer_and_matrix(case: Case, fmt: str) -> None:
    rows, where = 4 * case.cell.num_gates, "layer 0, forward direction"
    with pytest.raises(ValueError, match=rf"{where}, input-to-hidden \({rows} x 8\)"):
        case.factorized(fmt, rank=10_000, bidirectional=True, layout="separate")
    with pytest.raises(ValueError, match=rf"{where}, hidden-to-hidden \({rows} x 4\)"):
        case.factorized(fmt, rank=2, hh_rank=10_000, bidirectional=True, layout="separate")


def test_bad_strategy_lengths_and_input_are_rejected(case: Case) -> None:
    with pytest.raises(ValueError, match="unknown strategy 'fast'"):
        case.layer(5, 6, format="dense", strategy="fast")
    with pytest.raises(ValueError, match="unknown strategy 'fast'"):
        case.layer(5, 6, format="dense").set_strategy("fast")
    with pytest.raises(ValueError, match="2 entries for 3 layers"):
        case.layer(5, 6, num_layers=3, format="dense", strategy=["contract", "auto"])
    rnn, x = case.layer(5, 6, format="dense"), torch.randn(4, 2, 5)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 4\], got 0..4"):
        rnn(x, lengths=torch.tensor([4, 0]))
    with pytest.raises(RuntimeError, match="Expected 5, got 3"):
        rnn(torch.randn(4, 2, 3))


def test_a_state_of_the_wrong_form_or_size_is_rejected(case: Case) -> None:
    rnn, x = case.layer(5, 6, format="dense"), torch.randn(4, 2, 5)
    states = [torch.zeros(1, 2, 6) for _ in case.cell.states]
    names = ", ".join(f"{name}_0" for name in case.cell.states)
    if len(states) == 1:
        with pytest.raises(TypeError, match=f"hx must be one tensor {names}"):
            rnn(x, (states[0],))
        wrong: Tensor | tuple[Tensor, ...] = torch.zeros(1, 3, 6)
    else:
        with pytest.raises(TypeError, match=rf"hx must be a tuple \({names}\), not one tensor"):
            rnn(x, states[0])
        wrong = (*states[:-1], torch.zeros(1, 3, 6))
    with pytest.raises(RuntimeError, match=r"hidden(\[\d\])? size \(1, 2, 6\), got \(1, 3, 6\)"):
        rnn(x, wrong)


def test_from_torch_refuses_another_torch_layer(case: Case) -> None:
    other = nn.RNN(5, 6)  # the tanh RNN: no registered cell's torch layer
    expected = ("has no torch layer" if case.cell.torch_rnn is None
                else f"from_torch needs an nn.{case.cell.torch_rnn.__name__}")
    with pytest.raises(TypeError, match=expected):
        case.layer.from_torch(other)
