"""A checkpoint written before this code's refactors still decodes as it did when written.

``fixtures/checkpoint-v1.ckpt`` was trained (8 steps, a small TT-GRU model: 1 conv, 2 BiGRU-32,
TT rank 4, global feature statistics) by the toolkit at commit 48b9629, checkpoint format
version 1, without a content digest; ``fixtures/outputs-v1.pt`` holds that code's
log-probabilities for two fixed clips. Formats, cells, strategies and packages have been
rebuilt since; the weights a user trained must give the same outputs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import soundfile
import torch

from deepspeech_tt.decoding.cli import main as decode_main
from deepspeech_tt.decoding.recognizer import load_recognizer
from deepspeech_tt.evaluation.greedy import greedy_decode

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_version_1_checkpoint_gives_the_log_probabilities_it_gave(
    caplog: pytest.LogCaptureFixture,
) -> None:
    expected = torch.load(FIXTURES / "outputs-v1.pt", weights_only=True)
    with caplog.at_level(logging.WARNING):
        recognizer = load_recognizer(FIXTURES / "checkpoint-v1.ckpt")
    assert "no content digest" in caplog.text
    log_probs, lengths = recognizer.log_probs(expected["audio"], expected["lengths"])
    assert torch.equal(lengths, expected["out_lengths"])
    torch.testing.assert_close(log_probs, expected["log_probs"], rtol=0, atol=1e-5)


def test_decode_py_transcribes_with_a_version_1_checkpoint(tmp_path: Path) -> None:
    expected = torch.load(FIXTURES / "outputs-v1.pt", weights_only=True)
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    for i, (clip, length) in enumerate(zip(expected["audio"], expected["lengths"], strict=True)):
        soundfile.write(audio_dir / f"clip{i}.wav", clip[:length].numpy(), 16_000,
                        subtype="FLOAT")  # fmt: skip
    status = decode_main([f"checkpoint={FIXTURES / 'checkpoint-v1.ckpt'}", f"audio={audio_dir}",
                          f"out={tmp_path / 'out'}", "print_transcripts=false"])  # fmt: skip
    assert status == 0
    tokenizer = load_recognizer(FIXTURES / "checkpoint-v1.ckpt").tokenizer
    best = greedy_decode(expected["log_probs"], expected["out_lengths"])
    (transcripts,) = (tmp_path / "out").glob("transcripts-*.txt")
    lines = dict((line.split(" ", 1) + [""])[:2] for line in transcripts.read_text().splitlines())
    assert lines == {f"clip{i}": tokenizer.decode(ids) for i, ids in enumerate(best)}
