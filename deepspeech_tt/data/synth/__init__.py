"""The embedded speech corpus: real English sentences spoken by eSpeak NG voices.

No corpus can be downloaded on our machines, so the toolkit makes one in the layouts real
corpora use, and reads it through the same readers::

    python -m deepspeech_tt.data.synth --out data/tiny --hours 1   # about 1 h train, 5 + 5 min

Layout of ``<out>``::

    train/ dev/ test/                    LibriSpeech tree, 16 kHz mono 16-bit FLAC
        <spk>/<chap>/<spk>-<chap>-<utt:04d>.flac
        <spk>/<chap>/<spk>-<chap>.trans.txt    "<utt-id> <TRANSCRIPT>" lines, sorted
    kaldi/<split>/wav.scp, text, utt2spk, spk2utt   the same audio as a Kaldi data dir
                                         (wav.scp: "<utt-id> <absolute flac path>")
    SPEAKERS.TXT                         speaker id, sex, split, minutes, eSpeak identity
    lm_text.txt                          normalised sentences for a language model, one a line
    corpus.json                          settings and summary; written last (complete marker)

Text. Sentences come from English prose installed with Python: the reference documentation
in ``pydoc_data.topics`` and the docstrings of the standard library, numpy and torch (about
17 k distinct sentences with torch 2.13 and numpy 2.4). A sentence is kept when eSpeak will
say exactly what its transcript holds: 4 to 25 words, a capital first letter and a final
``.``, ``!`` or ``?``; only ASCII letters, spaces and ``. , ; : ! ? ' " -`` (so no digits,
underscores, brackets, ``=``, slashes or URLs); and every word a plain word: no dots or
colons inside (``e.g``, ``os.path``), no capitals after the first letter (acronyms, which
eSpeak spells out, and ``CamelCase``), a vowel somewhere (``str``), no single letters but
``a`` and ``I``, no leading or trailing hyphen, not ``etc`` and similar abbreviations.
eSpeak hears the sentence with its punctuation (for prosody); the transcript is
``normalize_transcript(sentence)``. Test sentences, dev sentences and training sentences are
disjoint; ``lm_text.txt`` holds every pool sentence that no recording says.

Voices. A speaker is an eSpeak English accent (8: British, American, New York, Caribbean,
Scottish, Lancaster, West Midlands, RP), a voice variant (51 natural-sounding ones), a base
pitch, a pitch range and a rate. Dev and test variants are held out of training (test
measures unseen voices), and every dev and test accent is also a training accent, spoken
by several identities (given enough training speakers: one per 90 s of training audio). Each
recording gets a random level (-32 to -18 dBFS RMS), 50 to 300 ms of silence either side and
white noise at 25 to 40 dB SNR; eSpeak's 22.05 kHz output is resampled with ``audio.resample``.

Determinism. The same seed, sources and installed packages give the same transcripts and
the same samples, whatever ``--workers``: each speaker is synthesised in a fresh process,
because eSpeak carries waveform state from one sentence to the next.
"""

from deepspeech_tt.data.synth.corpus import (
    MARKER,
    CorpusError,
    CorpusSummary,
    SplitSummary,
    generate_corpus,
    read_summary,
)
from deepspeech_tt.data.synth.sentences import TEXT_SOURCES, collect_sentences, is_speakable

__all__ = [
    "MARKER",
    "TEXT_SOURCES",
    "CorpusError",
    "CorpusSummary",
    "SplitSummary",
    "collect_sentences",
    "generate_corpus",
    "is_speakable",
    "read_summary",
]
