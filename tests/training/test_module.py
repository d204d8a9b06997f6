"""The LightningModule: a non-finite loss is skipped and counted, never trained on."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from deepspeech_tt.training.module import SpeechRecognizer

HOP = 160


class Frames(nn.Module):
    """Audio (B, S) -> frames of HOP samples (B, S // HOP, HOP)."""

    def forward(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        frames = audio[:, : audio.shape[1] // HOP * HOP].reshape(len(audio), -1, HOP)
        return frames, lengths // HOP


class Poisoned(nn.Module):
    """A linear CTC model whose output is NaN while ``poisoned``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(HOP, 5)
        self.poisoned = True

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.linear(x)
        if self.poisoned:
            logits = logits * float("nan")
        return logits.log_softmax(-1), lengths


class Letters:
    def decode(self, ids: list[int]) -> str:
        return "".join("ABCD"[i - 1] for i in ids)

    def state_dict(self) -> dict[str, Any]:
        return {}


def _batches(count: int) -> list[dict[str, Any]]:
    torch.manual_seed(0)
    return [
        {"ids": ["a", "b"], "texts": ["AB", "C"], "audio": torch.randn(2, 40 * HOP),
         "audio_lengths": torch.tensor([40 * HOP, 30 * HOP]),
         "labels": torch.tensor([[1, 2], [3, 0]]), "label_lengths": torch.tensor([2, 1]),
         "num_skipped": 0}
        for _ in range(count)
    ]  # fmt: skip


def _fit(module: SpeechRecognizer, steps: int) -> None:
    trainer = pl.Trainer(
        max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    loader = DataLoader(_batches(steps), batch_size=None)
    trainer.fit(module, train_dataloaders=loader)


def _module(model: Poisoned) -> SpeechRecognizer:
    def sgd(parameters: Any) -> torch.optim.Optimizer:
        return torch.optim.SGD(parameters, lr=0.1)

    return SpeechRecognizer(Frames(), model, Letters(), sgd)


def test_nonfinite_loss_is_skipped_and_counted() -> None:
    model = Poisoned()
    module = _module(model)
    before = [p.detach().clone() for p in model.parameters()]
    _fit(module, steps=3)
    assert module.nonfinite_skipped == 3
    for old, new in zip(before, model.parameters(), strict=True):
        torch.testing.assert_close(old, new)


def test_finite_loss_trains() -> None:
    model = Poisoned()
    model.poisoned = False
    module = _module(model)
    before = model.linear.weight.detach().clone()
    _fit(module, steps=2)
    assert module.nonfinite_skipped == 0
    assert not torch.equal(before, model.linear.weight)
