"""``compress.py`` and ``train.py init_from=``: a trained checkpoint into other formats."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from deepspeech_tt.checkpoints import CHECKPOINT_KEY, read_checkpoint, save_atomically
from deepspeech_tt.commands.compress import compress_command, compress_model, load_source
from deepspeech_tt.commands.compress import main as compress_main
from deepspeech_tt.commands.train import train
from deepspeech_tt.config import compose_config
from deepspeech_tt.config.validate import ConfigError
from deepspeech_tt.data.audio import read_audio
from deepspeech_tt.data.manifest import read_manifest
from deepspeech_tt.decoding.cli import main as decode_main
from deepspeech_tt.decoding.recognizer import load_recognizer
from deepspeech_tt.reporting.runs import find_runs
from deepspeech_tt.tensor import get_format
from tests.reliability.helpers import assert_one_line_error, run_python

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dense(best: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dense checkpoint of full-rank matrices: ``short_run``'s model made dense, its recurrent
    weights then perturbed (a TT-rank-16 model made dense would fit any TT of rank 16)."""
    path = tmp_path_factory.mktemp("dense") / "dense.ckpt"
    compress_command([f"checkpoint={best}", "rnn=dense", f"out={path}"])
    checkpoint = read_checkpoint(path)
    generator = torch.Generator().manual_seed(0)
    for key, value in checkpoint["state_dict"].items():
        if ".gru." in key and "weight" in key:
            value += 0.05 * value.abs().mean() * torch.randn(value.shape, generator=generator)
    save_atomically(checkpoint, path)
    return path


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def _decode(checkpoint: Path, out: Path) -> tuple[dict, list[str]]:
    assert decode_main(["print_transcripts=false", f"checkpoint={checkpoint}", "audio=test",
                        f"out={out}"]) == 0  # fmt: skip
    results = json.loads((out / "results-test-greedy.json").read_text())
    recogs = (out / "recogs-test-greedy.txt").read_text().splitlines()
    return results, [line for line in recogs if "\thyp=" in line]


def _full_tt_ranks(checkpoint: Path) -> str:
    """``rnn.layers=[...]``: every matrix of the checkpoint's model at its largest TT rank."""
    model = load_recognizer(checkpoint).model
    entries = []
    for layer in model.rnns:
        w_ih, w_hh = layer.rnn.direction_weights()[0].dense_weights()[:2]
        ranks = [list(get_format("tt").max_rank(*w.shape)) for w in (w_ih, w_hh)]
        entries.append(f"{{rank:{ranks[0]},hh_rank:{ranks[1]}}}".replace(" ", ""))
    return f"rnn.layers=[{','.join(entries)}]"


def test_full_rank_tt_of_a_dense_checkpoint_decodes_to_the_same_transcripts(
    dense: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tt-full.ckpt"
    compress_command([f"checkpoint={dense}", "rnn=tt", _full_tt_ranks(dense), f"out={out}"])
    stored = read_checkpoint(out)[CHECKPOINT_KEY]["provenance"]
    assert stored["max_error"] < 1e-5
    dense_results, dense_hyps = _decode(dense, tmp_path / "dense")
    tt_results, tt_hyps = _decode(out, tmp_path / "tt")
    assert tt_hyps == dense_hyps
    assert tt_results["wer"] == dense_results["wer"]
    assert tt_results["cer"] == dense_results["cer"]


def test_a_compressed_checkpoint_decodes_alike_from_the_file_and_in_memory(
    dense: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cp2.ckpt"
    before = _digest(dense)
    compress_command([f"checkpoint={dense}", "rnn=cp", "rank=2", f"out={out}"])
    table = capsys.readouterr().out
    assert "layer 1 backward" in table and "(" in table.splitlines()[-3]  # the totals line
    assert _digest(dense) == before  # the source is only read
    loaded = load_recognizer(out)
    source = load_source(dense)
    cfg = loaded.config
    in_memory, fits = compress_model(source, cfg)
    stored = read_checkpoint(out)[CHECKPOINT_KEY]["provenance"]
    assert stored["source"] == str(dense.resolve())
    assert stored["source_blake2b"] == before and stored["fine_tuned"] is False
    assert [f["error_hh"] for f in stored["fits"]] == [f.error_hh for f in fits]
    assert 0.05 < stored["max_error"] < 1.0  # rank 2 of a perturbed matrix is lossy
    row = read_manifest(Path(cfg.data.manifest_dir) / "test.jsonl")[0]
    audio = read_audio(row.audio).unsqueeze(0)
    lengths = torch.tensor([audio.shape[1]])
    with torch.no_grad():
        features, frames = loaded.features(audio, lengths)
        expected = in_memory.eval()(features, frames)[0]
    assert torch.equal(loaded.log_probs(audio, lengths)[0], expected)


def test_init_from_the_same_format_starts_from_exactly_its_weights(
    best: Path, training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    class FirstWeights(pl.Callback):
        def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.model = {k: v.clone() for k, v in module.model.state_dict().items()}
            self.features = {k: v.clone() for k, v in module.features.state_dict().items()}

    seen = FirstWeights()
    overrides = training_overrides(f"init_from={best}", "features.normalize=global",
                                   "trainer.max_steps=1", "trainer.limit_val_batches=0",
                                   "trainer.test_after_fit=false")  # fmt: skip
    train(compose_config(overrides), tmp_path, callbacks=[seen])
    source = read_checkpoint(best)["state_dict"]
    for key, value in seen.model.items():
        assert torch.equal(value, source[f"model.{key}"]), key
    for key, value in seen.features.items():
        assert torch.equal(value, source[f"features.{key}"]), key
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["init_from"]["source_blake2b"] == _digest(best)
    assert summary["init_from"]["fine_tuned"] is True
    assert summary["init_from"]["max_error"] == 0.0
    (run,) = find_runs([tmp_path])
    assert run.compressed and run.label.endswith("(compressed)")
    last = read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")[CHECKPOINT_KEY]
    assert last["provenance"]["source"] == str(best.resolve())


def test_init_from_into_another_format_logs_the_fit(
    dense: Path, training_overrides: Callable[..., list[str]], tmp_path: Path
) -> None:
    overrides = training_overrides(f"init_from={dense}", "features.normalize=global",
                                   "rnn=tucker", "rank=4", "trainer.max_steps=1",
                                   "trainer.limit_val_batches=0", "trainer.test_after_fit=false")
    train(compose_config(overrides), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    fits = summary["init_from"]["fits"]
    assert [(f["source"], f["target"]) for f in fits] == [("dense", "tucker r4")] * 4
    assert all(0 < f["error_ih"] < 1 and f["params_after"] < f["params_before"] for f in fits)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("model.hidden_size=48 rank=4", "model.hidden_size=64, this model model.hidden_size=48"),
        ("model.rnn_layers=3", "model.rnn_layers=2, this model model.rnn_layers=3"),
        ("rnn.rnn_type=lstm", "rnn.rnn_type=gru, this model rnn.rnn_type=lstm"),
        ("features.normalize=utterance", "features.normalize=global"),
        ("tokenizer=bpe", "tokenizer.kind=char, this model tokenizer.kind=bpe"),
    ],
)
def test_a_source_that_does_not_fit_is_named_with_both_values(
    best: Path, training_overrides: Callable[..., list[str]], override: str, named: str
) -> None:
    overrides = training_overrides(f"init_from={best}", "features.normalize=global",
                                   *override.split())  # fmt: skip
    with pytest.raises(ConfigError, match=named):
        train(compose_config(overrides), "/nonexistent/run")


def test_compress_py_refuses_bad_input_in_one_line_and_writes_nothing(
    best: Path, tmp_path: Path
) -> None:
    before = _digest(best)
    out = tmp_path / "new.ckpt"
    too_big = run_python("compress.py", f"checkpoint={best}", "rnn=tt", "rank=500", f"out={out}")
    assert_one_line_error(too_big, "TT bond rank", "at most", program="compress.py")
    assert not out.exists()
    out.write_bytes(b"keep me")
    exists = run_python("compress.py", f"checkpoint={best}", "rnn=cp", "rank=2", f"out={out}")
    assert_one_line_error(exists, "exists; give overwrite=true", program="compress.py")
    assert out.read_bytes() == b"keep me"
    itself = run_python("compress.py", f"checkpoint={best}", "rnn=cp", f"out={best}",
                        "overwrite=true")  # fmt: skip
    assert_one_line_error(itself, "is the source checkpoint", program="compress.py")
    other = run_python("compress.py", f"checkpoint={best}", "model.hidden_size=8", f"out={out}")
    assert_one_line_error(other, "unknown key 'model.hidden_size'", program="compress.py")
    missing = run_python("compress.py", f"checkpoint={tmp_path / 'none.ckpt'}", f"out={out}")
    assert_one_line_error(missing, "no such checkpoint file", program="compress.py")
    assert _digest(best) == before
    replaced = compress_main([f"checkpoint={best}", "rnn=cp", "rank=2", f"out={out}",
                              "overwrite=true"])  # fmt: skip
    assert replaced == 0 and load_recognizer(out).config.rnn.format == "cp"


def test_resume_and_init_from_together_are_refused(
    best: Path, training_overrides: Callable[..., list[str]]
) -> None:
    with pytest.raises(ConfigError, match="give resume= or init_from=, not both"):
        compose_config(training_overrides(f"init_from={best}", f"resume={best}"))
