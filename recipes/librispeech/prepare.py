"""Prepare LibriSpeech for ``python train.py recipe=librispeech_tt``: fetch or link, then check.

    # download (about 60 GB of archives for 960 h; where openslr.org is reachable)
    python recipes/librispeech/prepare.py --out data/LibriSpeech --download --lm
    # or point at a tree you already have (holding train-clean-100/, dev-clean/, ...)
    python recipes/librispeech/prepare.py --out data/LibriSpeech --existing /corpora/LibriSpeech

``--lm`` also fetches the corpus' published 3-gram (openslr.org/11, pruned at 1e-7, 34 MB) to
``<out>/lm/3gram.arpa``, where ``decode.py decoder=beam_lm`` looks by default.

Then every split is checked once and its manifest written to ``<out>/manifests/<split>.jsonl``,
with the record of how it was made (``deepspeech_tt.data.cache``), where ``train.py`` looks
for it (``data.manifest_dir``), so training starts without re-reading the audio. A split
already prepared from the same files is left as it is. The first bad file (corrupt audio, a
transcript with characters outside A-Z, apostrophe and space) stops preparation with one
line naming it; ``--skip-bad`` leaves such utterances out and lists them in
``manifests/<split>.skipped.tsv`` -- then train with ``data.skip_bad=true`` too, or
``train.py`` prepares those splits again and stops at the first bad file.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import shutil
import tarfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from deepspeech_tt.data.cache import cached_manifest
from deepspeech_tt.data.errors import DataError
from deepspeech_tt.errors import reported

URL = "https://www.openslr.org/resources/12/{part}.tar.gz"
LM_URL = "https://www.openslr.org/resources/11/3-gram.pruned.1e-7.arpa.gz"
TRAIN = ("train-clean-100", "train-clean-360", "train-other-500")
EVAL = ("dev-clean", "dev-other", "test-clean", "test-other")

log = logging.getLogger("prepare_librispeech")


def download(out: Path, parts: Sequence[str]) -> None:
    """Fetch and unpack each missing part into ``out`` (archives hold ``LibriSpeech/<part>``)."""
    out.mkdir(parents=True, exist_ok=True)
    for part in parts:
        if (out / part).is_dir():
            continue
        archive = out / f"{part}.tar.gz"
        if not archive.is_file():
            log.info("downloading %s", URL.format(part=part))
            partial = archive.with_suffix(".partial")
            urllib.request.urlretrieve(URL.format(part=part), partial)
            partial.rename(archive)
        log.info("unpacking %s", archive)
        with tarfile.open(archive) as tar:
            tar.extractall(out.parent / ".librispeech-unpack", filter="data")
        shutil.move(out.parent / ".librispeech-unpack" / "LibriSpeech" / part, out / part)
        archive.unlink()


def download_lm(out: Path) -> Path:
    """The published pruned 3-gram, unpacked to ``out/lm/3gram.arpa`` (kept if there)."""
    target = out / "lm" / "3gram.arpa"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    archive = target.with_suffix(".arpa.gz.partial")
    log.info("downloading %s", LM_URL)
    urllib.request.urlretrieve(LM_URL, archive)
    partial = target.with_suffix(".partial")
    with gzip.open(archive, "rb") as packed, partial.open("wb") as plain:
        shutil.copyfileobj(packed, plain)
    partial.rename(target)
    archive.unlink()
    return target


def link_existing(out: Path, existing: Path, parts: Sequence[str]) -> None:
    """Make ``out/<part>`` point at ``existing/<part>`` for each part (nothing is copied)."""
    out.mkdir(parents=True, exist_ok=True)
    for part in parts:
        source = existing / part
        if not source.is_dir():
            raise DataError(f"{source}: no such directory (--existing needs a tree with {part}/)")
        if not (out / part).exists():
            (out / part).symlink_to(source.resolve(), target_is_directory=True)


def prepare(out: Path, parts: Sequence[str], workers: int, skip_bad: bool = False) -> None:
    """Check each part's audio and transcripts and write its manifest (once per set of files)."""
    for part in parts:
        manifest = out / "manifests" / f"{part}.jsonl"
        rows = cached_manifest(out / part, manifest, format="librispeech", skip_bad=skip_bad,
                               workers=workers, progress=True)  # fmt: skip
        hours = sum(row.duration for row in rows) / 3600
        log.info("%s: %d utterances, %.1f h -> %s", part, len(rows), hours, manifest)


def main(argv: Sequence[str] | None = None) -> None:
    """The CLI; bad data or a missing tree is one line, ``prepare.py: error: ...``, status 2."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/LibriSpeech"))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--download", action="store_true", help="fetch from openslr.org")
    source.add_argument("--existing", type=Path, help="a LibriSpeech tree already on disk")
    parser.add_argument("--parts", nargs="+", default=[*TRAIN, *EVAL])
    parser.add_argument("--workers", type=int, default=8, help="threads decoding audio")
    parser.add_argument("--lm", action="store_true", help="also fetch the published 3-gram LM")
    parser.add_argument(
        "--skip-bad", action="store_true", help="leave bad utterances out (then train with it too)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with reported(parser.prog):
        if args.download:
            download(args.out, args.parts)
        else:
            link_existing(args.out, args.existing, args.parts)
        prepare(args.out, args.parts, args.workers, args.skip_bad)
        if args.lm:
            log.info("language model: %s", download_lm(args.out))


if __name__ == "__main__":
    main()
