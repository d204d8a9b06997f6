"""Scores and result files of a decode, in icefall's layout.

For a decode named ``<name>`` (e.g. ``test-beam_lm``), in the output directory::

    transcripts-<name>.txt   "<utterance id> <hypothesis>" lines (Kaldi ``text`` format)
    recogs-<name>.txt        "<id>:\tref=<reference>" and "<id>:\thyp=<hypothesis>" lines
    errs-<name>.txt          the WER line, then each utterance's alignment, errors marked as
                             (REF->HYP), (REF->*) for deletions and (*->HYP) for insertions
    wer-summary-<name>.txt   "%WER", "%CER" and the error counts
    skipped-<name>.tsv       what was left out: "utterance<TAB>where<TAB>reason" lines under
                             a header (unreadable audio, files passed over); only when any was

recogs, errs and wer-summary only where references exist. Rates are corpus-level (errors
summed over all utterances, divided by the summed reference length:
``deepspeech_tt.evaluation.error_rates``, which training's dev and test scores count with too);
utterances without a reference are left out of the scores. A note on an utterance (such as
``too short to decode: 0.05 s``) follows its hypothesis in recogs as an ``<id>:\tnote=<note>``
line, so that the ``hyp=`` line stays the hypothesis alone. Every file is written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import jiwer

from deepspeech_tt.atomic import write_text
from deepspeech_tt.data.errors import Problem
from deepspeech_tt.data.validate import write_skipped as write_problems
from deepspeech_tt.evaluation.error_rates import Errors, char_errors, word_errors

__all__ = ["Errors", "align", "char_errors", "word_errors", "write_results", "write_skipped"]


def write_results(
    out: Path, name: str, ids: Sequence[str], references: Sequence[str],
    hypotheses: Sequence[str], notes: Mapping[str, str] | None = None,
) -> tuple[Errors, Errors] | None:  # fmt: skip
    """Write the result files of one decode; returns (word, char) errors, None without references.

    Args:
        out: the output directory.
        name: the decode's name, in every file name.
        ids: utterance ids.
        references: normalised references ("" where unknown).
        hypotheses: the decoded transcripts.
        notes: remarks on some utterances, by id, written into recogs.
    """
    lines = [f"{i} {h}".rstrip() for i, h in zip(ids, hypotheses, strict=True)]
    write_text(out / f"transcripts-{name}.txt", "\n".join(lines) + "\n")
    scored = [(i, r, h) for i, r, h in zip(ids, references, hypotheses, strict=True) if r.strip()]
    if not scored:
        return None
    words = word_errors([r for _, r, _ in scored], [h for _, _, h in scored])
    chars = char_errors([r for _, r, _ in scored], [h for _, _, h in scored])
    recogs = [_recog(i, r, h, (notes or {}).get(i)) for i, r, h in scored]
    write_text(out / f"recogs-{name}.txt", "\n".join(recogs) + "\n")
    alignments = [f"{i}:\t{align(r, h)}" for i, r, h in scored]
    write_text(
        out / f"errs-{name}.txt", _summary(words, chars) + "\n" + "\n".join(alignments) + "\n"
    )
    write_text(out / f"wer-summary-{name}.txt", _summary(words, chars))
    return words, chars


def _recog(utterance: str, reference: str, hypothesis: str, note: str | None) -> str:
    lines = [f"{utterance}:\tref={reference}", f"{utterance}:\thyp={hypothesis}"]
    return "\n".join(lines + ([f"{utterance}:\tnote={note}"] if note else []))


def write_skipped(out: Path, name: str, problems: Sequence[Problem]) -> Path | None:
    """List ``problems`` in ``skipped-<name>.tsv``; None, and no stale list left, when none."""
    path = out / f"skipped-{name}.tsv"
    if not problems:
        path.unlink(missing_ok=True)
        return None
    return write_problems(list(problems), path)


def align(reference: str, hypothesis: str) -> str:
    """One utterance's word alignment: ``THE (CAT->CAP) SAT (ON->*) (*->A)``."""
    if not reference.strip():
        return " ".join(f"(*->{w})" for w in hypothesis.split())
    out = jiwer.process_words(reference, hypothesis)
    ref, hyp = out.references[0], out.hypotheses[0]
    parts: list[str] = []
    for chunk in out.alignments[0]:
        r = ref[chunk.ref_start_idx : chunk.ref_end_idx]
        h = hyp[chunk.hyp_start_idx : chunk.hyp_end_idx]
        if chunk.type == "equal":
            parts.extend(r)
        elif chunk.type == "substitute":
            parts.extend(f"({a}->{b})" for a, b in zip(r, h, strict=True))
        elif chunk.type == "delete":
            parts.extend(f"({a}->*)" for a in r)
        else:
            parts.extend(f"(*->{b})" for b in h)
    return " ".join(parts)


def _summary(words: Errors, chars: Errors) -> str:
    return (
        f"%WER {100 * words.rate:.2f} [ {_counts(words)} ] over {words.reference_length} words\n"
        f"%CER {100 * chars.rate:.2f} [ {_counts(chars)} ] over {chars.reference_length} chars\n"
    )


def _counts(errors: Errors) -> str:
    return (f"{errors.insertions} ins, {errors.deletions} del, "
            f"{errors.substitutions} sub")  # fmt: skip
