"""Tokenizers: characters or sentencepiece BPE, with the CTC blank at id 0.

``CharTokenizer`` ids: 0 blank, 1 space, 2 apostrophe, 3..28 the letters A..Z (29 in all).

``BpeTokenizer`` is a sentencepiece model trained on the training transcripts; its piece ids
are shifted up by one so that id 0 stays the blank (sentencepiece's own id 0, ``<unk>``,
becomes 1 and never appears in the labels of text it can encode).

Both save to a ``state_dict()`` of plain values (strings and the serialised sentencepiece model
as bytes), which checkpoints hold and ``torch.load(weights_only=True)`` reads;
``tokenizer_from_state`` restores either.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import sentencepiece as spm

from deepspeech_tt.data.errors import DataError
from deepspeech_tt.data.text import ALPHABET, describe_characters

BLANK = 0


class TokenizerError(DataError):
    """Text a tokenizer cannot encode, or a saved tokenizer that cannot be restored."""


class Tokenizer(Protocol):
    blank: int
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: Sequence[int]) -> str: ...
    def state_dict(self) -> dict[str, Any]: ...


class CharTokenizer:
    """One id per character of ``alphabet`` (default: space, apostrophe, A..Z), after the blank."""

    blank = BLANK

    def __init__(self, alphabet: str = " '" + ALPHABET[:26]) -> None:
        if len(set(alphabet)) != len(alphabet):
            raise TokenizerError(f"alphabet {alphabet!r} repeats a character")
        self.alphabet = alphabet
        self._ids = {c: i + 1 for i, c in enumerate(alphabet)}
        self.vocab_size = len(alphabet) + 1

    def encode(self, text: str) -> list[int]:
        try:
            return [self._ids[c] for c in text]
        except KeyError:
            raise _unencodable(text, set(self._ids)) from None

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.alphabet[i - 1] for i in ids if 0 < i <= len(self.alphabet))

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "char", "alphabet": self.alphabet}


class BpeTokenizer:
    """Sentencepiece subwords (BPE or unigram), ids shifted by one for the blank."""

    blank = BLANK

    def __init__(self, model: bytes) -> None:
        self.model = model
        self._sp = spm.SentencePieceProcessor(model_proto=model)
        self.vocab_size = self._sp.get_piece_size() + 1
        self._unk = self._sp.unk_id() + 1
        pieces = (self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size()))
        self._characters = {c for p in pieces for c in p.replace("\u2581", " ")}

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, model_type: str = "bpe") -> BpeTokenizer:
        """A model of ``vocab_size`` ids (blank included) trained on normalised ``texts``."""
        writer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(list(texts)),
                model_writer=writer,
                vocab_size=vocab_size - 1,
                model_type=model_type,
                character_coverage=1.0,
                bos_id=-1,
                eos_id=-1,
                minloglevel=2,
            )
        except RuntimeError as error:
            raise TokenizerError(f"cannot train a {vocab_size}-token BPE model: {error}") from None
        return cls(writer.getvalue())

    def encode(self, text: str) -> list[int]:
        ids = [i + 1 for i in self._sp.encode(text)]
        if self._unk in ids:
            raise _unencodable(text, self._characters | {" "})
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._sp.decode([i - 1 for i in ids if i != BLANK]))

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "bpe", "model": self.model}


def tokenizer_from_state(state: dict[str, Any]) -> CharTokenizer | BpeTokenizer:
    """The tokenizer a ``state_dict()`` was taken from."""
    kind = state.get("kind") if isinstance(state, dict) else None
    if kind == "char":
        return CharTokenizer(state["alphabet"])
    if kind == "bpe":
        return BpeTokenizer(state["model"])
    raise TokenizerError(f"not a saved tokenizer (kind {kind!r}; expected 'char' or 'bpe')")


def _unencodable(text: str, known: set[str]) -> TokenizerError:
    unknown = describe_characters(set(text) - known)
    return TokenizerError(f"characters the tokenizer cannot encode: {unknown} in {text!r}")
