"""The LightningModule: wires features, model, loss, decoding and metrics; owns none of them.

Each piece lives in its own module (``deepspeech_tt.data.features``, ``deepspeech_tt.model``,
``training.ctc``, ``evaluation.greedy``, ``training.metrics``); this class only says what a
training step and a validation step are, and what a checkpoint carries besides the weights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from deepspeech_tt.checkpoints import CHECKPOINT_KEY, FORMAT_VERSION
from deepspeech_tt.data.dataset import Batch
from deepspeech_tt.evaluation.greedy import greedy_decode
from deepspeech_tt.training.checkpoint import restore_rng, rng_state
from deepspeech_tt.training.ctc import CTCLoss
from deepspeech_tt.training.metrics import ErrorRate

log = logging.getLogger(__name__)

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Any]
"""Parameters -> what ``configure_optimizers`` returns (optimiser and scheduler)."""


class Tokenizer(Protocol):
    def decode(self, ids: list[int]) -> str: ...

    def state_dict(self) -> dict[str, Any]: ...


class SpeechRecognizer(pl.LightningModule):
    """CTC training of an acoustic model on raw-audio batches.

    Args:
        features: ``(audio (B, S), lengths) -> (features (B, T, F), frame lengths)``; its
            buffers (normalisation statistics) are saved with the weights.
        model: ``(features, lengths) -> (log_probs (B, T', V), out_lengths)``.
        tokenizer: turns hypotheses back into text; its state goes into every checkpoint.
        optimizers: builds the optimiser and scheduler for ``configure_optimizers``.
        augment: applied to the features of training batches only (e.g. SpecAugment).
        config: the resolved run configuration (plain dicts), saved in every checkpoint.
        examples: dev transcripts (reference and hypothesis) logged each validation.
        provenance: where the starting weights came from (``init_from``; plain values), saved
            in every checkpoint and kept on resume.
    """

    def __init__(
        self,
        features: nn.Module,
        model: nn.Module,
        tokenizer: Tokenizer,
        optimizers: OptimizerFactory,
        augment: nn.Module | None = None,
        config: dict[str, Any] | None = None,
        examples: int = 3,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.features = features
        self.model = model
        self.augment = augment
        self.loss = CTCLoss(blank=0)
        self.tokenizer = tokenizer
        self.optimizers_factory = optimizers
        self.config = config or {}
        self.num_examples = examples
        self.provenance = provenance
        self.wer = ErrorRate("word")
        self.cer = ErrorRate("char")
        self.nonfinite_skipped = 0  # training batches whose loss was NaN or infinite
        self._examples: list[tuple[str, str]] = []
        self._rng_to_restore: dict[str, Any] | None = None

    def forward(self, audio: Tensor, audio_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Audio (B, S) -> log-probabilities (B, T', V) and their lengths (B,)."""
        features, lengths = self._features(audio, audio_lengths)
        return self.model(features, lengths)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        features, lengths = self._features(batch["audio"], batch["audio_lengths"])
        if self.augment is not None:
            features = self.augment(features, lengths)
        log_probs, out_lengths = self.model(features, lengths)
        out = self.loss(log_probs, out_lengths, batch["labels"], batch["label_lengths"])
        size = len(batch["ids"])
        self.log("train/impossible", float(out.impossible), reduce_fx="sum", batch_size=size)
        if not torch.isfinite(out.loss):
            return self._skip_nonfinite(batch)
        self.log("train/loss", out.loss, prog_bar=True, batch_size=size)
        return out.loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self._log_error_rates("val")
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            self._log_examples()
        self._examples = []

    def on_test_epoch_end(self) -> None:
        self._log_error_rates("test")
        self._examples = []

    def configure_optimizers(self) -> Any:
        return self.optimizers_factory(self.parameters())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "format_version": FORMAT_VERSION,
            "config": self.config,
            "tokenizer": self.tokenizer.state_dict(),
            "rng": rng_state(),
            "nonfinite_skipped": self.nonfinite_skipped,
        }
        if self.provenance is not None:
            checkpoint[CHECKPOINT_KEY]["provenance"] = self.provenance

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        ours = checkpoint[CHECKPOINT_KEY]
        self.nonfinite_skipped = int(ours["nonfinite_skipped"])
        self.provenance = ours.get("provenance", self.provenance)
        self._rng_to_restore = ours["rng"]

    def on_train_start(self) -> None:
        # the random states of a resumed run go back only now, once Lightning has set up the
        # loaders and restored everything else, so the next batch draws what it would have
        if self._rng_to_restore is not None:
            restore_rng(self._rng_to_restore)
            self._rng_to_restore = None

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        # Lightning logs at its count of batches that stepped, which equals the optimiser steps
        # in an uninterrupted run; on a resume it guesses the count from where the checkpoint
        # was saved and, for one saved at an epoch's end, guesses one too many
        self.trainer.fit_loop.epoch_loop._batches_that_stepped = self.global_step

    def _features(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad(), torch.autocast(audio.device.type, enabled=False):
            return self.features(audio.float(), lengths)

    def _evaluate(self, batch: Batch, stage: str) -> None:
        """Loss and greedy transcripts of a dev or test batch, into the error-rate counts."""
        log_probs, out_lengths = self(batch["audio"], batch["audio_lengths"])
        out = self.loss(log_probs, out_lengths, batch["labels"], batch["label_lengths"])
        size = len(batch["ids"])
        self.log(f"{stage}/loss", out.loss, sync_dist=True, batch_size=size)
        hypotheses = [self.tokenizer.decode(ids) for ids in greedy_decode(log_probs, out_lengths)]
        self.wer.update(batch["texts"], hypotheses)
        self.cer.update(batch["texts"], hypotheses)
        room = self.num_examples - len(self._examples)
        self._examples.extend(list(zip(batch["texts"], hypotheses, strict=True))[:room])

    def _log_error_rates(self, stage: str) -> None:
        """``<stage>/wer`` and ``<stage>/cer`` over everything evaluated since the last call."""
        self.log(f"{stage}/wer", self.wer.compute(), prog_bar=True)
        self.log(f"{stage}/cer", self.cer.compute(), prog_bar=True)
        self.wer.reset()
        self.cer.reset()

    def _skip_nonfinite(self, batch: Batch) -> Tensor | None:
        """Count the batch and train on nothing: no step alone, a zero gradient under DDP."""
        self.nonfinite_skipped += 1
        log.warning("non-finite loss at step %d (utterances %s); batch skipped",
                    self.global_step, ", ".join(batch["ids"][:3]))  # fmt: skip
        self.log("train/nonfinite_skipped", float(self.nonfinite_skipped), reduce_fx="max")
        if self.trainer.world_size == 1:
            return None  # Lightning skips backward and the optimiser step
        # every process must run backward for DDP's all-reduce: contribute zeros
        return sum((p.sum() * 0.0 for p in self.parameters() if p.requires_grad),
                   torch.zeros((), device=self.device))  # fmt: skip

    def _log_examples(self) -> None:
        text = "\n".join(f"REF: {ref}\nHYP: {hyp}\n" for ref, hyp in self._examples)
        log.info("step %d dev examples:\n%s", self.global_step, text)
        experiment = getattr(self.logger, "experiment", None)
        if experiment is not None and hasattr(experiment, "add_text"):
            markdown = "\n\n".join(f"REF: `{r}`  \nHYP: `{h}`" for r, h in self._examples)
            experiment.add_text("val/examples", markdown, self.global_step)
