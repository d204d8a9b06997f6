import pytest
import torch

from deepspeech_tt.data.augment import SpecAugment, speed_perturb


def _features() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(4, 300, 80) + 5.0, torch.tensor([300, 200, 120, 40])


def test_eval_mode_is_the_identity() -> None:
    features, lengths = _features()
    augment = SpecAugment().eval()
    assert augment(features, lengths) is features


def test_masks_stay_inside_each_utterance_and_respect_widths() -> None:
    features, lengths = _features()
    augment = SpecAugment(
        freq_masks=2,
        freq_width=10,
        time_masks=3,
        time_width=0.1,
        generator=torch.Generator().manual_seed(0),
    ).train()
    for _ in range(20):
        masked = augment(features, lengths)
        zero = masked == 0
        for i, n in enumerate(lengths.tolist()):
            zero_bins = zero[i, :n].all(0)  # bins masked over every valid frame
            assert zero_bins.sum() <= 2 * 10
            zero_frames = zero[i, :n].all(1)
            assert zero_frames.sum() <= 3 * int(0.1 * n)
            # outside the masks nothing changed, and padding frames were never touched
            untouched = ~zero[i, :n]
            assert torch.equal(masked[i, :n][untouched], features[i, :n][untouched])
            assert torch.equal(masked[i, n:], features[i, n:])


def test_masks_are_drawn_per_call() -> None:
    features, lengths = _features()
    augment = SpecAugment(generator=torch.Generator().manual_seed(1)).train()
    assert not torch.equal(augment(features, lengths), augment(features, lengths))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="time_width"):
        SpecAugment(time_width=1.5)


@pytest.mark.parametrize("factor", [0.9, 1.0, 1.1])
def test_speed_perturbation_changes_length_by_the_factor(factor: float) -> None:
    wave = torch.randn(16000)
    out = speed_perturb(wave, factor)
    assert abs(out.shape[0] - 16000 / factor) <= 1


def test_speed_perturbation_shifts_pitch() -> None:
    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * torch.pi * 500 * t)
    faster = speed_perturb(tone, 1.1)
    peak = torch.fft.rfft(faster).abs().argmax().item() * 16000 / faster.shape[0]
    assert peak == pytest.approx(550, abs=3)
