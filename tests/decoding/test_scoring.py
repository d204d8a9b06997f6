"""WER, CER and the result files on strings whose errors are known."""

from __future__ import annotations

from pathlib import Path

from deepspeech_tt.decoding.scoring import align, char_errors, word_errors, write_results


def test_word_and_char_errors_of_known_strings() -> None:
    refs = ["THE CAT SAT ON THE MAT", "A DOG", ""]  # the empty reference is not scored
    hyps = ["THE CAP SAT THE MAT TODAY", "A DOG", "NOISE"]
    words = word_errors(refs, hyps)
    assert (words.substitutions, words.deletions, words.insertions) == (1, 1, 1)
    assert words.reference_length == 8 and words.rate == 3 / 8
    chars = char_errors(["CAT"], ["CAP"])
    assert chars.rate == 1 / 3


def test_alignment_marks_each_kind_of_error() -> None:
    assert align("THE CAT SAT ON THE MAT", "THE CAP SAT THE MAT TODAY") == (
        "THE (CAT->CAP) SAT (ON->*) THE MAT (*->TODAY)"
    )


def test_result_files(tmp_path: Path) -> None:
    errors = write_results(tmp_path, "test-greedy", ["u1", "u2"], ["A B C", "D"], ["A X C", "D"])
    assert errors is not None and errors[0].rate == 1 / 4
    assert (tmp_path / "transcripts-test-greedy.txt").read_text() == "u1 A X C\nu2 D\n"
    assert (tmp_path / "recogs-test-greedy.txt").read_text().splitlines()[:2] == [
        "u1:\tref=A B C", "u1:\thyp=A X C"]  # fmt: skip
    summary = (tmp_path / "wer-summary-test-greedy.txt").read_text()
    assert summary.startswith("%WER 25.00 [ 0 ins, 0 del, 1 sub ] over 4 words")
    assert "u1:\tA (B->X) C" in (tmp_path / "errs-test-greedy.txt").read_text()


def test_without_references_only_transcripts_are_written(tmp_path: Path) -> None:
    assert write_results(tmp_path, "clips-greedy", ["a"], [""], ["HELLO"]) is None
    assert [p.name for p in tmp_path.iterdir()] == ["transcripts-clips-greedy.txt"]
