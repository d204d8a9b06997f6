"""Beam search: without an LM it agrees with greedy decoding; a word LM fixes what acoustics
cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deepspeech_tt.data.tokenizer import BpeTokenizer, CharTokenizer
from deepspeech_tt.decoding.beam import BeamSearchDecoder, BeamSettings
from deepspeech_tt.decoding.lm import LanguageModelError, write_arpa
from deepspeech_tt.evaluation.greedy import greedy_decode

CHARS = CharTokenizer()


def _emissions(frames: list[dict[str, float]]) -> torch.Tensor:
    """(T, V) log-probabilities: each frame's named characters ("" is the blank) get their
    probability, the rest of the mass spread over the other tokens."""
    rows = []
    for frame in frames:
        row = torch.zeros(CHARS.vocab_size)
        for char, p in frame.items():
            row[0 if char == "" else CHARS.encode(char)[0]] = p
        rest = row == 0
        row[rest] = (1 - row.sum()) / rest.sum()
        rows.append(row.log())
    return torch.stack(rows)


def _spoken(text: str, peak: float = 0.9) -> list[dict[str, float]]:
    """A clear utterance: each character for a frame, then a blank frame."""
    return [frame for c in text for frame in ({c: peak}, {"": peak})]


def _batch(*utterances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([u.shape[0] for u in utterances])
    padded = torch.full((len(utterances), int(lengths.max()), CHARS.vocab_size), -30.0)
    for i, u in enumerate(utterances):
        padded[i, : u.shape[0]] = u
    return padded, lengths


@pytest.fixture
def cat_lm(tmp_path: Path) -> Path:
    sentences = ["THE CAT SAT ON THE MAT"] * 20 + ["THE CAT IS BLACK"] * 5 + ["A RED CAP"]
    return write_arpa(sentences, tmp_path / "cats.arpa", order=3)


def test_without_lm_beam_search_agrees_with_greedy_on_a_padded_batch() -> None:
    log_probs, lengths = _batch(_emissions(_spoken("THE CAT SAT")), _emissions(_spoken("A MAT")))
    greedy = [CHARS.decode(ids) for ids in greedy_decode(log_probs, lengths)]
    beam = BeamSearchDecoder(CHARS, BeamSettings(beam_size=8)).decode(log_probs, lengths)
    assert beam == greedy == ["THE CAT SAT", "A MAT"]


def test_the_lm_corrects_an_acoustically_confusable_word(cat_lm: Path) -> None:
    frames = _spoken("THE CA") + [{"P": 0.5, "T": 0.4}, {"": 0.9}] + _spoken(" SAT ON THE MAT")
    log_probs, lengths = _batch(_emissions(frames))
    greedy = CHARS.decode(greedy_decode(log_probs, lengths)[0])
    with_lm = BeamSearchDecoder(CHARS, BeamSettings(lm_weight=1.0), lm=cat_lm)
    assert greedy == "THE CAP SAT ON THE MAT"
    assert with_lm.decode(log_probs, lengths) == ["THE CAT SAT ON THE MAT"]


def test_a_zero_lm_weight_leaves_the_acoustics_in_charge(cat_lm: Path) -> None:
    frames = _spoken("THE CA") + [{"P": 0.5, "T": 0.4}, {"": 0.9}] + _spoken(" SAT")
    log_probs, lengths = _batch(_emissions(frames))
    decoder = BeamSearchDecoder(CHARS, BeamSettings(lm_weight=0.0), lm=cat_lm)
    assert decoder.decode(log_probs, lengths) == ["THE CAP SAT"]  # CAP is in the lexicon


def test_new_settings_reuse_the_loaded_lm_and_decode_as_a_fresh_decoder(cat_lm: Path) -> None:
    frames = _spoken("THE CA") + [{"P": 0.5, "T": 0.4}, {"": 0.9}] + _spoken(" SAT ON THE MAT")
    log_probs, lengths = _batch(_emissions(frames))
    loaded = BeamSearchDecoder(CHARS, BeamSettings(lm_weight=0.0), lm=cat_lm)
    for weight in (1.0, 0.0):  # the LM's choice, then the acoustics' again
        settings = BeamSettings(lm_weight=weight)
        fresh = BeamSearchDecoder(CHARS, settings, lm=cat_lm).decode(log_probs, lengths)
        assert loaded.with_settings(settings).decode(log_probs, lengths) == fresh
    assert loaded.with_settings(BeamSettings(lm_weight=1.0)).decode(log_probs, lengths) == [
        "THE CAT SAT ON THE MAT"]  # fmt: skip
    assert loaded.decode(log_probs, lengths) == ["THE CAP SAT ON THE MAT"]  # unchanged


def test_extra_words_join_the_lexicon(cat_lm: Path) -> None:
    log_probs, lengths = _batch(_emissions(_spoken("THE DOG SAT")))
    plain = BeamSearchDecoder(CHARS, BeamSettings(lm_weight=0.0), lm=cat_lm)
    extended = BeamSearchDecoder(CHARS, BeamSettings(lm_weight=0.0), lm=cat_lm,
                                 extra_words=["DOG"])  # fmt: skip
    assert "DOG" not in plain.decode(log_probs, lengths)[0]
    assert extended.decode(log_probs, lengths) == ["THE DOG SAT"]


def test_a_missing_or_malformed_lm_fails_when_the_decoder_is_built(tmp_path: Path) -> None:
    with pytest.raises(LanguageModelError, match="missing.arpa"):
        BeamSearchDecoder(CHARS, lm=tmp_path / "missing.arpa")
    broken = tmp_path / "broken.arpa"
    broken.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\tTHE\n")
    with pytest.raises(LanguageModelError, match="broken.arpa"):
        BeamSearchDecoder(CHARS, lm=broken)


def test_bpe_models_beam_search_without_an_lm(cat_lm: Path) -> None:
    bpe = BpeTokenizer.train(["THE CAT SAT ON THE MAT"] * 50, vocab_size=30)
    ids = bpe.encode("THE CAT")
    frames = torch.full((2 * len(ids), bpe.vocab_size), -20.0)
    for i, token in enumerate(ids):
        frames[2 * i, token] = 0.0
        frames[2 * i + 1, 0] = 0.0
    log_probs, lengths = frames.log_softmax(-1).unsqueeze(0), torch.tensor([2 * len(ids)])
    assert BeamSearchDecoder(bpe).decode(log_probs, lengths) == ["THE CAT"]
    with pytest.raises(ValueError, match="character tokenizer"):
        BeamSearchDecoder(bpe, lm=cat_lm)
