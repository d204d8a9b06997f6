"""CTC beam search through flashlight-text, without a language model or with a KenLM word n-gram.

Without an LM the search runs over tokens (flashlight's lexicon-free decoder with a zero LM):
it sums the probabilities of alignments that greedy decoding splits, and never invents words
the acoustic model did not spell. With an LM the search is constrained to a lexicon — the LM's
unigram vocabulary plus any extra words — held in a prefix tree of spellings, and each word
that completes is scored ``lm_weight * log10 P_LM(word | history) + word_score``.

Token layout: the tokenizer's ids are the decoder's token indices; the CTC blank is id 0 and,
for character tokenizers, the space (id 1) is flashlight's word separator ("silence"). Words
are spelled without a trailing separator, so a separator between words is optional and the
last word of an utterance needs none (the models never end a transcript with a space).
The LM needs a character tokenizer; BPE models decode with the lexicon-free search only.

flashlight-text's KenLM reads ARPA text (``make lm`` writes one) and KenLM binaries.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from flashlight.lib.text.decoder import (
    CriterionType,
    LexiconDecoder,
    LexiconDecoderOptions,
    LexiconFreeDecoder,
    LexiconFreeDecoderOptions,
    SmearingMode,
    Trie,
    ZeroLM,
)
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary
from torch import Tensor

from deepspeech_tt.data.tokenizer import CharTokenizer, Tokenizer, TokenizerError
from deepspeech_tt.decoding.lm import LanguageModelError, check_arpa, read_arpa_vocabulary

UNK = "<unk>"


@dataclass(frozen=True)
class BeamSettings:
    """Search settings; the LM ones only matter when an LM is given."""

    beam_size: int = 50  # hypotheses kept per frame
    beam_size_token: int | None = None  # tokens tried per frame (the likeliest); None: all
    beam_threshold: float = 25.0  # drop hypotheses this far (log) below the best
    lm_weight: float = 0.5  # weight of the LM's log10 word probability
    word_score: float = 0.0  # added per word (the word-insertion bonus)
    unk_score: float = -math.inf  # for words outside the lexicon (never, by default)
    sil_score: float = 0.0  # added per word separator

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {self.beam_size}")
        if self.beam_size_token is not None and self.beam_size_token < 1:
            raise ValueError(f"beam_size_token must be at least 1, got {self.beam_size_token}")


class BeamSearchDecoder:
    """Best transcript of each utterance by beam search, optionally with a word LM.

    Args:
        tokenizer: the model's tokenizer (blank at id 0).
        settings: beam and LM settings.
        lm: an ARPA (or KenLM binary) word n-gram model; None searches without an LM.
        extra_words: words added to the lexicon besides the LM's vocabulary (required for a
            KenLM binary, whose vocabulary is not read here).

    Raises:
        LanguageModelError: the LM file is missing or malformed (an ARPA file that fails its
            check, a KenLM binary KenLM cannot load), or the lexicon is empty.
        ValueError: an LM with a non-character tokenizer.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        settings: BeamSettings = BeamSettings(),
        lm: str | Path | None = None,
        extra_words: Iterable[str] = (),
    ) -> None:
        self.tokenizer = tokenizer
        self.settings = settings
        self.blank = tokenizer.blank
        self._decoder: LexiconFreeDecoder | LexiconDecoder
        if lm is None:
            self._decoder = self._lexicon_free()
            self._words: Dictionary | None = None
            return
        if not isinstance(tokenizer, CharTokenizer) or tokenizer.alphabet[:1] != " ":
            raise ValueError("LM decoding needs a character tokenizer whose first symbol is space")
        self._words, self._lm, self._trie = self._load_lm(Path(lm), list(extra_words))
        self._decoder = self._lexicon_decoder()

    def with_settings(self, settings: BeamSettings) -> BeamSearchDecoder:
        """The same decoder with other settings, sharing the loaded LM and lexicon.

        Loading an ARPA model and building the lexicon's prefix tree cost seconds; a search of
        the LM weight and word bonus reuses them for every pair.
        """
        other = copy.copy(self)
        other.settings = settings
        other._decoder = other._lexicon_free() if self._words is None else other._lexicon_decoder()
        return other

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        """Transcripts of a batch.

        Args:
            log_probs: (B, T, V) log-probabilities.
            lengths: (B,) valid frames of each utterance.
        """
        emissions = log_probs.detach().to("cpu", torch.float32)
        texts = []
        for row, length in zip(emissions, lengths.tolist(), strict=True):
            frames = row[:length].contiguous()  # (T, V)
            if length == 0:  # audio too short for one frame: nothing to search
                texts.append("")
                continue
            results = self._decoder.decode(frames.data_ptr(), frames.shape[0], frames.shape[1])
            texts.append(self._text(results[0]) if results else "")
        return texts

    def _text(self, result: object) -> str:
        if self._words is not None:
            words = self._words
            return " ".join(words.get_entry(i) for i in result.words if i >= 0)  # type: ignore[attr-defined]
        merged = (token for token, _ in itertools.groupby(result.tokens))  # type: ignore[attr-defined]
        ids = [token for token in merged if token != self.blank]
        return self.tokenizer.decode(ids).strip()

    def _lexicon_free(self) -> LexiconFreeDecoder:
        s = self.settings
        options = LexiconFreeDecoderOptions(
            beam_size=s.beam_size, beam_size_token=self._tokens_per_frame(),
            beam_threshold=s.beam_threshold, lm_weight=0.0, sil_score=s.sil_score,
            log_add=False, criterion_type=CriterionType.CTC,
        )  # fmt: skip
        return LexiconFreeDecoder(options, ZeroLM(), self._separator(), self.blank, [])

    def _load_lm(self, path: Path, extra: Sequence[str]) -> tuple[Dictionary, KenLM, Trie]:
        check_arpa(path)
        vocabulary = _lexicon(path, extra, self.tokenizer)
        words = Dictionary()
        for word in vocabulary:
            words.add_entry(word)
        words.add_entry(UNK)
        try:
            lm = KenLM(str(path), words)
        except RuntimeError as error:  # KenLM's own checks, e.g. a damaged binary
            reason = _kenlm_reason(error)
            raise LanguageModelError(f"{path}: KenLM cannot load it: {reason}") from None
        return words, lm, self._spellings(vocabulary, words, lm)

    def _lexicon_decoder(self) -> LexiconDecoder:
        assert self._words is not None
        s = self.settings
        options = LexiconDecoderOptions(
            beam_size=s.beam_size, beam_size_token=self._tokens_per_frame(),
            beam_threshold=s.beam_threshold, lm_weight=s.lm_weight, word_score=s.word_score,
            unk_score=s.unk_score, sil_score=s.sil_score, log_add=False,
            criterion_type=CriterionType.CTC,
        )  # fmt: skip
        unk = self._words.get_index(UNK)
        return LexiconDecoder(
            options, self._trie, self._lm, self._separator(), self.blank, unk, [], False
        )

    def _spellings(self, vocabulary: Sequence[str], words: Dictionary, lm: KenLM) -> Trie:
        """The lexicon's prefix tree, each node smeared with its best word's unigram score."""
        trie = Trie(self.tokenizer.vocab_size, self._separator())
        start = lm.start(False)
        for word in vocabulary:
            index = words.get_index(word)
            _, score = lm.score(start, index)
            trie.insert(self.tokenizer.encode(word), index, score)  # spellable: see _lexicon
        trie.smear(SmearingMode.MAX)
        return trie

    def _separator(self) -> int:
        """The word separator's id: the space of a character tokenizer, else the blank."""
        if isinstance(self.tokenizer, CharTokenizer) and self.tokenizer.alphabet[:1] == " ":
            return 1
        return self.blank

    def _tokens_per_frame(self) -> int:
        vocab = self.tokenizer.vocab_size
        return vocab if self.settings.beam_size_token is None else self.settings.beam_size_token


def _lexicon(lm: Path, extra: Sequence[str], tokenizer: Tokenizer) -> list[str]:
    """The LM's words (when it is ARPA text) and ``extra``, each once, that the tokenizer spells.

    Words with characters the tokenizer lacks (digits, accents) can never be recognised, so
    they are left out of the lexicon rather than failing the decode.
    """
    try:
        words = read_arpa_vocabulary(lm)
    except LanguageModelError:
        if not extra:
            raise
        words = []
    seen: dict[str, None] = dict.fromkeys(w for w in [*words, *extra] if _spellable(w, tokenizer))
    if not seen:
        raise LanguageModelError(f"{lm}: no words to build a lexicon from")
    return list(seen)


def _kenlm_reason(error: RuntimeError) -> str:
    """KenLM's explanation without its source location (``read_arpa.cc:62 in ... threw``)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[1:] or lines) or "unknown error"


def _spellable(word: str, tokenizer: Tokenizer) -> bool:
    if not word or " " in word:
        return False
    try:
        tokenizer.encode(word)
    except TokenizerError:
        return False
    return True
