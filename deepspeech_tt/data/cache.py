"""Manifests prepared once, and prepared again when what they were made from has changed.

Beside each cached ``<name>.jsonl`` (written by ``prepare_manifest``) is ``<name>.cache.json``,
the record of how it was made::

    {"version": 1, "format": "librispeech", "source": "/corpora/LibriSpeech/train-clean-100",
     "alphabet": "ABC...Z' ", "skip_bad": true, "skipped": 2, "skipped_list": ".../x.skipped.tsv",
     "files": 57078, "fingerprint": "<sha1 of each source file's path, size and mtime>"}

A manifest is reused only when its record matches the request: the same cache ``version``,
corpus format, source path and transcript check (``alphabet``), the same source files with
the same sizes and modification times (``FORMATS[format].files``: a LibriSpeech split's
transcripts and audio, a Kaldi dir's tables and the audio files ``wav.scp`` names, a JSONL
manifest and its audio), and rows that ``skip_bad`` allows. Preparing with ``skip_bad=False``
either writes every utterance or fails, so such a manifest serves both settings, as does a
``skip_bad=True`` one that skipped nothing; one that left utterances out is prepared again
for ``skip_bad=False``, which must stop at the first of them. Otherwise the manifest is
prepared again, with an INFO line saying why. Duration limits are not recorded: they never
shape the manifest (they are applied at batching). Inputs of ``wav.scp`` commands
(``sph2pipe ... |``) are not tracked; delete the record to force a new preparation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from deepspeech_tt.atomic import write_text
from deepspeech_tt.data.formats import corpus_format
from deepspeech_tt.data.manifest import Utterance, read_manifest
from deepspeech_tt.data.prepare import prepare_manifest
from deepspeech_tt.data.text import ALPHABET

log = logging.getLogger(__name__)

CACHE_VERSION = 1
"""Bumped whenever preparation changes what it writes; older records are then rebuilt."""


@dataclass(frozen=True)
class CacheRecord:
    """How a cached manifest was made (``<name>.cache.json``)."""

    version: int  # CACHE_VERSION when it was written
    format: str  # corpus format, a key of FORMATS
    source: str  # absolute path of the corpus source
    alphabet: str  # the characters transcripts were checked against
    skip_bad: bool  # whether bad utterances were left out rather than failing
    skipped: int  # how many were left out
    skipped_list: str  # the TSV listing them ("" without skip_bad)
    files: int  # source files fingerprinted
    fingerprint: str  # sha1 of every source file's path, size and modification time


def record_path(manifest: str | Path) -> Path:
    """Where the record of ``manifest`` is kept: ``<name>.cache.json`` beside it."""
    manifest = Path(manifest)
    return manifest.with_name(f"{manifest.stem}.cache.json")


def cached_manifest(
    source: str | Path,
    manifest: str | Path,
    *,
    format: str,
    skip_bad: bool = False,
    workers: int = 2,
    progress: bool = False,
) -> list[Utterance]:
    """The rows of ``manifest``, prepared from ``source`` unless its record still matches.

    Args:
        source: the corpus (a split directory, a Kaldi data dir or a JSONL manifest).
        manifest: the cached JSONL manifest, read or (re)written.
        format: the corpus format, a key of ``FORMATS``.
        skip_bad: leave unusable utterances out (listed beside the manifest) instead of failing.
        workers: threads decoding audio when preparing.
        progress: show a progress bar when preparing.

    Raises:
        DataError: the source cannot be read, or (without ``skip_bad``) holds an unusable
            utterance, named with its file and problem.
    """
    source, manifest = Path(os.path.abspath(source)), Path(manifest)
    files = corpus_format(format).files(source)
    wanted = _request(format, source, skip_bad, files)
    stale = _why_stale(manifest, wanted)
    if stale is None:
        _log_reused(manifest)
        return read_manifest(manifest)
    log.info("preparing %s -> %s: %s", source, manifest, stale)
    record_path(manifest).unlink(missing_ok=True)  # a failed preparation leaves no stale record
    prepared = prepare_manifest(source, manifest, format=format, skip_bad=skip_bad,
                                workers=workers, progress=progress)  # fmt: skip
    listed = str(prepared.skipped_path) if prepared.skipped_path else ""
    record = CacheRecord(**{**asdict(wanted), "skipped": len(prepared.skipped),
                            "skipped_list": listed})  # fmt: skip
    _write_record(record, record_path(manifest))
    return prepared.rows


def fingerprint(files: list[Path]) -> str:
    """A sha1 of each file's path, size and modification time (or absence), in order."""
    digest = hashlib.sha1()
    for path in files:
        try:
            stat = path.stat()
            digest.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}\tmissing\n".encode())
    return digest.hexdigest()


def _request(format: str, source: Path, skip_bad: bool, files: list[Path]) -> CacheRecord:
    """The record a manifest made now would get (before knowing what it skips)."""
    return CacheRecord(
        version=CACHE_VERSION, format=format, source=str(source), alphabet=ALPHABET,
        skip_bad=skip_bad, skipped=0, skipped_list="", files=len(files),
        fingerprint=fingerprint(sorted(files)),
    )  # fmt: skip


def _why_stale(manifest: Path, wanted: CacheRecord) -> str | None:
    """Why ``manifest`` cannot serve ``wanted``, or None when it can."""
    if not manifest.is_file():
        return "no manifest yet"
    had = _read_record(record_path(manifest))
    if had is None:
        return f"no readable record of how it was made ({record_path(manifest).name})"
    if had.version != wanted.version:
        return f"made by cache version {had.version}, this is version {wanted.version}"
    for key in ("format", "source", "alphabet"):
        if getattr(had, key) != getattr(wanted, key):
            return f"{key} was {getattr(had, key)!r}, now {getattr(wanted, key)!r}"
    if had.fingerprint != wanted.fingerprint:
        return f"the source files changed ({had.files} files then, {wanted.files} now)"
    if had.skipped and not wanted.skip_bad:
        return f"made with skip_bad=true, which left {had.skipped} utterances out; now false"
    return None


def _read_record(path: Path) -> CacheRecord | None:
    try:
        return CacheRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):  # missing, not JSON, or other keys
        return None


def _write_record(record: CacheRecord, path: Path) -> None:
    write_text(path, json.dumps(asdict(record), indent=1) + "\n")


def _log_reused(manifest: Path) -> None:
    record = _read_record(record_path(manifest))
    if record is not None and record.skipped:
        log.warning("%s leaves out %d bad utterances (skip_bad); list in %s", manifest,
                    record.skipped, record.skipped_list)  # fmt: skip
