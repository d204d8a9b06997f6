import gzip
import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from deepspeech_tt.decoding.lm import (
    _FALLBACK_DISCOUNTS,
    KENLM_MAGIC,
    LanguageModelError,
    _adjust_counts,
    _count_ngrams,
    _discounts,
    build_arpa,
    check_arpa,
    main,
    read_arpa_vocabulary,
    write_arpa,
)

Ngram = tuple[str, ...]
Model = list[dict[Ngram, tuple[float, float]]]  # per order: n-gram -> (log10 p, log10 backoff)

TINY = ["THE CAT SAT", "THE DOG SAT", "", "THE CAT RAN AWAY"]


def _random_corpus(sentences: int = 300, seed: int = 0) -> list[str]:
    """Zipf-like sentences over 40 words: counts-of-counts that give estimated discounts."""
    rng = random.Random(seed)
    words = [f"W{rank}" for rank in range(40)]
    weights = [1 / (rank + 1) ** 1.5 for rank in range(len(words))]
    return [" ".join(rng.choices(words, weights, k=rng.randint(1, 7))) for _ in range(sentences)]


CORPORA = {"tiny": TINY, "random": _random_corpus()}


def _parse(text: str) -> Model:
    """An independent reading of ARPA text (our own reader only validates)."""
    model: Model = []
    for line in text.splitlines():
        if line.startswith("\\") and line.endswith("-grams:"):
            model.append({})
        elif model and line and not line.startswith("\\"):
            fields = line.split("\t")
            backoff = float(fields[2]) if len(fields) == 3 else 0.0
            model[-1][tuple(fields[1].split())] = (float(fields[0]), backoff)
    return model


def _log10_prob(model: Model, history: Ngram, word: str) -> float:
    """The ARPA backoff rule: p(w | h) if listed, else backoff(h) * P(w | h minus its first)."""
    history = history[max(0, len(history) - len(model) + 1) :] if len(model) > 1 else ()
    gram = (*history, word)
    if gram in model[len(gram) - 1]:
        return model[len(gram) - 1][gram][0]
    backoff = model[len(history) - 1].get(history, (0.0, 0.0))[1]
    return backoff + _log10_prob(model, history[1:], word)


def _vocabulary(model: Model) -> list[str]:
    return [gram[0] for gram in model[0] if gram != ("<s>",)]


def _distinct_ngrams(sentences: list[str], order: int) -> list[set[Ngram]]:
    grams: list[set[Ngram]] = [set() for _ in range(order)]
    grams[0].add(("<unk>",))
    for sentence in filter(None, sentences):
        tokens = ("<s>", *sentence.split(), "</s>")
        for n in range(1, order + 1):
            grams[n - 1].update(tokens[i : i + n] for i in range(len(tokens) - n + 1))
    return grams


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_every_context_distribution_sums_to_one(corpus: str, order: int) -> None:
    model = _parse(build_arpa(CORPORA[corpus], order))
    vocabulary = _vocabulary(model)
    contexts = [(), *(gram for grams in model[:-1] for gram in grams if gram[-1] != "</s>")]
    for context in contexts:
        total = sum(10 ** _log10_prob(model, context, word) for word in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-4), context


def test_random_corpus_estimates_its_discounts() -> None:
    """The normalisation test above then covers estimated discounts as well as the fallback."""
    adjusted = _adjust_counts(_count_ngrams(CORPORA["random"], 3))
    assert all(_discounts(counts) != _FALLBACK_DISCOUNTS for counts in adjusted)
    assert _discounts(_adjust_counts(_count_ngrams(TINY, 3))[2]) == _FALLBACK_DISCOUNTS


def test_discounts_follow_chen_and_goodman() -> None:
    counts = {(str(i),): c for i, c in enumerate([1] * 10 + [2] * 4 + [3] * 3 + [4] * 2)}
    y = 10 / (10 + 2 * 4)
    expected = (1 - 2 * y * 4 / 10, 2 - 3 * y * 3 / 4, 3 - 4 * y * 2 / 3)
    assert _discounts(counts) == pytest.approx(expected)


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_counts_are_the_distinct_ngrams_of_the_text(corpus: str, tmp_path: Path) -> None:
    text = build_arpa(CORPORA[corpus], 3)
    header = [int(line.split("=")[1]) for line in text.splitlines() if line.startswith("ngram ")]
    model = _parse(text)
    distinct = _distinct_ngrams(CORPORA[corpus], 3)
    assert header == [len(grams) for grams in model] == [len(grams) for grams in distinct]
    assert [set(grams) for grams in model] == distinct
    assert model[0][("<s>",)][0] == -99
    assert all(backoff == 0.0 for _, backoff in model[2].values())  # none at the top order


def test_unigrams_use_continuation_counts() -> None:
    """THE follows only <s> (3 times), SAT follows CAT and DOG: Kneser-Ney ranks SAT higher.

    Continuation counts (</s> 2, SAT 2, the other five words 1) total 9; the fallback discounts
    free 5 * 0.5 + 2 * 1.0 = 4.5 for the uniform distribution over the 8 words (with <unk>).
    """
    unigrams = _parse(build_arpa(TINY, 3))[0]
    assert unigrams[("THE",)][0] == pytest.approx(math.log10(0.5 / 9 + 4.5 / 9 / 8), abs=1e-6)
    assert unigrams[("SAT",)][0] == pytest.approx(math.log10(1.0 / 9 + 4.5 / 9 / 8), abs=1e-6)
    assert unigrams[("<unk>",)][0] == pytest.approx(math.log10(4.5 / 9 / 8), abs=1e-6)


def test_seen_trigram_beats_unseen_continuation() -> None:
    model = _parse(build_arpa(TINY, 3))
    seen = _log10_prob(model, ("THE", "CAT"), "SAT")
    assert seen > _log10_prob(model, ("THE", "CAT"), "DOG")  # DOG follows THE, never CAT
    assert seen > _log10_prob(model, ("THE", "CAT"), "<unk>")


def test_kenlm_scores_agree_with_the_arpa(tmp_path: Path) -> None:
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    path = write_arpa(CORPORA["random"], tmp_path / "3gram.arpa")
    model = _parse(path.read_text())
    dictionary = Dictionary()
    for word in [*read_arpa_vocabulary(path), "<unk>"]:
        dictionary.add_entry(word)
    lm = KenLM(str(path), dictionary)
    state, history = lm.start(False), ("<s>",)
    sentence = ["W0", "W1", "W0", "W3", "W3", "W3", "W20", "<unk>", "W2"]  # seen and unseen
    for word in sentence:
        state, score = lm.score(state, dictionary.get_index(word))
        # flashlight passes KenLM's log10 score through unchanged (not natural log)
        assert score == pytest.approx(_log10_prob(model, history, word), abs=1e-4), word
        history = (*history, word)
    _, score = lm.finish(state)
    assert score == pytest.approx(_log10_prob(model, history, "</s>"), abs=1e-4)


def test_vocabulary_in_file_order_plain_and_gzipped(tmp_path: Path) -> None:
    path = write_arpa(TINY, tmp_path / "lm.arpa")
    zipped = tmp_path / "lm.arpa.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    expected = ["THE", "CAT", "SAT", "DOG", "RAN", "AWAY"]
    assert read_arpa_vocabulary(path) == read_arpa_vocabulary(zipped) == expected
    check_arpa(zipped)


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_replace("\\end\\\n", ""), "line 38: the file ends without \\end\\"),
        (lambda text: text[: text.index("-0.100506\tDOG")], "5 entries into the \\3-grams:"),
        (_replace("ngram 2=9", "ngram 2=10"), "section has 9 entries, the header says 10"),
        (_replace("\\data\\", "data"), "no \\data\\ header"),
        (_replace("-0.510002\tTHE CAT", "x\tTHE CAT"), "line 19: expected 'log10(p) word word"),
        (_replace("CAT SAT </s>", "CAT SAT </s>\t-0.2"), "line 31: expected 'log10(p) word"),
        (_replace("\\3-grams:", "\\4-grams:"), "expected '\\3-grams:'"),
    ],
)
def test_malformed_arpa_is_named(tmp_path: Path, edit: Callable[[str], str], message: str) -> None:
    path = tmp_path / "broken.arpa"
    path.write_text(edit(build_arpa(TINY, 3)))
    for read in (check_arpa, read_arpa_vocabulary):
        with pytest.raises(LanguageModelError, match="broken.arpa") as error:
            read(path)
        assert message in str(error.value)


def test_missing_file_and_kenlm_binary(tmp_path: Path) -> None:
    with pytest.raises(LanguageModelError, match="no such language model file"):
        check_arpa(tmp_path / "absent.arpa")
    binary = tmp_path / "lm.bin"
    binary.write_bytes(KENLM_MAGIC + b"\0" * 64)
    check_arpa(binary)
    with pytest.raises(LanguageModelError, match="KenLM binary"):
        read_arpa_vocabulary(binary)


def test_failed_write_keeps_the_earlier_model(tmp_path: Path) -> None:
    path = write_arpa(TINY, tmp_path / "lm.arpa")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="sentence 2 uses a reserved token"):
        write_arpa(["THE CAT", "THE </s> CAT"], path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_cli_writes_the_model_and_reports_counts(tmp_path: Path, capsys) -> None:
    text = tmp_path / "lm_text.txt"
    text.write_text("\n".join(TINY) + "\n")
    main(["--text", str(text), "--text", str(text), "--out", str(tmp_path / "lm/3.arpa")])
    assert "9 1-grams, 9 2-grams, 9 3-grams" in capsys.readouterr().out
    check_arpa(tmp_path / "lm/3.arpa")


def test_cli_missing_text_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "lm" / "3gram.arpa"
    with pytest.raises(SystemExit, match="no such text file: .*absent.txt .*make data"):
        main(["--text", str(tmp_path / "absent.txt"), "--out", str(out), "--quiet"])
    assert not out.parent.exists()
