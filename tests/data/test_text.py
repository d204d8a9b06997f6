import pytest

from deepspeech_tt.data.text import ALPHABET, normalize_transcript, unknown_characters


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello, world!", "HELLO WORLD"),
        ("Don't stop-believing.", "DON'T STOP BELIEVING"),
        ("  many   spaces\tand\nlines ", "MANY SPACES AND LINES"),
        ("'Quoted' words", "QUOTED WORDS"),
        ("Caf\u00e9 na\u00efve \u2018curly\u2019 it\u2019s", "CAFE NAIVE CURLY IT'S"),
        ("either/or", "EITHER OR"),
    ],
)
def test_normalize_matches_librispeech_conventions(raw: str, expected: str) -> None:
    assert normalize_transcript(raw) == expected


def test_normalized_text_uses_only_the_alphabet() -> None:
    text = normalize_transcript("Mixed: (punctuation); \"quotes\" & symbols #1 -- done?")
    assert not unknown_characters(text)
    assert set(text) <= set(ALPHABET)


def test_unknown_characters_names_the_offenders() -> None:
    assert unknown_characters("HELLO W\u00d8RLD 2") == {"\u00d8", "2"}
