"""A trained recogniser rebuilt from its checkpoint alone: features, model and tokenizer.

The checkpoint's saved config (merged over the schema's defaults, so older checkpoints still
load) rebuilds the feature extractor and the model; their weights and the feature statistics
come from the checkpoint's ``state_dict``, the tokenizer from its saved state. Files are read
by ``read_checkpoint``: local, ``weights_only=True``, digest and finiteness checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import Tensor

from deepspeech_tt.builders import build_model
from deepspeech_tt.builders.data import build_feature_extractor
from deepspeech_tt.checkpoints import (
    CHECKPOINT_KEY,
    CheckpointError,
    read_checkpoint,
    submodule_state,
)
from deepspeech_tt.config import config_from_checkpoint
from deepspeech_tt.data.features import FeatureExtractor
from deepspeech_tt.data.tokenizer import Tokenizer, TokenizerError, tokenizer_from_state
from deepspeech_tt.model import DeepSpeech2

__all__ = ["CheckpointError", "Recognizer", "load_recognizer"]


@dataclass
class Recognizer:
    """Audio in, CTC log-probabilities out; ``tokenizer`` turns token ids into text."""

    features: FeatureExtractor
    model: DeepSpeech2
    tokenizer: Tokenizer
    config: DictConfig  # the training config, schema defaults filled in
    path: Path  # the checkpoint

    @torch.no_grad()
    def log_probs(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Audio (B, S) at the features' sample rate -> log-probabilities (B, T, V), lengths."""
        device = next(self.model.parameters()).device
        features, frames = self.features(audio.to(device), lengths.to(device))
        return self.model(features, frames)


def load_recognizer(path: str | Path, device: str | torch.device = "cpu") -> Recognizer:
    """The recogniser a training checkpoint holds, in eval mode on ``device``.

    Raises:
        CheckpointError: the file is missing, unreadable, damaged, from another toolkit, or its
            weights do not fit the model its config describes.
    """
    path = Path(path)
    checkpoint = read_checkpoint(path)
    ours = checkpoint[CHECKPOINT_KEY]
    try:
        cfg = config_from_checkpoint(ours["config"])
        features = build_feature_extractor(cfg.features)
        features.load_state_dict(submodule_state(checkpoint, "features"))
        tokenizer = tokenizer_from_state(ours["tokenizer"])
        model = build_model(cfg, features.feature_dim, tokenizer.vocab_size)
        model.load_state_dict(submodule_state(checkpoint, "model"))
    except (KeyError, RuntimeError, ValueError, TokenizerError) as error:
        raise CheckpointError(f"{path}: cannot rebuild the recogniser it holds ({error})") from None
    features.to(device).eval()
    model.to(device).eval()
    return Recognizer(features=features, model=model, tokenizer=tokenizer, config=cfg, path=path)
