import io
import itertools
import math

import numpy as np
import pytest
import torch

from deepspeech_tt.data.batching import DurationBatchSampler

HOP = 0.01


def _durations(n: int = 300, seed: int = 0) -> list[float]:
    """Utterance lengths like a read-speech corpus: 1 to 15 s."""
    return np.random.default_rng(seed).uniform(1.0, 15.0, n).round(2).tolist()


def _sampler(durations: list[float], **kwargs) -> DurationBatchSampler:
    return DurationBatchSampler(durations, max_frames=kwargs.pop("max_frames", 6000), **kwargs)


def _frames(duration: float) -> int:
    return math.ceil(duration / HOP - 1e-6)


@pytest.mark.parametrize("epoch", [0, 1, 2])
def test_batches_respect_budget_and_cover_every_utterance_once(epoch: int) -> None:
    durations = _durations()
    sampler = _sampler(durations)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    for batch in batches:
        assert len(batch) * max(_frames(durations[i]) for i in batch) <= 6000
    assert sorted(itertools.chain.from_iterable(batches)) == list(range(len(durations)))


def test_len_is_exact_for_every_epoch() -> None:
    sampler = _sampler(_durations())
    for epoch in range(4):
        sampler.set_epoch(epoch)
        expected = len(sampler)
        assert len(list(sampler)) == expected


def test_padding_stays_small() -> None:
    durations = _durations(1000)
    sampler = _sampler(durations, max_frames=10_000)
    sampler.set_epoch(1)
    batches = list(sampler)
    used = sum(_frames(durations[i]) for b in batches for i in b)
    padded = sum(len(b) * max(_frames(durations[i]) for i in b) for b in batches)
    assert used / padded > 0.85
    assert used / (len(batches) * 10_000) > 0.8  # and batches fill the budget


def test_sorta_grad_runs_epoch_zero_from_short_to_long() -> None:
    durations = _durations()
    sampler = _sampler(durations)
    longest = [max(durations[i] for i in batch) for batch in sampler]
    assert longest == sorted(longest)
    sampler.set_epoch(1)
    longest = [max(durations[i] for i in batch) for batch in sampler]
    assert longest != sorted(longest)


def test_without_sorta_grad_epoch_zero_is_shuffled() -> None:
    durations = _durations()
    longest = [max(durations[i] for i in b) for b in _sampler(durations, sorta_grad=False)]
    assert longest != sorted(longest)


def test_order_is_a_function_of_seed_and_epoch() -> None:
    durations = _durations()

    def order(seed: int, epoch: int) -> list[list[int]]:
        sampler = _sampler(durations, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0, 1) == order(0, 1)
    assert order(0, 1) != order(0, 2)
    assert order(0, 1) != order(1, 1)


def test_without_shuffle_every_epoch_is_sorted() -> None:
    durations = _durations()
    sampler = _sampler(durations, shuffle=False)
    sampler.set_epoch(3)
    flat = [durations[i] for batch in sampler for i in batch]
    assert flat == sorted(flat)


@pytest.mark.parametrize("replicas", [2, 3])
def test_ddp_shards_are_disjoint_and_equal_in_count(replicas: int) -> None:
    durations = _durations()
    shards = []
    for rank in range(replicas):
        sampler = _sampler(durations, num_replicas=replicas, rank=rank)
        sampler.set_epoch(1)
        shards.append(list(sampler))
        assert len(sampler) == len(shards[-1])
    assert len({len(shard) for shard in shards}) == 1
    seen = [i for shard in shards for batch in shard for i in batch]
    assert len(seen) == len(set(seen))
    single = _sampler(durations)
    single.set_epoch(1)
    left_out = len(single) % replicas
    assert sum(len(shard) for shard in shards) == len(single) - left_out


@pytest.mark.parametrize("replicas", [2, 3, 4])
def test_evaluation_shards_cover_every_batch_once(replicas: int) -> None:
    durations = _durations(63)  # 11 batches: a remainder for 2, 3 and 4 replicas
    single = list(_sampler(durations, shuffle=False))
    assert len(single) % replicas  # some batches would be left out of equal shares
    shards = [list(_sampler(durations, shuffle=False, num_replicas=replicas, rank=rank,
                            equal_shares=False)) for rank in range(replicas)]  # fmt: skip
    assert sorted(map(sorted, itertools.chain(*shards))) == sorted(map(sorted, single))
    assert max(map(len, shards)) - min(map(len, shards)) == 1


@pytest.mark.parametrize("epoch", [0, 2])
def test_resume_mid_epoch_yields_the_remaining_batches(epoch: int) -> None:
    durations = _durations()
    run = _sampler(durations, seed=7)
    run.set_epoch(epoch)
    expected = list(run)
    interrupted = _sampler(durations, seed=7)
    interrupted.set_epoch(epoch)
    done = list(itertools.islice(iter(interrupted), 5))
    buffer = io.BytesIO()
    torch.save(interrupted.state_dict(), buffer)  # it travels in checkpoints
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    resumed = _sampler(durations, seed=7)
    resumed.load_state_dict(state)
    resumed.set_epoch(epoch)  # the trainer's epoch-start call must not restart the epoch
    assert len(resumed) == len(expected)  # the whole epoch: Lightning counts the batches done
    assert resumed.remaining == len(expected) - 5
    assert done + list(resumed) == expected
    resumed.set_epoch(epoch + 1)
    assert len(list(resumed)) == len(resumed) > 0  # the next epoch starts from its beginning


def test_state_records_the_trainers_count_when_given() -> None:
    sampler = _sampler(_durations())
    iterator = iter(sampler)
    for _ in range(6):  # a DataLoader draws ahead of the training loop
        next(iterator)
    resumed = _sampler(_durations())
    resumed.load_state_dict(sampler.state_dict(batches_done=4))
    assert list(resumed) == list(_sampler(_durations()))[4:]


def test_state_from_other_data_is_refused() -> None:
    state = _sampler(_durations(seed=0)).state_dict()
    with pytest.raises(ValueError, match="other durations or settings"):
        _sampler(_durations(seed=1)).load_state_dict(state)


def test_an_utterance_over_the_budget_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"exceed max_frames=1000.*filter_utterances") as error:
        DurationBatchSampler([3.0, 12.5, 4.0], max_frames=1000)
    assert "indices [1]" in str(error.value) and "12.50 s" in str(error.value)


def test_too_few_batches_for_the_replicas_is_an_error() -> None:
    with pytest.raises(ValueError, match="fewer batches than the 4 replicas"):
        DurationBatchSampler([1.0, 1.0], max_frames=1000, num_replicas=4, rank=0)
