"""Parameter counts of torch's dense recurrent layers, which compression ratios divide by."""

from __future__ import annotations


def dense_gru_parameters(
    input_size: int, hidden_size: int, num_layers: int, *, bias: bool, bidirectional: bool
) -> int:
    """The parameter count of ``nn.GRU`` with these sizes."""
    return dense_rnn_parameters(
        input_size, hidden_size, num_layers, gates=3, bias=bias, bidirectional=bidirectional
    )


def dense_lstm_parameters(
    input_size: int, hidden_size: int, num_layers: int, *, bias: bool, bidirectional: bool
) -> int:
    """The parameter count of ``nn.LSTM`` (without projections) with these sizes."""
    return dense_rnn_parameters(
        input_size, hidden_size, num_layers, gates=4, bias=bias, bidirectional=bidirectional
    )


def dense_rnn_parameters(
    input_size: int, hidden_size: int, num_layers: int, *, gates: int, bias: bool,
    bidirectional: bool,
) -> int:
    """The parameter count of a torch RNN of ``gates`` gate blocks (GRU 3, LSTM 4)."""
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        inputs = input_size if layer == 0 else hidden_size * directions
        per_direction = gates * hidden_size * (inputs + hidden_size)
        if bias:
            per_direction += 2 * gates * hidden_size
        total += directions * per_direction
    return total
