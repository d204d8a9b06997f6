"""Error rates over a whole set, and the warm-up/decay schedule."""

from __future__ import annotations

import io

import jiwer
import pytest
import torch

from deepspeech_tt.training.metrics import ErrorRate
from deepspeech_tt.training.schedule import WarmupCosine, warmup_cosine


def test_error_rates_equal_jiwer_over_the_whole_set_however_batched() -> None:
    refs = ["THE CAT SAT", "ON THE MAT", "A DOG"]
    hyps = ["THE CAT SAT DOWN", "ON MAT", ""]
    wer, cer = ErrorRate("word"), ErrorRate("char")
    for i in range(len(refs)):
        wer.update(refs[i : i + 1], hyps[i : i + 1])
        cer.update(refs[i : i + 1], hyps[i : i + 1])
    assert wer.compute().item() == pytest.approx(jiwer.wer(refs, hyps))
    assert cer.compute().item() == pytest.approx(jiwer.cer(refs, hyps))


def test_schedule_warms_up_to_the_peak_then_decays_to_the_floor() -> None:
    factor = WarmupCosine(total_steps=100, warmup=0.1, final_ratio=0.01)
    assert factor(0) == pytest.approx(1 / 25)
    assert factor(10) == pytest.approx(1.0)
    values = [factor(step) for step in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert factor(100) == pytest.approx(0.01)


def test_scheduler_state_loads_with_weights_only() -> None:
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    scheduler = warmup_cosine(optimizer, total_steps=50, warmup=0.2, final_ratio=0.1)
    for _ in range(7):
        optimizer.step()
        scheduler.step()
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    buffer.seek(0)
    restored = warmup_cosine(optimizer, total_steps=50, warmup=0.2, final_ratio=0.1)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.get_last_lr() == scheduler.get_last_lr()
