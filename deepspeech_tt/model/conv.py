"""DeepSpeech2's 2-D convolutional front-end over (time, frequency) features.

Kernels, strides and channels follow Amodei et al. (2016), table 4 ("3-layer 2D": 32, 32, 96
channels; 41x11, 21x11, 21x11 filters; strides 2x2, 2x1, 2x1), written there and in
deepspeech.pytorch as (frequency x time). Here the layout is (B, C, T, F), time before
frequency, so the same kernels read (11 x 41), (11 x 21), (11 x 21) and the strides (2 x 2),
(1 x 2), (1 x 2): time is halved once, frequency at every layer. Padding is half the kernel, as
in deepspeech.pytorch, so a layer of time stride 1 keeps the number of frames.

Each layer is conv -> sequence-wise BatchNorm (over valid frames) -> clipped ReLU min(max(x, 0),
20), and knows how it maps lengths, frequency bins and frame indices; the front-end composes
those, so the RNN input size and the output lengths are never written down a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from torch import Tensor, nn

from deepspeech_tt.model.batchnorm import SequenceBatchNorm
from deepspeech_tt.model.masking import mask_frames

Size = TypeVar("Size", int, Tensor)

RELU_CLIP = 20.0  # DeepSpeech2's clipped ReLU: min(max(x, 0), 20)


@dataclass(frozen=True)
class ConvLayerSpec:
    """One convolution: output channels, kernel and stride as (time, frequency)."""

    channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]


DEEPSPEECH2_CONV = (
    ConvLayerSpec(32, kernel=(11, 41), stride=(2, 2)),
    ConvLayerSpec(32, kernel=(11, 21), stride=(1, 2)),
    ConvLayerSpec(96, kernel=(11, 21), stride=(1, 2)),
)
"""Amodei et al. 2016, table 4, in (time, frequency) order; the first n for n layers."""


def conv_output_size(size: Size, kernel: int, stride: int, padding: int) -> Size:
    """Outputs of a convolution along one axis (``nn.Conv2d``'s formula, no dilation)."""
    return (size + 2 * padding - kernel) // stride + 1


class ConvBlock(nn.Module):
    """Conv2d -> sequence-wise BatchNorm -> clipped ReLU, padded frames kept at zero.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel: (time, frequency) kernel size.
        stride: (time, frequency) stride.

    Shape:
        x: (B, C_in, T, F), lengths: (B,) -> (B, C_out, T', F'), out_lengths: (B,).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: tuple[int, int],
        stride: tuple[int, int],
    ) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.padding = (kernel[0] // 2, kernel[1] // 2)
        # No bias: the BatchNorm's shift follows.
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel, stride=stride, padding=self.padding, bias=False
        )
        self.norm = SequenceBatchNorm(out_channels)
        self.activation = nn.Hardtanh(0.0, RELU_CLIP)

    def output_lengths(self, lengths: Size) -> Size:
        """Output frames of an utterance of ``lengths`` input frames."""
        return conv_output_size(lengths, self.kernel[0], self.stride[0], self.padding[0])

    def output_features(self, num_features: int) -> int:
        """Output frequency bins for ``num_features`` input bins."""
        return conv_output_size(num_features, self.kernel[1], self.stride[1], self.padding[1])

    def last_input_frame(self, frame: int) -> int:
        """The last input frame that output ``frame`` reads (padding included)."""
        return frame * self.stride[0] - self.padding[0] + self.kernel[0] - 1

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = mask_frames(x, lengths, time_dim=2)  # the zeros an utterance alone is padded with
        y = self.conv(x)  # (B, C, T', F')
        out_lengths = self.output_lengths(lengths)
        y = self.norm(y.transpose(1, 2), out_lengths).transpose(1, 2)  # via (B, T', C, F')
        return self.activation(y), out_lengths


class ConvFrontEnd(nn.Module):
    """DeepSpeech2's convolutional front-end: 1 to 3 ``ConvBlock`` over (time, frequency).

    Args:
        num_features: F, frequency bins of the input features.
        num_layers: how many of DeepSpeech2's layers (``DEEPSPEECH2_CONV``) to use.
        time_stride: the first of those layers' stride in time (DeepSpeech2's is 2).
        layers: other layers instead, (time, frequency) order; overrides ``num_layers`` and
            ``time_stride``.

    Attributes:
        output_size: features per output frame, channels x frequency bins (the RNN input size).

    Shape:
        features: (B, T, F), lengths: (B,) -> (B, T', output_size), out_lengths: (B,).
    """

    def __init__(
        self, num_features: int, num_layers: int = 2, time_stride: int = 2,
        layers: tuple[ConvLayerSpec, ...] | None = None,
    ) -> None:
        super().__init__()
        if layers is None:
            if not 1 <= num_layers <= len(DEEPSPEECH2_CONV):
                raise ValueError(
                    f"DeepSpeech2 has 1 to {len(DEEPSPEECH2_CONV)} conv layers, got {num_layers}"
                )
            if time_stride < 1:
                raise ValueError(f"time_stride must be at least 1, got {time_stride}")
            first, *rest = DEEPSPEECH2_CONV[:num_layers]
            stride = (time_stride, first.stride[1])
            layers = (ConvLayerSpec(first.channels, first.kernel, stride), *rest)
        blocks, channels, bins = [], 1, num_features
        for index, spec in enumerate(layers):
            block = ConvBlock(channels, spec.channels, spec.kernel, spec.stride)
            channels, bins = spec.channels, block.output_features(bins)
            if bins < 1:
                raise ValueError(
                    f"conv layer {index} leaves no frequency bins from {num_features} features"
                )
            blocks.append(block)
        self.blocks = nn.ModuleList(blocks)
        self.output_size = channels * bins

    def _block_list(self) -> list[ConvBlock]:
        return [block for block in self.blocks if isinstance(block, ConvBlock)]

    def output_lengths(self, lengths: Size) -> Size:
        """Output frames of utterances of ``lengths`` input frames."""
        for block in self._block_list():
            lengths = block.output_lengths(lengths)
        return lengths

    def last_input_frame(self, frame: int) -> int:
        """The last input frame that output ``frame`` depends on."""
        for block in reversed(self._block_list()):
            frame = block.last_input_frame(frame)
        return frame

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = features.unsqueeze(1)  # (B, 1, T, F)
        for block in self.blocks:
            x, lengths = block(x, lengths)  # (B, C, T', F')
        batch, channels, frames, bins = x.shape
        x = x.transpose(1, 2).reshape(batch, frames, channels * bins)  # (B, T', C * F')
        return x, lengths
