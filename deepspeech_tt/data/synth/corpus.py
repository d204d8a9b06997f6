"""``generate_corpus``: plan, speak in worker processes, write the layouts, move into place."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from deepspeech_tt.data.synth import layout
from deepspeech_tt.data.synth.plan import SPLITS, SplitTarget, plan_tasks
from deepspeech_tt.data.synth.render import Recording, SpeakerTask, render_speaker
from deepspeech_tt.data.synth.sentences import TEXT_SOURCES, collect_sentences
from deepspeech_tt.data.text import normalize_transcript
from deepspeech_tt.errors import UserError

MARKER = "corpus.json"
"""Written last, inside the corpus: its presence means the corpus is complete."""

_FORMAT_VERSION = 1  # bump when the same settings would give different files


class CorpusError(UserError):
    """A corpus that cannot be generated as asked: names the argument or path and the problem."""


@dataclass(frozen=True)
class SplitSummary:
    utterances: int
    speakers: int
    seconds: float


@dataclass(frozen=True)
class CorpusSummary:
    root: Path  # absolute
    splits: dict[str, SplitSummary]  # "train", "dev", "test"
    lm_sentences: int  # lines of lm_text.txt

    @property
    def hours(self) -> float:
        return sum(split.seconds for split in self.splits.values()) / 3600

    @classmethod
    def from_json(cls, root: Path, row: Mapping) -> CorpusSummary:
        splits = {name: SplitSummary(**values) for name, values in row["splits"].items()}
        return cls(root=root, splits=splits, lm_sentences=int(row["lm_sentences"]))


def generate_corpus(
    out: str | Path,
    hours: float = 1.0,
    dev_minutes: float = 5.0,
    test_minutes: float = 5.0,
    seed: int = 0,
    workers: int = 2,
    utterances: Mapping[str, int] | None = None,
    sources: Sequence[str] = TEXT_SOURCES,
    progress: bool = True,
) -> CorpusSummary:
    """Generate the synthetic corpus under ``out`` (see the package docstring for the layout).

    A corpus already at ``out`` with the same settings is returned as it is; the corpus is
    built beside ``out`` and renamed into place, so ``out`` is either complete or absent.

    Args:
        out: the corpus directory; must not exist, be empty, or hold this same corpus.
        hours: training audio, in hours.
        dev_minutes: development audio, in minutes.
        test_minutes: test audio, in minutes.
        seed: seeds every choice; the same seed and environment give the same files.
        workers: processes that synthesise in parallel (the output does not depend on it).
        utterances: exact numbers of recordings per split (``{"train": 12, "dev": 4,
            "test": 4}``) instead of durations, for small test corpora.
        sources: where sentences come from (see ``sentences.TEXT_SOURCES``).
        progress: show a progress bar on standard error.

    Raises:
        CorpusError: a bad argument, an ``out`` that cannot be written or that holds
            something else.
    """
    targets = _targets(hours, dev_minutes, test_minutes, utterances)
    if workers < 1:
        raise CorpusError(f"workers must be at least 1, got {workers}")
    root = Path(out).absolute()
    settings = {"version": _FORMAT_VERSION, "seed": seed, "sources": list(sources)}
    settings["targets"] = {split: asdict(target) for split, target in targets.items()}
    existing = _existing_corpus(root, settings)
    if existing is not None:
        return existing
    partial = _make_partial_dir(root)
    try:
        summary = _build(partial, root, targets, settings, workers, progress)
        if root.exists():
            root.rmdir()  # empty, checked above
        os.replace(partial, root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return summary


def read_summary(root: str | Path) -> CorpusSummary | None:
    """The summary of the complete corpus at ``root``, or None where there is none."""
    root = Path(root).absolute()
    stored = _read_marker(root)
    return None if stored is None else CorpusSummary.from_json(root, stored["summary"])


def _read_marker(root: Path) -> dict | None:
    """The settings and summary of a complete corpus; None where the marker is missing or bad."""
    try:
        stored = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) and {"settings", "summary"} <= stored.keys() else None


def _targets(
    hours: float, dev_minutes: float, test_minutes: float, utterances: Mapping[str, int] | None
) -> dict[str, SplitTarget]:
    if utterances is not None:
        if set(utterances) != set(SPLITS) or min(utterances.values()) < 1:
            raise CorpusError(f"utterances needs a positive count for each of {SPLITS}")
        return {split: SplitTarget(count=int(utterances[split])) for split in SPLITS}
    for name, value in (
        ("hours", hours),
        ("dev_minutes", dev_minutes),
        ("test_minutes", test_minutes),
    ):
        if not value > 0:
            raise CorpusError(f"{name} must be positive, got {value}")
    seconds = {"train": hours * 3600, "dev": dev_minutes * 60, "test": test_minutes * 60}
    return {split: SplitTarget(seconds=float(seconds[split])) for split in SPLITS}


def _existing_corpus(root: Path, settings: dict) -> CorpusSummary | None:
    """The corpus already at ``root`` if it has these settings; raise if ``root`` is in use."""
    stored = _read_marker(root)
    if stored is not None:
        if stored["settings"] != settings:
            raise CorpusError(
                f"{root} holds a corpus generated with other settings ({stored['settings']}); "
                "remove it or choose another output directory"
            )
        return CorpusSummary.from_json(root, stored["summary"])
    if root.is_dir() and any(root.iterdir()):
        raise CorpusError(
            f"{root} exists and is not a complete corpus; remove it or choose another"
        )
    if root.exists() and not root.is_dir():
        raise CorpusError(f"{root} exists and is not a directory")
    return None


def _make_partial_dir(root: Path) -> Path:
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    except OSError as error:
        raise CorpusError(f"cannot write the corpus at {root}: {error.strerror or error}") from None


def _build(
    partial: Path,
    root: Path,
    targets: Mapping[str, SplitTarget],
    settings: dict,
    workers: int,
    progress: bool,
) -> CorpusSummary:
    try:
        sentences = collect_sentences(settings["sources"])
        tasks = plan_tasks(partial, targets, sentences, settings["seed"])
    except ValueError as error:  # an unknown source, too few sentences
        raise CorpusError(str(error)) from None
    recordings = _render_all(tasks, workers, progress)
    spoken = {recording.sentence for recording in recordings}
    lm_text = [s for s in sentences if s not in spoken]
    _write_layouts(partial, root, tasks, recordings, lm_text)
    summary = _summarize(root, tasks, recordings, len(lm_text))
    marker = {"settings": settings, "summary": json.loads(json.dumps(asdict(summary), default=str))}
    (partial / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return summary


def _render_all(tasks: Sequence[SpeakerTask], workers: int, progress: bool) -> list[Recording]:
    """Every speaker in a fresh process (eSpeak's state must not carry over), in parallel.

    Workers fork from a fork server, which never speaks, rather than from this process, which
    may have used eSpeak (or OpenMP) already; where there is none, they are spawned.
    """
    context = _process_context()
    count_mode = tasks[0].count is not None
    total = sum((task.count or 0) if count_mode else (task.seconds or 0.0) for task in tasks)
    unit = "utt" if count_mode else "s"
    recordings: list[Recording] = []
    with (
        context.Pool(workers, maxtasksperchild=1) as pool,
        tqdm(total=round(total), unit=unit, desc="speaking", disable=not progress) as bar,
    ):
        for speaker in pool.imap_unordered(render_speaker, tasks):
            recordings += speaker
            bar.update(len(speaker) if count_mode else round(sum(r.seconds for r in speaker)))
            bar.set_postfix(utterances=len(recordings), refresh=False)
    return sorted(recordings, key=lambda recording: recording.id)


def _process_context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([render_speaker.__module__])
    return context


def _write_layouts(
    partial: Path,
    root: Path,
    tasks: Sequence[SpeakerTask],
    recordings: Sequence[Recording],
    lm_text: Sequence[str],
) -> None:
    layout.write_transcripts(recordings)
    split_of = {task.speaker: task.split_dir.name for task in tasks}
    seconds: dict[int, float] = {}
    for recording in recordings:
        seconds[recording.speaker] = seconds.get(recording.speaker, 0.0) + recording.seconds
    voices = {task.speaker: task.voice for task in tasks}
    layout.write_speakers(partial / "SPEAKERS.TXT", voices, split_of, seconds)
    for split in SPLITS:
        rows = [r for r in recordings if split_of[r.speaker] == split]
        layout.write_kaldi_dir(partial / "kaldi" / split, rows, root)
    layout.write_lm_text(partial / "lm_text.txt", [normalize_transcript(s) for s in lm_text])


def _summarize(
    root: Path, tasks: Sequence[SpeakerTask], recordings: Sequence[Recording], lm_sentences: int
) -> CorpusSummary:
    split_of = {task.speaker: task.split_dir.name for task in tasks}
    splits = {}
    for split in SPLITS:
        rows = [r for r in recordings if split_of[r.speaker] == split]
        splits[split] = SplitSummary(
            utterances=len(rows),
            speakers=len({r.speaker for r in rows}),
            seconds=round(sum(r.seconds for r in rows), 3),
        )
    return CorpusSummary(root=root, splits=splits, lm_sentences=lm_sentences)
