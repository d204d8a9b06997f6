"""The corpus's text files: LibriSpeech transcripts and SPEAKERS.TXT, Kaldi data dirs, LM text.

Kaldi files are sorted by their first field in byte order (``LC_ALL=C sort``), as Kaldi's
``validate_data_dir.sh`` wants; utterance ids start with the speaker id, so utt2spk and
spk2utt sort consistently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from deepspeech_tt.data.synth.espeak import Voice
from deepspeech_tt.data.synth.render import Recording
from deepspeech_tt.data.synth.voices import variant_sex


def write_transcripts(recordings: Iterable[Recording]) -> None:
    """``<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` beside each chapter's audio."""
    chapters: dict[Path, list[str]] = defaultdict(list)
    for recording in recordings:
        name = f"{recording.speaker}-{recording.chapter}.trans.txt"
        chapters[recording.path.parent / name].append(f"{recording.id} {recording.transcript}")
    for path, lines in chapters.items():
        _write_lines(path, sorted(lines))


def write_speakers(
    path: Path, voices: Mapping[int, Voice], splits: Mapping[int, str], seconds: Mapping[int, float]
) -> None:
    """A SPEAKERS.TXT like LibriSpeech's, with the eSpeak identity in place of a name."""
    width = max((len(split) for split in splits.values()), default=5)
    lines = [
        "; Speakers of the synthetic corpus: each is an eSpeak NG voice identity.",
        f";ID  |SEX| {'SUBSET'.ljust(width)} |MINUTES| VOICE",
    ]
    for speaker in sorted(voices):
        voice = voices[speaker]
        lines.append(
            f"{speaker:<4d} | {variant_sex(voice.variant)} | {splits[speaker].ljust(width)} "
            f"| {seconds.get(speaker, 0.0) / 60:5.2f} | {voice.describe()}"
        )
    _write_lines(path, lines)


def write_kaldi_dir(data_dir: Path, recordings: Sequence[Recording], audio_root: Path) -> None:
    """``wav.scp``, ``text``, ``utt2spk`` and ``spk2utt`` for ``recordings``.

    Args:
        data_dir: the directory to write.
        recordings: the split's recordings.
        audio_root: the absolute directory that will hold the audio; ``wav.scp`` points there
            (the corpus is written elsewhere first and moved into place).
    """
    rows = sorted(recordings, key=lambda recording: recording.id)
    by_speaker: dict[str, list[str]] = defaultdict(list)
    for recording in rows:
        by_speaker[str(recording.speaker)].append(recording.id)
    _write_lines(data_dir / "wav.scp", [f"{r.id} {audio_root / _relative(r)}" for r in rows])
    _write_lines(data_dir / "text", [f"{r.id} {r.transcript}" for r in rows])
    _write_lines(data_dir / "utt2spk", [f"{r.id} {r.speaker}" for r in rows])
    _write_lines(
        data_dir / "spk2utt",
        [f"{speaker} {' '.join(by_speaker[speaker])}" for speaker in sorted(by_speaker)],
    )


def write_lm_text(path: Path, transcripts: Iterable[str]) -> None:
    """One normalised sentence a line, sorted."""
    _write_lines(path, sorted(transcripts))


def _relative(recording: Recording) -> Path:
    """The recording's path below its split directory's parent: ``<split>/<spk>/<chap>/x.flac``."""
    return recording.path.relative_to(recording.path.parents[3])


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
