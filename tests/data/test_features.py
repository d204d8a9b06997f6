import math

import numpy as np
import pytest
import torch

from deepspeech_tt.data.features import FeatureExtractor, mel_filterbank


def _reference(wave: np.ndarray, kind: str, win: int = 320, hop: int = 160) -> np.ndarray:
    """float64 log features computed frame by frame with numpy's FFT."""
    window = np.hamming(win)
    n_fft = win if kind == "logspec" else 512
    frames = [wave[s : s + win] * window for s in range(0, len(wave) - win + 1, hop)]
    magnitude = np.abs(np.fft.rfft(np.stack(frames), n=n_fft, axis=1))  # (T, n_fft / 2 + 1)
    if kind == "logspec":
        return np.log1p(magnitude)
    fbank = _reference_mel(n_fft // 2 + 1, 80, 16000)
    return np.log(magnitude**2 @ fbank + 1e-6)


def _reference_mel(n_freqs: int, n_mels: int, rate: int) -> np.ndarray:
    def mel(hz):
        return 2595 * np.log10(1 + hz / 700)

    edges = 700 * (10 ** (np.linspace(0, mel(rate / 2), n_mels + 2) / 2595) - 1)
    freqs = np.linspace(0, rate / 2, n_freqs)
    fbank = np.zeros((n_freqs, n_mels))
    for m in range(n_mels):
        lo, mid, hi = edges[m : m + 3]
        for k, f in enumerate(freqs):
            if lo <= f <= mid:
                fbank[k, m] = (f - lo) / (mid - lo)
            elif mid < f <= hi:
                fbank[k, m] = (hi - f) / (hi - mid)
    return fbank


def _batch(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    audio = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        audio[i, :n] = 0.3 * torch.randn(n, generator=generator)
    return audio, torch.tensor(lengths)


@pytest.mark.parametrize("kind", ["logspec", "logmel"])
def test_features_match_a_float64_reference(kind: str) -> None:
    audio, lengths = _batch([8000])
    features, frames = FeatureExtractor(kind, normalize="none")(audio, lengths)
    expected = _reference(audio[0].double().numpy(), kind)
    assert frames.tolist() == [expected.shape[0]] == [49]
    np.testing.assert_allclose(features[0].numpy(), expected, rtol=1e-4, atol=1e-4)


def test_mel_filterbank_matches_reference() -> None:
    ours = mel_filterbank(257, 80, 16000).double().numpy()
    np.testing.assert_allclose(ours, _reference_mel(257, 80, 16000), atol=1e-6)


def test_mel_bands_that_cover_no_bin_are_an_error() -> None:
    with pytest.raises(ValueError, match="80 mel bands are too many for 161 frequency bins"):
        mel_filterbank(161, 80, 16000)


@pytest.mark.parametrize("kind", ["logspec", "logmel"])
@pytest.mark.parametrize("normalize", ["global", "utterance", "none"])
def test_padded_batch_equals_each_utterance_alone(kind: str, normalize: str) -> None:
    extractor = FeatureExtractor(kind, normalize=normalize)
    audio, lengths = _batch([16000, 5000, 9123, 320])
    if normalize == "global":
        extractor.fit_normalization([(audio, lengths)])
    features, frames = extractor(audio, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone, alone_frames = extractor(audio[i : i + 1, :n], lengths[i : i + 1])
        assert frames[i] == alone_frames[0] == alone.shape[1]
        torch.testing.assert_close(features[i, : frames[i]], alone[0], rtol=1e-5, atol=1e-5)
        assert features[i, frames[i] :].abs().sum() == 0  # padding frames are zero


def test_num_frames() -> None:
    extractor = FeatureExtractor()
    assert [extractor.num_frames(n) for n in (0, 319, 320, 479, 480, 16000)] == [0, 0, 1, 1, 2, 99]
    assert extractor.num_frames(torch.tensor([0, 320, 16000])).tolist() == [0, 1, 99]


def test_global_statistics_normalise_training_audio_and_survive_a_checkpoint(tmp_path) -> None:
    extractor = FeatureExtractor("logmel")
    audio, lengths = _batch([16000, 12000, 7000], seed=1)
    count = extractor.fit_normalization([(audio[:2], lengths[:2]), (audio[2:], lengths[2:])])
    assert count == int(sum(extractor.num_frames(int(n)) for n in lengths))
    features, frames = extractor(audio, lengths)
    valid = torch.cat([features[i, :n] for i, n in enumerate(frames.tolist())])
    torch.testing.assert_close(valid.mean(0), torch.zeros(80), atol=1e-3, rtol=0)
    torch.testing.assert_close(valid.std(0, unbiased=False), torch.ones(80), atol=1e-3, rtol=0)

    torch.save(extractor.state_dict(), tmp_path / "features.pt")
    restored = FeatureExtractor("logmel")
    restored.load_state_dict(torch.load(tmp_path / "features.pt", weights_only=True))
    torch.testing.assert_close(restored(audio, lengths)[0], features)


def test_global_normalisation_without_statistics_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="fit_normalization"):
        FeatureExtractor()(*_batch([4000]))


def test_unknown_options_are_named() -> None:
    with pytest.raises(ValueError, match="unknown feature kind 'mfcc'"):
        FeatureExtractor("mfcc")
    with pytest.raises(ValueError, match="unknown normalization 'batch'"):
        FeatureExtractor(normalize="batch")


def test_bf16_autocast_keeps_features_in_float32() -> None:
    extractor = FeatureExtractor(normalize="utterance")
    audio, lengths = _batch([4000])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features, _ = extractor(audio, lengths)
    assert features.dtype == torch.float32
    torch.testing.assert_close(features, extractor(audio, lengths)[0])


def test_a_tone_peaks_in_its_frequency_bin() -> None:
    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * math.pi * 1000 * t)[None]
    features, _ = FeatureExtractor(normalize="none")(tone, torch.tensor([16000]))
    assert features[0].mean(0).argmax() == 1000 * 320 // 16000  # bin 20
