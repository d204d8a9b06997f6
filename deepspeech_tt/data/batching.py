"""Batches of similar-length utterances under a padded-frame budget, reproducible and resumable.

``DurationBatchSampler`` plans each epoch from the manifest durations alone (no audio is read):
utterances are sorted by length and cut into buckets of equal count; each bucket is shuffled,
and the buckets, in length order, are packed greedily into batches while
``batch size x longest utterance's frames <= max_frames``; the batches are then shuffled.
Padding stays small (a batch only mixes neighbouring lengths) while every epoch sees different
batches in a different order. With SortaGrad (Amodei et al.,
"Deep Speech 2", 2016, section 3.1) epoch 0 runs from the shortest batches to the longest,
which steadies the start of CTC training.

The plan is a pure function of (durations, settings, seed, epoch), so every DDP replica computes
the same one and takes its own share, and a resumed run continues the same order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler


class DurationBatchSampler(Sampler[list[int]]):
    """Yields lists of dataset indices whose padded cost stays within ``max_frames``.

    Use it as a ``DataLoader``'s ``batch_sampler``, and call ``set_epoch(epoch)`` before each
    epoch (Lightning does). An utterance longer than the budget on its own is an error here;
    drop such utterances first with ``filter_utterances(rows, max_duration=...)``.

    Args:
        durations: the length of each utterance in seconds, in dataset order.
        max_frames: the budget: ``len(batch) * max(frames in batch) <= max_frames``, with
            ``frames = ceil(duration / hop_seconds)``.
        hop_seconds: the feature hop, 10 ms for DeepSpeech2's spectrogram.
        num_buckets: how many equal-count length buckets to draw batches from; more buckets
            mean less padding and less randomness.
        shuffle: whether to shuffle at all; ``False`` gives sorted batches (for evaluation).
        sorta_grad: whether epoch 0 runs in increasing length order (when shuffling).
        seed: the seed of the shuffles; the order is a function of (seed, epoch).
        num_replicas: the number of DDP processes sharing the data.
        rank: this process's index among them. Each replica gets every ``num_replicas``-th
            batch, so shares are disjoint. (With Lightning, pass
            ``use_distributed_sampler=False`` to the ``Trainer``: this sampler shards itself.)
        equal_shares: training (True): the last ``len(batches) % num_replicas`` batches of an
            epoch are left out so that all replicas run the same number of steps, as DDP's
            gradient all-reduce needs. Evaluation (False): every batch goes to a replica
            (shares differ by at most one), so that a dev or test score covers every
            utterance.
    """

    def __init__(
        self,
        durations: Sequence[float],
        max_frames: int,
        hop_seconds: float = 0.01,
        num_buckets: int = 16,
        shuffle: bool = True,
        sorta_grad: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        equal_shares: bool = True,
    ) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")
        if num_buckets < 1 or max_frames < 1 or hop_seconds <= 0:
            raise ValueError("num_buckets, max_frames and hop_seconds must be positive")
        super().__init__()
        self.frames = [math.ceil(d / hop_seconds - 1e-6) for d in durations]
        self.max_frames = max_frames
        self.hop_seconds = hop_seconds
        self.num_buckets = num_buckets
        self.shuffle = shuffle
        self.sorta_grad = sorta_grad
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.equal_shares = equal_shares
        self.epoch = 0
        self.start = 0  # where each iteration of this epoch begins (a resumed run's position)
        self.position = 0  # batches of this epoch yielded so far by the newest iteration
        self._check_budget()
        self._cache: tuple[int, list[list[int]]] | None = None
        if len(self._all_batches(0)) < num_replicas:  # a replica without batches would hang DDP
            raise ValueError(
                f"{len(self.frames)} utterances make fewer batches than the "
                f"{num_replicas} replicas sharing them; lower max_frames or add data"
            )

    def _check_budget(self) -> None:
        too_long = [i for i, f in enumerate(self.frames) if f > self.max_frames]
        if too_long:
            longest = max(self.frames[i] for i in too_long) * self.hop_seconds
            raise ValueError(
                f"{len(too_long)} utterance(s) exceed max_frames={self.max_frames} on their own "
                f"(indices {too_long[:5]}{'...' if len(too_long) > 5 else ''}, longest "
                f"{longest:.2f} s); drop them with filter_utterances(rows, max_duration="
                f"{self.max_frames * self.hop_seconds:g}) or raise max_frames"
            )

    def set_epoch(self, epoch: int) -> None:
        """Plan epoch ``epoch`` next. Keeps the start when it is the epoch already loaded."""
        if epoch != self.epoch:
            self.epoch, self.start, self.position = epoch, 0, 0

    def __len__(self) -> int:
        """The number of batches of the current epoch, including those a mid-epoch resume has
        already done (Lightning adds its own count of them, as ``remaining`` says)."""
        return len(self._plan(self.epoch))

    @property
    def remaining(self) -> int:
        """The number of batches the next iteration yields (fewer after a mid-epoch resume)."""
        return len(self._plan(self.epoch)) - self.start

    def __iter__(self) -> Iterator[list[int]]:
        """This epoch's batches from ``start``. Every iteration begins there: a loader may
        start one, prefetch a few batches and drop it, and the next must not skip them."""
        batches = self._plan(self.epoch)
        self.position = self.start
        while self.position < len(batches):
            self.position += 1
            yield list(batches[self.position - 1])
        self.start = self.position = 0  # a finished epoch iterated again repeats itself

    def state_dict(self, batches_done: int | None = None) -> dict[str, Any]:
        """The epoch and the position within it, to continue exactly where a run stopped.

        Args:
            batches_done: how many batches of this epoch the trainer has consumed on this
                replica. A ``DataLoader`` draws batches ahead of the training loop (up to
                ``num_workers * prefetch_factor``), so pass the trainer's own count when
                iterating through one; by default the batches yielded so far.
        """
        position = self.position if batches_done is None else batches_done
        return {"epoch": self.epoch, "position": position, "fingerprint": self._fingerprint()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; a ValueError when it came from different data or settings."""
        if state["fingerprint"] != self._fingerprint():
            raise ValueError(
                "this sampler state was saved with other durations or settings "
                f"({state['fingerprint']} != {self._fingerprint()}); cannot resume its order"
            )
        self.epoch, self.start = int(state["epoch"]), int(state["position"])
        self.position = self.start

    def _fingerprint(self) -> list[int | float | bool]:
        settings = (self.max_frames, self.hop_seconds, self.num_buckets, self.shuffle)
        return [len(self.frames), sum(self.frames), *settings, self.sorta_grad, self.seed,
                self.num_replicas, self.rank, self.equal_shares]  # fmt: skip

    def _plan(self, epoch: int) -> list[list[int]]:
        """This replica's batches of ``epoch``, in order (cached for the current epoch)."""
        if self._cache is None or self._cache[0] != epoch:
            batches = self._all_batches(epoch)
            usable = len(batches)
            if self.equal_shares:
                usable -= len(batches) % self.num_replicas
            self._cache = (epoch, batches[self.rank : usable : self.num_replicas])
        return self._cache[1]

    def _all_batches(self, epoch: int) -> list[list[int]]:
        order = sorted(range(len(self.frames)), key=lambda i: (self.frames[i], i))
        buckets = np.array_split(np.array(order, dtype=np.int64), self.num_buckets)
        if not self.shuffle or (self.sorta_grad and epoch == 0):
            return self._pack(order)
        rng = np.random.default_rng([self.seed, epoch])
        batches = self._pack(np.concatenate([rng.permutation(b) for b in buckets]).tolist())
        return [batches[i] for i in rng.permutation(len(batches))]

    def _pack(self, indices: list[int]) -> list[list[int]]:
        """Greedy packing of ``indices`` in order under the padded-frame budget."""
        batches: list[list[int]] = []
        batch: list[int] = []
        longest = 0
        for i in indices:
            frames = max(longest, self.frames[i])
            if batch and (len(batch) + 1) * frames > self.max_frames:
                batches.append(batch)
                batch, frames = [], self.frames[i]
            batch.append(i)
            longest = frames
        if batch:
            batches.append(batch)
        return batches
