import pytest
import torch

from deepspeech_tt.data.tokenizer import (
    BpeTokenizer,
    CharTokenizer,
    TokenizerError,
    tokenizer_from_state,
)

TEXTS = [
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "A FUNCTION RETURNS THE VALUE OF ITS LAST EXPRESSION",
    "IT'S NOT WHAT THE MODULE DOES BUT HOW IT IS CALLED",
    "EVERY OBJECT HAS AN IDENTITY A TYPE AND A VALUE",
] * 20


def test_char_ids_and_round_trip() -> None:
    tokenizer = CharTokenizer()
    assert tokenizer.blank == 0 and tokenizer.vocab_size == 29
    assert tokenizer.encode(" 'AZ") == [1, 2, 3, 28]
    for text in TEXTS[:4]:
        assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.decode([0, 3, 0, 4]) == "AB"  # blanks are dropped


def test_unencodable_characters_are_named() -> None:
    named = r"cannot encode: '1' \(U\+0031\), '\u00d8' \(U\+00D8\) in 'H\u00d8LA 1'"
    with pytest.raises(TokenizerError, match=named):
        CharTokenizer().encode("H\u00d8LA 1")


def test_bpe_respects_vocab_size_and_round_trips() -> None:
    tokenizer = BpeTokenizer.train(TEXTS, vocab_size=40)
    assert tokenizer.vocab_size == 40 and tokenizer.blank == 0
    for text in TEXTS[:4]:
        ids = tokenizer.encode(text)
        assert 0 not in ids and max(ids) < 40
        assert tokenizer.decode(ids) == text
    assert len(tokenizer.encode(TEXTS[0])) < len(TEXTS[0])  # subwords, not characters


def test_bpe_names_characters_it_never_saw() -> None:
    tokenizer = BpeTokenizer.train(TEXTS, vocab_size=40)
    named = r"cannot encode: '%' \(U\+0025\), '0' \(U\+0030\), '1' \(U\+0031\) in"
    with pytest.raises(TokenizerError, match=named):
        tokenizer.encode("THE DOG 100%")


def test_bpe_vocab_too_large_for_the_text() -> None:
    with pytest.raises(TokenizerError, match="cannot train a 5000-token BPE model"):
        BpeTokenizer.train(TEXTS, vocab_size=5000)


@pytest.mark.parametrize("make", [CharTokenizer, lambda: BpeTokenizer.train(TEXTS, 40)])
def test_state_survives_a_weights_only_checkpoint(tmp_path, make) -> None:
    tokenizer = make()
    torch.save({"tokenizer": tokenizer.state_dict()}, tmp_path / "ckpt.pt")
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)["tokenizer"]
    restored = tokenizer_from_state(state)
    assert type(restored) is type(tokenizer)
    for text in TEXTS[:4]:
        assert restored.encode(text) == tokenizer.encode(text)


def test_foreign_state_is_rejected() -> None:
    with pytest.raises(TokenizerError, match="not a saved tokenizer"):
        tokenizer_from_state({"vocab": ["a", "b"]})
