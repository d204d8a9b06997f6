"""Untrusted and damaged checkpoints: refused with one line, never run, never decoded to nothing.

The drills: ``train.py resume=http://127.0.0.1:8765/evil.ckpt`` ran the file's pickle payload
(Lightning loads URLs with ``weights_only=False``); 64 flipped bytes inside the largest tensor
of a real checkpoint loaded without complaint and ``decode.py`` printed empty transcripts with
exit status 0; a missing, truncated or hostile ``resume=`` file gave 45-58 lines after the data
and model were built; a full disk while saving gave 93 lines ending in ``unexpected pos``.
"""

from __future__ import annotations

import errno
import functools
import http.server
import os
import pickle
import shutil
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from deepspeech_tt import checkpoints
from deepspeech_tt.checkpoints import (
    CheckpointError,
    DiskFullError,
    read_checkpoint,
    save_atomically,
)
from deepspeech_tt.decoding.cli import main as decode_main
from tests.reliability.helpers import assert_one_line_error, train_py


class _Payload:
    """Unpickling this creates ``marker``: what a hostile checkpoint would do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def _hostile(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {}, "payload": _Payload(marker)}, path)
    return path


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A web server on 127.0.0.1 (a free port) serving a directory; stops after the test."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _flip_inside_largest_tensor(source: Path, target: Path, count: int = 64) -> None:
    """Copy ``source`` to ``target`` with ``count`` bytes inverted in its largest tensor."""
    shutil.copyfile(source, target)
    with zipfile.ZipFile(target) as archive:
        largest = max((i for i in archive.infolist() if "/data/" in i.filename),
                      key=lambda i: i.file_size)  # fmt: skip
    with open(target, "r+b") as f:
        f.seek(largest.header_offset + 26)
        name_length, extra_length = (int.from_bytes(f.read(2), "little") for _ in range(2))
        start = largest.header_offset + 30 + name_length + extra_length + largest.file_size // 2
        f.seek(start)
        flipped = bytes(b ^ 0xFF for b in f.read(count))
        f.seek(start)
        f.write(flipped)


def test_a_url_resume_is_refused_and_its_payload_never_runs(
    training_overrides: Callable[..., list[str]], tmp_path: Path, http_server: tuple[str, Path]
) -> None:
    url, served = http_server
    marker = tmp_path / "pwned"
    _hostile(served / "evil.ckpt", marker)
    result = train_py(*training_overrides(f"hydra.run.dir={tmp_path / 'run'}"),
                      f"resume={url}/evil.ckpt")  # fmt: skip
    assert_one_line_error(result, f"resume={url}/evil.ckpt", "URL")
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="local files only"):
        read_checkpoint(f"{url}/evil.ckpt")
    assert decode_main([f"checkpoint={url}/evil.ckpt", "audio=test"]) == 2
    assert not marker.exists()


def test_a_hostile_local_file_is_refused_before_any_data(
    training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    evil = _hostile(tmp_path / "evil.ckpt", marker)
    result = train_py(*training_overrides(f"hydra.run.dir={tmp_path / 'run'}"), f"resume={evil}")
    assert_one_line_error(result, str(evil), "not a readable PyTorch checkpoint")
    assert not marker.exists()
    assert "training data:" not in result.stderr  # refused before the data was prepared
    assert decode_main([f"checkpoint={evil}", "audio=test"]) == 2
    assert not marker.exists()


@pytest.mark.slow
def test_flipped_bytes_inside_a_tensor_are_refused_by_decode_and_resume(
    best: Path, training_overrides: Callable[..., list[str]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    damaged = tmp_path / "damaged.ckpt"
    _flip_inside_largest_tensor(best, damaged)
    torch.load(damaged, weights_only=True)  # PyTorch itself notices nothing
    assert decode_main([f"checkpoint={damaged}", "audio=test", f"out={tmp_path}"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(damaged) in error and "damaged" in error
    assert not list(tmp_path.glob("recogs-*"))  # nothing decoded
    result = train_py(*training_overrides(f"hydra.run.dir={tmp_path / 'run'}"),
                      f"resume={damaged}")  # fmt: skip
    assert_one_line_error(result, str(damaged), "damaged")
    read_checkpoint(best)  # the original is intact and still loads


@pytest.mark.slow
def test_truncated_empty_and_foreign_resume_files_are_one_line(
    best: Path, training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(best.read_bytes()[: best.stat().st_size // 2])
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, foreign)
    for path, words in ((truncated, "not a readable"), (empty, "not a readable"),
                        (foreign, "not a deepspeech-tt checkpoint")):  # fmt: skip
        result = train_py(*training_overrides(f"hydra.run.dir={tmp_path / path.stem}"),
                          f"resume={path}")  # fmt: skip
        assert_one_line_error(result, str(path), words)


@pytest.mark.slow
def test_a_checkpoint_of_another_model_is_refused_naming_the_setting(
    best: Path, training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    overrides = training_overrides(f"hydra.run.dir={tmp_path}", "features.normalize=global")
    result = train_py(*overrides, "rnn=cp", f"resume={best}")
    assert_one_line_error(result, "rnn.format='tt'", "rnn.format='cp'")


def test_non_finite_weights_are_refused_naming_the_weight(tmp_path: Path) -> None:
    path = tmp_path / "nan.ckpt"
    weights = {"model.w": torch.tensor([1.0, float("nan")]), "model.b": torch.zeros(2)}
    save_atomically({"state_dict": weights, "deepspeech_tt": {}}, path)
    with pytest.raises(CheckpointError, match=r"weight 'model.w' holds NaN"):
        read_checkpoint(path)


def test_the_digest_survives_a_round_trip_and_catches_a_changed_value(tmp_path: Path) -> None:
    path = tmp_path / "a.ckpt"
    state = {"state_dict": {"w": torch.arange(6.0).reshape(2, 3), "n": torch.tensor(3)},
             "deepspeech_tt": {"rng": (3, (1, 2), None), "config": {"rank": [4, 8]}}}  # fmt: skip
    save_atomically(state, path)
    assert read_checkpoint(path)["state_dict"]["w"].sum() == 15
    changed = torch.load(path, weights_only=True)
    changed["deepspeech_tt"]["config"]["rank"] = [4, 9]
    torch.save(changed, path)  # the old digest, new contents
    with pytest.raises(CheckpointError, match="damaged"):
        read_checkpoint(path)


def test_a_full_disk_is_one_error_naming_the_file_and_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.ckpt"
    save_atomically({"step": 1, "w": torch.ones(1000)}, path)
    save = torch.save

    def disk_full(obj: object, f: Any, *args: object, **kwargs: object) -> None:
        class Full:
            def __init__(self) -> None:
                self.written = 0

            def write(self, data: bytes) -> int:
                self.written += len(data)
                if self.written > 1000:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return f.write(data)

            def flush(self) -> None:
                f.flush()

        save(obj, Full(), *args, **kwargs)

    monkeypatch.setattr(checkpoints.torch, "save", disk_full)
    with pytest.raises(DiskFullError, match=rf"{path}: no space left.*needs about [\d.]+ MiB"):
        save_atomically({"step": 2, "w": torch.zeros(20_000)}, path)
    monkeypatch.undo()
    assert read_checkpoint(path, ours=False)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_a_checkpoint_from_before_the_digest_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "deepspeech_tt": {"format_version": 1}}, path)
    assert read_checkpoint(path)["deepspeech_tt"]["format_version"] == 1


def test_the_payload_class_really_runs_when_unpickled(tmp_path: Path) -> None:
    # the drills above are only meaningful if the hostile file is hostile
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()
