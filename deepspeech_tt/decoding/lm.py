"""Word n-gram language models: an interpolated modified Kneser-Ney ARPA writer and checker.

Decisions:

- Pure Python (``Counter`` over word tuples), so ``make lm`` needs no KenLM build tools: the
  embedded corpus' 16k sentences build in 2 s. For corpora of many millions of words, KenLM's
  ``lmplz`` is faster; the ARPA files it writes are read and checked here too.
- The estimate is KenLM ``lmplz``'s (Heafield et al., 2013), i.e. interpolated modified
  Kneser-Ney (Chen & Goodman, 1998). A sentence is ``<s> w1 .. wk </s>`` (one ``<s>``, no
  padding). The highest order keeps raw counts; lower orders use continuation counts (the
  number of distinct words seen before the n-gram), except n-grams starting with ``<s>``,
  which cannot be extended to the left and keep raw counts.
- Three discounts D1, D2, D3+ per order come from that order's counts-of-counts t1..t4:
  ``Dk = k - (k + 1) * Y * t[k+1] / t[k]`` with ``Y = t1 / (t1 + 2 t2)``. Where they are
  undefined or outside (0, k] (tiny corpora), the whole order falls back to lmplz's
  ``--discount_fallback`` values 0.5, 1, 1.5.
- Unigrams are interpolated with the uniform distribution over the vocabulary: every word but
  ``<s>``, with ``</s>`` and ``<unk>``. ``<unk>`` is never counted, so it gets only its uniform
  share of the discounted mass, as in lmplz. ``<s>`` is never predicted: it is written with
  log10 probability -99, as KenLM writes it.
- A context's backoff weight is its interpolation weight (the mass its discounts freed), so the
  ARPA read with the usual backoff rule gives the interpolated probabilities and each context's
  distribution sums to one. Highest-order n-grams, and lower-order ones that are no context
  (those ending in ``</s>``), carry no backoff weight.
- Files are written atomically (``deepspeech_tt.atomic``): a failed run leaves an earlier model.
- Reading checks the whole text ARPA (``\\data\\`` header, counts against section lengths, each
  entry line, ``\\end\\``), plain or gzipped, and a ``LanguageModelError`` names the file, the
  line and the problem. KenLM binary files are recognised by their magic bytes: ``check_arpa``
  accepts them unread; their vocabulary cannot be read here.

CLI::

    python -m deepspeech_tt.decoding.lm --text data/tiny/lm_text.txt --order 3 \\
        --out data/tiny/lm/3gram.arpa
"""

from __future__ import annotations

import argparse
import gzip
import logging
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from deepspeech_tt.atomic import write_text
from deepspeech_tt.errors import UserError

logger = logging.getLogger(__name__)

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
KENLM_MAGIC = b"mmap lm http://kheafield.com/code"
_NEVER = -99.0  # log10 probability written for <s>
_FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)

Ngram = tuple[str, ...]
Discounts = tuple[float, float, float]


class LanguageModelError(UserError):
    """A missing or malformed language model file; the message names the file and the problem."""


def build_arpa(sentences: Iterable[str], order: int = 3) -> str:
    """An interpolated modified Kneser-Ney model of ``sentences`` as ARPA text.

    Args:
        sentences: normalised transcripts; words are whitespace-split, empty lines skipped.
        order: the highest n-gram order (1 or more).

    Returns:
        The ARPA text, ``\\data\\`` to ``\\end\\``.

    Raises:
        ValueError: no words at all, a bad order, or a sentence using ``<s>`` or ``</s>``.
    """
    if order < 1:
        raise ValueError(f"the n-gram order must be 1 or more, not {order}")
    adjusted = _adjust_counts(_count_ngrams(sentences, order))
    probabilities, backoffs = _interpolate(adjusted)
    return "".join(_arpa_lines(probabilities, backoffs))


def write_arpa(sentences: Iterable[str], path: str | Path, order: int = 3) -> Path:
    """Write ``build_arpa(sentences, order)`` to ``path`` atomically; returns the path."""
    return write_text(path, build_arpa(sentences, order))


def _count_ngrams(sentences: Iterable[str], order: int) -> list[Counter[Ngram]]:
    """Raw counts of the 1- to ``order``-grams of ``<s> words </s>``, one Counter per order."""
    counts: list[Counter[Ngram]] = [Counter() for _ in range(order)]
    for number, sentence in enumerate(sentences, 1):
        words = sentence.split()
        if BOS in words or EOS in words:
            raise ValueError(f"sentence {number} uses a reserved token ({BOS} or {EOS})")
        if words:
            tokens = (BOS, *words, EOS)
            for n, counter in enumerate(counts, 1):
                counter.update(tokens[i : i + n] for i in range(len(tokens) - n + 1))
    if not counts[0]:
        raise ValueError("no words to build a language model from")
    logger.info("counted %s", ", ".join(f"{len(c)} {n}-grams" for n, c in enumerate(counts, 1)))
    return counts


def _adjust_counts(raw: list[Counter[Ngram]]) -> list[dict[Ngram, int]]:
    """Kneser-Ney counts of each order (see the module docstring).

    Unigrams come ``<unk>`` (count 0), ``</s>``, then the words in order of appearance; ``<s>``
    is left out, as it is never predicted.
    """
    adjusted: list[dict[Ngram, int]] = [dict(raw[-1])]
    for n in range(len(raw) - 2, -1, -1):
        extensions = Counter(gram[1:] for gram in raw[n + 1])
        adjusted.insert(0, {g: c if g[0] == BOS else extensions[g] for g, c in raw[n].items()})
    unigrams = adjusted[0]
    unigrams.pop((BOS,))
    adjusted[0] = {(UNK,): unigrams.pop((UNK,), 0), (EOS,): unigrams.pop((EOS,)), **unigrams}
    return adjusted


def _discounts(counts: dict[Ngram, int]) -> Discounts:
    """Chen & Goodman's D1, D2, D3+ from the counts-of-counts, or the fallback values."""
    t = Counter(c for c in counts.values() if 1 <= c <= 4)
    if t[1] and t[2] and t[3]:
        y = t[1] / (t[1] + 2 * t[2])
        d1, d2, d3 = (k - (k + 1) * y * t[k + 1] / t[k] for k in (1, 2, 3))
        if 0 < d1 <= 1 and 0 < d2 <= 2 and 0 < d3 <= 3:
            return d1, d2, d3
    return _FALLBACK_DISCOUNTS


def _discount(count: int, discounts: Discounts) -> float:
    return 0.0 if count == 0 else discounts[min(count, 3) - 1]


def _context_weights(
    counts: dict[Ngram, int], discounts: Discounts
) -> tuple[dict[Ngram, int], dict[Ngram, float]]:
    """Each context's total count, and its interpolation weight (discounted mass / total)."""
    totals: defaultdict[Ngram, int] = defaultdict(int)
    freed: defaultdict[Ngram, float] = defaultdict(float)
    for gram, count in counts.items():
        totals[gram[:-1]] += count
        freed[gram[:-1]] += _discount(count, discounts)
    return totals, {context: freed[context] / total for context, total in totals.items()}


def _interpolate(
    adjusted: list[dict[Ngram, int]],
) -> tuple[list[dict[Ngram, float]], list[dict[Ngram, float]]]:
    """Interpolated probabilities of every n-gram, and interpolation weights of every context.

    ``weights[n][h]`` is the weight of context ``h`` (length n) from order n + 1; ``weights[0]``
    holds the unigrams' weight on the uniform distribution.
    """
    probabilities: list[dict[Ngram, float]] = []
    weights: list[dict[Ngram, float]] = []
    lower: dict[Ngram, float] = {}
    uniform = 1 / len(adjusted[0])
    for counts in adjusted:
        discounts = _discounts(counts)
        logger.info("%d-gram discounts %.3f %.3f %.3f", len(next(iter(counts))), *discounts)
        totals, gammas = _context_weights(counts, discounts)
        lower = {
            gram: (count - _discount(count, discounts)) / totals[gram[:-1]]
            + gammas[gram[:-1]] * (lower[gram[1:]] if len(gram) > 1 else uniform)
            for gram, count in counts.items()
        }
        probabilities.append(lower)
        weights.append(gammas)
    return probabilities, weights


def _arpa_lines(
    probabilities: list[dict[Ngram, float]], weights: list[dict[Ngram, float]]
) -> Iterator[str]:
    """ARPA text; ``<s>`` joins the unigrams after ``<unk>`` with log10 probability -99."""
    unigrams = dict(probabilities[0])
    sections = [{(UNK,): unigrams.pop((UNK,)), (BOS,): 0.0, **unigrams}, *probabilities[1:]]
    yield "\\data\\\n"
    yield from (f"ngram {n}={len(grams)}\n" for n, grams in enumerate(sections, 1))
    for n, grams in enumerate(sections, 1):
        yield f"\n\\{n}-grams:\n"
        backoffs = weights[n] if n < len(weights) else {}
        for gram, probability in grams.items():
            log_p = _NEVER if gram == (BOS,) else math.log10(probability)
            line = f"{log_p:.6f}\t{' '.join(gram)}"
            if gram in backoffs:
                line += f"\t{math.log10(backoffs[gram]):.6f}"
            yield line + "\n"
    yield "\n\\end\\\n"


def check_arpa(path: str | Path) -> None:
    """Check that ``path`` is a well-formed ARPA file (plain or gzipped) or a KenLM binary.

    Raises:
        LanguageModelError: the file is missing, or the ARPA is malformed (the message gives
            the line number and the problem).
    """
    if not _is_kenlm_binary(Path(path)):
        _scan_arpa(Path(path))


def read_arpa_vocabulary(path: str | Path) -> list[str]:
    """The unigram words of an ARPA file in file order, without ``<s>``, ``</s>``, ``<unk>``.

    Raises:
        LanguageModelError: the file is missing, malformed, or a KenLM binary (whose word list
            is not readable here: give the decoder a lexicon or word list instead).
    """
    path = Path(path)
    if _is_kenlm_binary(path):
        raise LanguageModelError(
            f"{path}: a KenLM binary model; its vocabulary cannot be read, give a word list"
        )
    words: list[str] = []
    _scan_arpa(path, words)
    return [word for word in words if word not in (BOS, EOS, UNK)]


def _is_kenlm_binary(path: Path) -> bool:
    if not path.is_file():
        raise LanguageModelError(f"{path}: no such language model file")
    with path.open("rb") as f:
        return f.read(len(KENLM_MAGIC)) == KENLM_MAGIC


def _scan_arpa(path: Path, unigrams: list[str] | None = None) -> list[int]:
    """Validate an ARPA file; returns its n-gram counts and appends its unigrams to ``unigrams``."""
    try:
        with _open_text(path) as lines:
            return _ArpaScanner(path, unigrams).scan(lines)
    except UnicodeDecodeError:
        raise LanguageModelError(
            f"{path}: not a language model: neither ARPA text (it is not UTF-8) nor a KenLM "
            "binary (no KenLM header)"
        ) from None
    except (OSError, EOFError) as error:
        raise LanguageModelError(f"{path}: cannot read: {error}") from error


def _open_text(path: Path) -> TextIO:
    with path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8") if gzipped else path.open(encoding="utf-8")


class _ArpaScanner:
    """The ARPA grammar, line by line: header, then ``\\N-grams:`` sections, then ``\\end\\``."""

    def __init__(self, path: Path, unigrams: list[str] | None) -> None:
        self.path, self.unigrams = path, unigrams
        self.declared: list[int] = []  # the header's counts
        self.order = 0  # the section being read; 0 in the header
        self.entries = 0  # entries read in that section
        self.number = 0  # line number

    def fail(self, problem: str) -> LanguageModelError:
        return LanguageModelError(f"{self.path}: line {self.number}: {problem}")

    def scan(self, lines: TextIO) -> list[int]:
        started = False
        for self.number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not started:
                started = line == "\\data\\"  # text before \data\ is allowed
            elif line == "\\end\\":
                self.close_section(final=True)
                return self.declared
            elif line.startswith("\\"):
                self.close_section(final=False)
                self.open_section(line)
            elif line and self.order == 0:
                self.header_line(line)
            elif line:
                self.entry(line.split())
        if not started:
            raise LanguageModelError(f"{self.path}: no \\data\\ header: not an ARPA file")
        raise self.fail(
            f"the file ends without \\end\\ (truncated?), {self.entries} entries into the "
            f"\\{self.order}-grams: section"
        )

    def header_line(self, line: str) -> None:
        name, _, value = line.partition("=")
        if name != f"ngram {len(self.declared) + 1}" or not value.strip().isdigit():
            raise self.fail(f"expected 'ngram {len(self.declared) + 1}=<count>', got '{line}'")
        self.declared.append(int(value))

    def open_section(self, line: str) -> None:
        expected = f"\\{self.order + 1}-grams:"
        if line != expected or self.order >= len(self.declared):
            raise self.fail(f"expected '{expected}' ({len(self.declared)} orders), got '{line}'")
        self.order, self.entries = self.order + 1, 0

    def close_section(self, final: bool) -> None:
        if not self.declared:
            raise self.fail("no 'ngram N=<count>' lines in the \\data\\ header")
        if self.order and self.entries != self.declared[self.order - 1]:
            raise self.fail(
                f"the \\{self.order}-grams: section has {self.entries} entries, "
                f"the header says {self.declared[self.order - 1]}"
            )
        if final and self.order != len(self.declared):
            raise self.fail(f"\\end\\ after {self.order} of {len(self.declared)} sections")

    def entry(self, fields: list[str]) -> None:
        n = self.order
        may_back_off = n < len(self.declared)
        shape_ok = len(fields) == n + 1 or (may_back_off and len(fields) == n + 2)
        if not shape_ok or not _numbers(fields[:1] + fields[n + 1 :]):
            expected = " ".join(["log10(p)"] + ["word"] * n + ["[backoff]"] * may_back_off)
            raise self.fail(f"expected '{expected}', got '{' '.join(fields)}'")
        self.entries += 1
        if n == 1 and self.unigrams is not None:
            self.unigrams.append(fields[1])


def _numbers(fields: list[str]) -> bool:
    try:
        return all(math.isfinite(float(field)) for field in fields)
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> None:
    """The CLI: count the text files, write the ARPA model, print its n-gram counts."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    missing = [str(path) for path in args.text if not path.is_file()]
    if missing:
        sys.exit(f"error: no such text file: {', '.join(missing)} (run `make data` first)")
    try:
        out = write_arpa(_read_lines(args.text, progress=not args.quiet), args.out, args.order)
        counts = _scan_arpa(out)
    except ValueError as error:
        sys.exit(f"error: {error}")
    print(", ".join(f"{count} {n}-grams" for n, count in enumerate(counts, 1)) + f"; wrote {out}")


def _read_lines(paths: list[Path], progress: bool) -> Iterator[str]:
    for path in paths:
        with path.open(encoding="utf-8") as f:
            yield from tqdm(f, desc=path.name, unit=" lines", disable=not progress)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deepspeech_tt.decoding.lm",
        description="Build an interpolated modified Kneser-Ney word n-gram model (ARPA).",
    )
    parser.add_argument("--text", type=Path, action="append", required=True,
                        help="a file of sentences, one a line (repeat for more)")  # fmt: skip
    parser.add_argument("--order", type=int, default=3, help="highest n-gram order")
    parser.add_argument("--out", type=Path, required=True, help="the ARPA file to write")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


if __name__ == "__main__":
    main()
