"""What is particular to one cell or to torch's fused operators; the rest is in test_rnn.py."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepspeech_tt.nn import FactorizedLSTM
from deepspeech_tt.nn.cells import CELLS, flat_weight_views


@pytest.mark.parametrize("name", sorted(CELLS))
def test_gates_and_states_follow_torchs_layout(name: str) -> None:
    cell = CELLS[name]
    assert cell.torch_rnn is not None
    torch_rnn = cell.torch_rnn(input_size=3, hidden_size=5)
    assert torch_rnn.weight_ih_l0.shape == (cell.num_gates * 5, 3)  # the gates stacked
    state = torch_rnn(torch.randn(2, 1, 3))[1]
    assert (len(state) if isinstance(state, tuple) else 1) == cell.num_states


def test_lstm_projections_are_refused() -> None:
    with pytest.raises(TypeError, match="from_torch needs an nn.LSTM without projections"):
        FactorizedLSTM.from_torch(nn.LSTM(5, 6, proj_size=3))


def test_flat_weight_views_share_one_buffer_and_pass_gradients() -> None:
    weights = [torch.randn(6, 3, requires_grad=True), torch.randn(6, requires_grad=True)]
    views = flat_weight_views(weights)
    assert views[0].untyped_storage().data_ptr() == views[1].untyped_storage().data_ptr()
    assert views[0].storage_offset() == 0 and views[1].storage_offset() == 18
    (views[0].sum() + 2 * views[1].sum()).backward()
    assert torch.equal(weights[1].grad, torch.full((6,), 2.0))  # type: ignore[arg-type]


def test_flat_weight_views_run_the_fused_operator_unchanged() -> None:
    gru = nn.GRU(input_size=5, hidden_size=6, num_layers=2, bidirectional=True).double()
    weights = [p.detach().clone().requires_grad_() for p in gru.parameters()]  # nn.GRU order
    x, h0 = torch.randn(4, 3, 5, dtype=torch.double), torch.zeros(4, 3, 6, dtype=torch.double)
    results = []
    for layout in (list, flat_weight_views):
        output, h_n = torch.gru(x, h0, layout(weights), True, 2, 0.0, True, True, False)
        results.append((output, *torch.autograd.grad(output.sum() + h_n.sum(), weights)))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
