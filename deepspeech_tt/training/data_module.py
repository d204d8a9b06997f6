"""Training and dev loaders for Lightning, with the batch order saved in every checkpoint.

Batches come from ``DurationBatchSampler`` (duration buckets under a frame budget, SortaGrad);
it shards itself across DDP processes, so the ``Trainer`` needs ``use_distributed_sampler=False``.
The training loader is stateful: Lightning saves its ``state_dict`` (epoch and batches done)
in each checkpoint and restores it on resume, so a resumed run continues the same batch order
at the batch where it stopped. Exact resume rests on three more things:

- the loader's length is the whole epoch's, also after a mid-epoch resume (Lightning adds the
  batches already done itself; a shorter length ended every later epoch early);
- the trainer rebuilds the training loader every epoch (``reload_dataloaders_every_n_epochs=1``
  in ``builders.trainer``), so that each epoch is as long as its own plan, in a resumed run as
  in an uninterrupted one (plans differ in length by a batch or two);
- training items are fetched by ``(index, epoch)`` keys, so a speed perturbation is drawn from
  ``(seed, epoch, index)`` and not from a worker's random state, which a resumed run's fresh
  workers could not reproduce.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import lightning.pytorch as pl
from lightning.pytorch.loops.progress import _ProcessedTracker
from torch.utils.data import DataLoader, Sampler

from deepspeech_tt.data.batching import DurationBatchSampler
from deepspeech_tt.data.dataset import SpeechDataset, TextEncoder, collate
from deepspeech_tt.data.manifest import Utterance


@dataclass(frozen=True)
class BatchingSettings:
    max_frames: int  # utterances x longest utterance's frames, per batch
    hop_seconds: float = 0.01  # feature hop, for the frame count
    num_buckets: int = 16  # length buckets
    sorta_grad: bool = True  # epoch 0 from the shortest batches to the longest
    num_workers: int = 0  # loader processes
    speed_perturbation: tuple[float, ...] | None = None  # speed factors; None: off
    seed: int = 0  # seeds the batch order


class ResumableLoader(DataLoader):
    """A ``DataLoader`` over a ``DurationBatchSampler`` that follows the trainer's epochs.

    Lightning calls ``set_epoch`` on a loader's ``sampler`` but not on its ``batch_sampler``,
    and stops iterating after ``len(loader)`` batches without exhausting the sampler, so this
    loader tells the sampler the epoch each time an iteration starts. Its ``state_dict`` is the
    sampler's position, which Lightning saves in checkpoints and restores on resume.

    Args:
        progress: the trainer's (epoch, batches of it consumed); the loader itself runs ahead
            of the trainer by its prefetching, so it cannot count them.
    """

    def __init__(self, *args: Any, progress: Callable[[], tuple[int, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress

    def __iter__(self) -> Any:
        self._sampler().set_epoch(self.progress()[0])
        return super().__iter__()

    def __len__(self) -> int:
        return len(self._sampler())

    def state_dict(self) -> dict[str, Any]:
        return self._sampler().state_dict(batches_done=self.progress()[1])

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._sampler().load_state_dict(state_dict)

    def _sampler(self) -> DurationBatchSampler:
        tagged = self.batch_sampler
        assert isinstance(tagged, EpochKeys)
        return tagged.sampler


class EpochKeys(Sampler[list[tuple[int, int]]]):
    """A ``DurationBatchSampler``'s batches as ``(index, epoch)`` dataset keys."""

    def __init__(self, sampler: DurationBatchSampler) -> None:
        self.sampler = sampler

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch = self.sampler.epoch
        for batch in self.sampler:
            yield [(index, epoch) for index in batch]

    def __len__(self) -> int:
        return self.sampler.remaining


class SpeechDataModule(pl.LightningDataModule):
    """Loaders of the training, dev and test manifests.

    Args:
        train: training utterances (already filtered for duration and label fit).
        dev: dev utterances, decoded each validation.
        tokenizer: encodes the transcripts into labels.
        batching: batch budget and loader settings.
        test: held-out utterances, decoded once after training (``trainer.test``).
    """

    def __init__(
        self,
        train: Sequence[Utterance],
        dev: Sequence[Utterance],
        tokenizer: TextEncoder,
        batching: BatchingSettings,
        test: Sequence[Utterance] = (),
    ) -> None:
        super().__init__()
        self.train_rows = list(train)
        self.dev_rows = list(dev)
        self.test_rows = list(test)
        self.tokenizer = tokenizer
        self.batching = batching

    def train_dataloader(self) -> ResumableLoader:
        settings = self.batching
        dataset = SpeechDataset(self.train_rows, self.tokenizer, settings.speed_perturbation,
                                seed=settings.seed)  # fmt: skip
        sampler = EpochKeys(self._sampler(self.train_rows, training=True))
        return ResumableLoader(
            dataset, batch_sampler=sampler, collate_fn=collate, progress=self._progress,
            **self._workers(),
        )  # fmt: skip

    def val_dataloader(self) -> DataLoader:
        return self._evaluation_loader(self.dev_rows)

    def test_dataloader(self) -> DataLoader:
        return self._evaluation_loader(self.test_rows)

    def _evaluation_loader(self, rows: Sequence[Utterance]) -> DataLoader:
        dataset = SpeechDataset(rows, self.tokenizer)
        batches = list(self._sampler(rows, training=False))  # the same every time, every batch
        return DataLoader(dataset, batch_sampler=batches, collate_fn=collate, **self._workers())

    def _sampler(self, rows: Sequence[Utterance], training: bool) -> DurationBatchSampler:
        """Training: shuffled, equal shares per DDP replica; evaluation: sorted, every batch."""
        settings = self.batching
        trainer = self.trainer
        return DurationBatchSampler(
            [row.duration for row in rows],
            max_frames=settings.max_frames,
            hop_seconds=settings.hop_seconds,
            num_buckets=settings.num_buckets,
            shuffle=training,
            sorta_grad=settings.sorta_grad,
            seed=settings.seed,
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            equal_shares=training,
        )

    def _workers(self) -> dict[str, Any]:
        workers = self.batching.num_workers
        return {"num_workers": workers, "persistent_workers": workers > 0}

    def _progress(self) -> tuple[int, int]:
        assert self.trainer is not None
        current = self.trainer.fit_loop.epoch_loop.batch_progress.current
        return self.trainer.current_epoch, cast(_ProcessedTracker, current).processed
