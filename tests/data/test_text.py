import pytest

from deepspeech_tt.data.text import (
    ALPHABET,
    describe_characters,
    normalize_transcript,
    unknown_characters,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello, world!", "HELLO WORLD"),
        ("Don't stop-believing.", "DON'T STOP BELIEVING"),
        ("  many   spaces\tand\nlines ", "MANY SPACES AND LINES"),
        ("'Quoted' words", "QUOTED WORDS"),
        ("\u2018curly\u2019 it\u2019s", "CURLY IT'S"),
        ("either/or", "EITHER OR"),
        ("\u201cWell\u2026\u201d (she said) [quietly] \u00bfy?", "WELL SHE SAID QUIETLY Y"),
    ],
)
def test_normalize_matches_librispeech_conventions(raw: str, expected: str) -> None:
    assert normalize_transcript(raw) == expected


def test_conventional_punctuation_leaves_only_the_alphabet() -> None:
    text = normalize_transcript("Mixed: (punctuation); \"quotes\" -- done? Yes! [and] {so} on...")
    assert text == "MIXED PUNCTUATION QUOTES DONE YES AND SO ON"
    assert not unknown_characters(text)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("The 3rd caf\u00e9 has 42 \u00fcber seats", "THE 3RD CAF\u00c9 HAS 42 \u00dcBER SEATS"),
        ("cafe\u0301", "CAF\u00c9"),  # composed, so the error names one character
        ("stra\u00dfe", "STRA\u00dfE"),  # upper case of \u00df is two letters: kept, not folded
        ("rock & roll 100% #1", "ROCK & ROLL 100% #1"),
    ],
)
def test_words_outside_the_alphabet_are_kept_for_the_check(raw: str, kept: str) -> None:
    """Digits, symbols and foreign letters say something: never dropped or transliterated."""
    assert normalize_transcript(raw) == kept
    assert unknown_characters(kept)


def test_unknown_characters_names_the_offenders() -> None:
    assert unknown_characters("HELLO W\u00d8RLD 2") == {"\u00d8", "2"}
    assert not unknown_characters(ALPHABET)


def test_describe_characters_gives_code_points() -> None:
    assert describe_characters("3\u00c93") == "'3' (U+0033), '\u00c9' (U+00C9)"
