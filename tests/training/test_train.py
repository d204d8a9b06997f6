"""End-to-end training on the generated corpus: learning, checkpoints, TensorBoard, resume, DDP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jiwer
import lightning.pytorch as pl
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from deepspeech_tt.builders import build_model
from deepspeech_tt.builders.data import build_feature_extractor
from deepspeech_tt.checkpoints import CHECKPOINT_KEY, read_checkpoint, submodule_state
from deepspeech_tt.commands.train import train
from deepspeech_tt.config import compose_config, config_from_checkpoint
from deepspeech_tt.data.audio import read_audio
from deepspeech_tt.data.features import FeatureExtractor
from deepspeech_tt.data.manifest import read_manifest
from deepspeech_tt.data.tokenizer import tokenizer_from_state
from deepspeech_tt.evaluation.greedy import greedy_decode

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _scalars(run_dir: Path) -> dict[str, list[float]]:
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_overfitting_a_few_utterances_drives_the_loss_down(
    training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    overrides = ["data.train=[dev]", "rnn=dense", "optim.lr=5e-3", "optim.warmup=0.1",
                 "data.max_frames=8000", "trainer.max_steps=30", "trainer.limit_val_batches=0",
                 "trainer.checkpoint.every_n_steps=0"]  # fmt: skip
    train(compose_config(training_overrides(*overrides)), tmp_path)
    losses = _scalars(tmp_path)["train/loss"]
    assert len(losses) == 30
    assert losses[-1] < 0.4 * losses[0]


def test_tensorboard_has_the_curves_and_hparams(short_run: Path) -> None:
    scalars = _scalars(short_run)
    for tag in (
        "train/loss",
        "val/wer",
        "val/cer",
        "val/loss",
        "lr-AdamW",
        "train/grad_norm",
        "train/audio_seconds_per_second",
        "model/params_total",
        "model/params_rnn",
    ):
        assert scalars.get(tag), tag
    assert len(scalars["val/wer"]) == 2  # every epoch
    assert len(scalars["test/wer"]) == len(scalars["test/cer"]) == 1  # once, after training
    events = EventAccumulator(str(short_run))
    events.Reload()
    assert "_hparams_/session_start_info" in events.summary_metadata
    session = events.summary_metadata["_hparams_/session_start_info"].plugin_data.content
    for name in (b"choice.recipe", b"rnn.rnn_type", b"rnn.format", b"rnn.rank", b"rnn.layout"):
        assert name in session, name  # runs compare side by side by cell, format and rank
    assert "val/examples/text_summary" in events.Tags()["tensors"]


def _recognizer(path: Path) -> tuple[FeatureExtractor, nn.Module, Any, dict[str, Any]]:
    """Features, model and tokenizer rebuilt from a checkpoint alone, and its saved config."""
    checkpoint = read_checkpoint(path)  # weights_only=True
    ours = checkpoint[CHECKPOINT_KEY]
    saved = ours["config"]  # the resolved config: everything is rebuilt from it alone
    cfg = config_from_checkpoint(saved)
    features = build_feature_extractor(cfg.features)
    features.load_state_dict(submodule_state(checkpoint, "features"))
    tokenizer = tokenizer_from_state(ours["tokenizer"])
    model = build_model(cfg, features.feature_dim, tokenizer.vocab_size)
    model.load_state_dict(submodule_state(checkpoint, "model"))
    return features, model.eval(), tokenizer, saved


def test_checkpoint_decodes_with_nothing_else(short_run: Path) -> None:
    checkpoints = short_run / "checkpoints"
    assert (checkpoints / "last.ckpt").is_file()
    assert list(checkpoints.glob("best-*.ckpt"))
    features, model, _, saved = _recognizer(checkpoints / "last.ckpt")
    assert int(features.fitted_frames) > 0
    row = read_manifest(Path(saved["data"]["manifest_dir"]) / "dev.jsonl")[0]
    audio = read_audio(row.audio).unsqueeze(0)
    with torch.no_grad():
        log_probs, lengths = model(*features(audio, torch.tensor([audio.shape[1]])))
    assert torch.isfinite(log_probs).all() and lengths.item() == log_probs.shape[1]


def test_the_test_split_is_scored_with_the_best_checkpoint(short_run: Path) -> None:
    (best,) = (short_run / "checkpoints").glob("best-*.ckpt")
    features, model, tokenizer, saved = _recognizer(best)
    rows = read_manifest(Path(saved["data"]["manifest_dir"]) / "test.jsonl")
    references, hypotheses = [], []
    for row in rows:
        audio = read_audio(row.audio).unsqueeze(0)
        with torch.no_grad():
            log_probs, lengths = model(*features(audio, torch.tensor([audio.shape[1]])))
        references.append(row.text)
        hypotheses.append(tokenizer.decode(greedy_decode(log_probs, lengths)[0]))
    scalars = _scalars(short_run)
    assert scalars["test/wer"][0] == pytest.approx(jiwer.wer(references, hypotheses), abs=1e-6)
    assert scalars["test/cer"][0] == pytest.approx(jiwer.cer(references, hypotheses), abs=1e-6)


def test_summary_reports_the_best_checkpoint_and_its_scores(short_run: Path) -> None:
    summary = json.loads((short_run / "summary.json").read_text())
    scalars = _scalars(short_run)
    best = scalars["val/wer"].index(min(scalars["val/wer"]))
    assert summary["recipe"] == "tiny_tt" and summary["format"] == "tt"
    assert summary["rnn_type"] == "gru" and summary["rnn_label"] == "GRU tt r16 x2"
    assert [layer["format"] for layer in summary["rnn_layers"]] == ["tt", "tt"]
    assert summary["dev_wer"] == pytest.approx(scalars["val/wer"][best])
    assert summary["dev_cer"] == pytest.approx(scalars["val/cer"][best])
    assert summary["test_wer"] == pytest.approx(scalars["test/wer"][0])
    assert summary["params_total"] == scalars["model/params_total"][0]
    assert (short_run / summary["best_checkpoint"]).is_file()


class _Killed(Exception):
    pass


class _KillAtStep(pl.Callback):
    """Stops the run like a kill: at the start of the batch after ``step``, nothing saved."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            raise _Killed


def test_resume_reaches_the_state_of_an_uninterrupted_run(
    training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    # 12 utterances in batches of at most 15 s: several batches an epoch, so the stop at step 3
    # falls inside an epoch and the resumed run crosses an epoch boundary
    overrides = training_overrides(
        "data.max_frames=1500", "trainer.max_steps=7",
        "trainer.limit_val_batches=0", "trainer.checkpoint.every_n_steps=1", "model.dropout=0.2",
        "features.spec_augment.freq_masks=1", "features.spec_augment.time_masks=1",
    )  # fmt: skip
    train(compose_config(overrides), tmp_path / "whole")
    with pytest.raises(_Killed):
        train(compose_config(overrides), tmp_path / "killed", callbacks=[_KillAtStep(3)])
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 3
    train(compose_config([*overrides, f"resume={last}"]), tmp_path / "resumed")
    whole = torch.load(tmp_path / "whole/checkpoints/last.ckpt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed/checkpoints/last.ckpt", weights_only=True)
    assert resumed["global_step"] == whole["global_step"] == 7
    assert resumed["epoch"] == whole["epoch"]
    for name, value in whole["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], value, rtol=0, atol=0, msg=name)
    lr = [s["_last_lr"] for s in (whole["lr_schedulers"][0], resumed["lr_schedulers"][0])]
    assert lr[0] == lr[1]


def test_two_process_ddp_on_cpu_trains(
    training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    overrides = training_overrides(
        "data.max_frames=1500", "trainer.max_steps=3",
        "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
        f"hydra.run.dir={tmp_path}",
    )  # fmt: skip
    result = subprocess.run([sys.executable, "train.py", *overrides], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 3
    assert "world_size=2" in result.stderr or "distributed_backend=gloo" in result.stderr
